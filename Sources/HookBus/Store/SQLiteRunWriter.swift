import Foundation
import GRDB

/// The SQLite store's writes of audit records (`RunRecorder`): one transaction per batch,
/// committed with `synchronous=NORMAL` (see `SQLiteStore` for why that is enough for runs).
struct SQLiteRunWriter: RunRecordWriter {
    let writer: DatabasePool

    func write(_ operations: [RunRecorder.Operation]) async throws {
        try await writer.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            try db.inTransaction {
                for operation in operations { try Self.apply(operation, db) }
                return .commit
            }
        }
    }

    func isPermanent(_ error: any Error) -> Bool {
        guard let error = error as? DatabaseError else { return false }
        return [.SQLITE_CONSTRAINT_FOREIGNKEY, .SQLITE_CONSTRAINT_PRIMARYKEY, .SQLITE_CONSTRAINT_UNIQUE, .SQLITE_CONSTRAINT_NOTNULL].contains(error.extendedResultCode)
    }

    private static func apply(_ operation: RunRecorder.Operation, _ db: Database) throws {
        switch operation {
        case let .completed(id, eventID, attempt, integration, trigger, invocation, previousRun, requestedBy, result, keepOutput, deferred):
            try db.cachedStatement(sql: """
                INSERT INTO runs (id, event_id, attempt, integration, trigger, outcome, exit_code, signal, started_at, ended_at,
                    stdout, stderr, stdout_dropped, stderr_dropped, reason, invocation, previous_run, results, requested_by)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """).run([.integer(id), .text(eventID), .int(attempt), .text(integration), .text(trigger), .text(result.outcome.rawValue),
                          .int(result.exitCode.map(Int.init)), .int(result.signal.map(Int.init)), .real(result.startedAt.timeIntervalSince1970),
                          .real(result.endedAt.timeIntervalSince1970), .text(keepOutput ? result.stdout : nil), .text(keepOutput ? result.stderr : nil),
                          .int(result.stdoutDropped), .int(result.stderrDropped), .text(result.reason), .text(invocation), .integer(previousRun),
                          .text(result.results?.jsonText), .text(requestedBy)], in: db)
            if let deferred { try DeferredRows.apply(deferred, db) }
        case let .started(id, eventID, attempt, integration, trigger, invocation, previousRun, requestedBy, at, deferredRow):
            try db.cachedStatement(sql: """
                INSERT INTO runs (id, event_id, attempt, integration, trigger, outcome, started_at, invocation, previous_run, requested_by)
                VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?)
                """).run([.integer(id), .text(eventID), .int(attempt), .text(integration), .text(trigger), .real(at), .text(invocation), .integer(previousRun), .text(requestedBy)], in: db)
            if let deferredRow {
                try db.cachedStatement(sql: "UPDATE deferred_runs SET run_id = ? WHERE id = ?").execute(arguments: [id, deferredRow])
            }
        case let .ended(id, result, keepOutput, deferred):
            try db.cachedStatement(sql: """
                UPDATE runs SET outcome = ?, exit_code = ?, signal = ?, started_at = ?, ended_at = ?, stdout = ?, stderr = ?,
                    stdout_dropped = ?, stderr_dropped = ?, reason = ?, results = ? WHERE id = ?
                """).run([.text(result.outcome.rawValue), .int(result.exitCode.map(Int.init)), .int(result.signal.map(Int.init)),
                          .real(result.startedAt.timeIntervalSince1970), .real(result.endedAt.timeIntervalSince1970),
                          .text(keepOutput ? result.stdout : nil), .text(keepOutput ? result.stderr : nil), .int(result.stdoutDropped),
                          .int(result.stderrDropped), .text(result.reason), .text(result.results?.jsonText), .integer(id)], in: db)
            if let deferred { try DeferredRows.apply(deferred, db) }
        case let .skipped(id, eventID, attempt, integration, trigger, reason, at):
            try db.cachedStatement(sql: """
                INSERT INTO runs (id, event_id, attempt, integration, trigger, outcome, started_at, ended_at, reason)
                VALUES (?, ?, ?, ?, ?, 'skipped', ?, ?, ?)
                """).run([.integer(id), .text(eventID), .int(attempt), .text(integration), .text(trigger), .real(at), .real(at), .text(reason)], in: db)
        case let .eventDone(eventID, at):
            try DeferredRows.eventDone(eventID, at: at, db)
        case let .deferred(change):
            try DeferredRows.apply(change, db)
        }
    }
}
