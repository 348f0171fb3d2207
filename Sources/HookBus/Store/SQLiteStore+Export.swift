package import Foundation
import GRDB

// The SQLite store's rows as they are, for `hookbus store copy` (HookBusPostgres `StoreCopy`):
// pages in key order, so that a copy can stop anywhere and go on after the last row it wrote,
// and nothing interpreted (a running event stays `running`: what that means in the other store
// is the copy's decision, not the reader's).

/// An `events` row.
package struct ExportedEvent: Sendable {
    package let seq: Int64
    package let id: String
    package let hook: String
    package let sourceKind: String
    package let sourceName: String?
    package let replayOf: String?
    package let origin: String?
    package let trigger: String?
    package let receivedAt: Double
    package let record: String
    package let idempotencyKey: String?
    package let state: String
    package let attempt: Int64
    package let completedAt: Double?
    package let subject: String?
}

/// A `runs` row, its output as the bytes stored (a script may print a NUL, which GRDB's text
/// decoding would cut at).
package struct ExportedRun: Sendable {
    package let id: Int64
    package let eventID: String
    package let attempt: Int64
    package let integration: String
    package let trigger: String
    package let outcome: String
    package let exitCode: Int64?
    package let signal: Int64?
    package let startedAt: Double
    package let endedAt: Double?
    package let stdout: Data?
    package let stderr: Data?
    package let stdoutDropped: Int64
    package let stderrDropped: Int64
    package let reason: String?
    package let invocation: String?
    package let previousRun: Int64?
    package let results: String?
    package let requestedBy: String?
}

/// A `deferred_runs` row (`DeferredRows`).
package struct ExportedDeferredRun: Sendable {
    package let id: Int64
    package let eventID: String
    package let integration: String
    package let trigger: String
    package let holdKey: String?
    package let kind: String
    package let reason: String
    package let dueAt: Double
    package let attempt: Int64
    package let tries: Int64
    package let previousRun: Int64?
    package let requestedBy: String?
    package let claimed: Bool
    /// The run started for a claimed row (`running` while the row is claimed).
    package let runID: Int64?
}

/// A `daemon_cursors` row.
package struct ExportedDaemonCursor: Sendable {
    package let daemon: String
    package let value: String
    package let updatedAt: Double
}

/// A `schedules` row, `fields` as the JSON text stored.
package struct ExportedSchedule: Sendable {
    package let id: String
    package let integration: String
    package let action: String
    package let fields: String
    package let state: String
    package let endedReason: String?
    package let startedAt: Double
    package let lastRunAt: Double?
    package let nextRunAt: Double
    package let lastResult: String?
    package let runs: Int64
    package let endEvent: String?
    package let startedBy: String?
}

/// How many rows each table holds.
package struct ExportCounts: Sendable, Equatable {
    package var events = 0
    package var runs = 0
    package var deferredRuns = 0
    package var daemonCursors = 0
    package var schedules = 0
}

extension SQLiteStore {
    /// Rows per table, read in one snapshot.
    package func exportCounts() async throws -> ExportCounts {
        try await writer.read { db in
            let row = try Row.fetchOne(db, sql: """
                SELECT (SELECT COUNT(*) FROM events), (SELECT COUNT(*) FROM runs), (SELECT COUNT(*) FROM deferred_runs),
                       (SELECT COUNT(*) FROM daemon_cursors), (SELECT COUNT(*) FROM schedules)
                """)!
            return ExportCounts(events: row[0], runs: row[1], deferredRuns: row[2], daemonCursors: row[3], schedules: row[4])
        }
    }

    /// Events' ids, states and attempts in `seq` order after `seq`: what a copy compares the
    /// events it copied before with.
    package func exportEventStates(after seq: Int64, limit: Int) async throws -> [(seq: Int64, id: String, state: String, attempt: Int64)] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT seq, id, state, attempt FROM events WHERE seq > ? ORDER BY seq LIMIT ?", arguments: [seq, limit])
                .map { ($0[0], $0[1], $0[2], $0[3]) }
        }
    }

    /// Up to `limit` events after `seq`, in `seq` order.
    package func exportEvents(after seq: Int64, limit: Int) async throws -> [ExportedEvent] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: """
                SELECT seq, id, hook, source_kind, source_name, replay_of, origin, trigger, received_at, record, idempotency_key, state, attempt,
                       completed_at, subject
                FROM events WHERE seq > ? ORDER BY seq LIMIT ?
                """, arguments: [seq, limit]).map { row in
                ExportedEvent(seq: row[0], id: row[1], hook: row[2], sourceKind: row[3], sourceName: row[4], replayOf: row[5], origin: row[6],
                              trigger: row[7], receivedAt: row[8], record: row[9], idempotencyKey: row[10], state: row[11], attempt: row[12],
                              completedAt: row[13], subject: row[14])
            }
        }
    }

    /// Runs after `id` in id order: up to `limit` rows, fewer when their output passes
    /// `outputBudget` bytes (a page is held in memory and sent in one statement; at least one
    /// row, whatever its size).
    package func exportRuns(after id: Int64, limit: Int, outputBudget: Int) async throws -> [ExportedRun] {
        try await writer.read { db in
            let rows = try Row.fetchCursor(db, sql: """
                SELECT id, event_id, attempt, integration, trigger, outcome, exit_code, signal, started_at, ended_at,
                       CAST(stdout AS BLOB), CAST(stderr AS BLOB), stdout_dropped, stderr_dropped, reason, invocation, previous_run, results, requested_by
                FROM runs WHERE id > ? ORDER BY id LIMIT ?
                """, arguments: [id, limit])
            var page: [ExportedRun] = []
            var bytes = 0
            while bytes < outputBudget, let row = try rows.next() {
                let run = ExportedRun(
                    id: row[0], eventID: row[1], attempt: row[2], integration: row[3], trigger: row[4], outcome: row[5], exitCode: row[6], signal: row[7],
                    startedAt: row[8], endedAt: row[9], stdout: row[10], stderr: row[11], stdoutDropped: row[12], stderrDropped: row[13], reason: row[14],
                    invocation: row[15], previousRun: row[16], results: row[17], requestedBy: row[18])
                bytes += (run.stdout?.count ?? 0) + (run.stderr?.count ?? 0)
                page.append(run)
            }
            return page
        }
    }

    /// Up to `limit` deferred runs after `id`, in id order.
    package func exportDeferredRuns(after id: Int64, limit: Int) async throws -> [ExportedDeferredRun] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: """
                SELECT id, event_id, integration, trigger, hold_key, kind, reason, due_at, attempt, tries, previous_run, requested_by, claimed, run_id
                FROM deferred_runs WHERE id > ? ORDER BY id LIMIT ?
                """, arguments: [id, limit]).map { row in
                ExportedDeferredRun(id: row[0], eventID: row[1], integration: row[2], trigger: row[3], holdKey: row[4], kind: row[5], reason: row[6],
                                    dueAt: row[7], attempt: row[8], tries: row[9], previousRun: row[10], requestedBy: row[11],
                                    claimed: (row[12] as Int64) != 0, runID: row[13])
            }
        }
    }

    /// Every daemon's cursor.
    package func exportDaemonCursors() async throws -> [ExportedDaemonCursor] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT daemon, value, updated_at FROM daemon_cursors ORDER BY daemon").map {
                ExportedDaemonCursor(daemon: $0[0], value: $0[1], updatedAt: $0[2])
            }
        }
    }

    /// Every schedule, ended ones included.
    package func exportSchedules() async throws -> [ExportedSchedule] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: """
                SELECT id, integration, action, fields, state, ended_reason, started_at, last_run_at, next_run_at, last_result, runs, end_event, started_by
                FROM schedules ORDER BY id
                """).map { row in
                ExportedSchedule(id: row[0], integration: row[1], action: row[2], fields: row[3], state: row[4], endedReason: row[5], startedAt: row[6],
                                 lastRunAt: row[7], nextRunAt: row[8], lastResult: row[9], runs: row[10], endEvent: row[11], startedBy: row[12])
            }
        }
    }

    /// The pid of another process that has the store at `path` open (a server, a `hookbus fire`),
    /// or nil. Every open store holds a run-id salt, a lock on a byte of `path-salts`
    /// (`SaltClaim`), so asking the kernel for a conflicting lock on those bytes finds it
    /// whoever and wherever it is. Ask before opening the store here: this process's own salt is
    /// not reported, and closing the file this opens would drop it (POSIX locks are per process).
    package static func processUsingStore(at path: String) -> Int32? {
        let descriptor = open(path + "-salts", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }  // no salts file: never opened by this version
        defer { close(descriptor) }
        var lock = flock()
        lock.l_type = Int16(F_WRLCK)
        lock.l_whence = Int16(SEEK_SET)
        lock.l_start = 0
        lock.l_len = 64
        guard fcntl(descriptor, F_GETLK, &lock) == 0, lock.l_type != Int16(F_UNLCK) else { return nil }
        return lock.l_pid
    }
}
