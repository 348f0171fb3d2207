import Foundation
import GRDB
import Synchronization

/// Group commit for the audit trail: run starts, ends, skips and event completions are queued
/// and written in one transaction per batch, in queue order. Starting a run never waits for the
/// disk; completing an event waits until everything queued before it is committed.
///
/// A run's start row may therefore still be in memory when the process crashes. On restart such
/// a run has no row, so its trigger simply runs again (at-least-once); a start that did reach the
/// disk is recorded `interrupted` and repeated with a link to it.
actor RunRecorder {
    enum Operation: Sendable {
        case started(id: Int64, eventID: String, attempt: Int, integration: String, trigger: String, invocation: String?, previousRun: Int64?, requestedBy: String?, at: Double)
        case ended(id: Int64, result: RunResult, keepOutput: Bool)
        case skipped(id: Int64, eventID: String, attempt: Int, integration: String, trigger: String, reason: String, at: Double)
        case eventDone(eventID: String, at: Double)
        /// A start and its end, merged within one batch.
        case completed(id: Int64, eventID: String, attempt: Int, integration: String, trigger: String, invocation: String?, previousRun: Int64?, requestedBy: String?,
                       result: RunResult, keepOutput: Bool)
    }

    private let writer: DatabasePool
    private var queue: [Operation] = []
    private var waiters: [(index: Int, continuation: CheckedContinuation<Void, any Error>)] = []
    private var flushing = false
    private var enqueued = 0

    /// How long a batch waits for company before it is written. Runs end a few hundred times a
    /// second at most; writing each start and end in its own transaction costs a trivial run
    /// about a quarter of its CPU (a thread wake-up and a WAL commit each), so operations wait
    /// this long to share one. The audit trail lags by as much, nothing more.
    static let batchWindow = Duration.milliseconds(10)
    static let fullBatch = 256

    init(writer: DatabasePool) {
        self.writer = writer
    }

    func enqueue(_ operation: Operation) {
        queue.append(operation)
        enqueued += 1
        startFlushing()
    }

    /// Enqueues and returns once it (and everything before it) is committed.
    func enqueueAndWait(_ operation: Operation) async throws {
        enqueue(operation)
        try await waitForCommit()
    }

    /// Returns once everything queued so far is committed.
    func waitForCommit() async throws {
        guard enqueued > 0, !queue.isEmpty || flushing else { return }
        let mark = enqueued
        try await withCheckedThrowingContinuation { continuation in
            waiters.append((mark, continuation))
            startFlushing()
        }
    }

    private func startFlushing() {
        guard !flushing else { return }
        flushing = true
        Task { await self.flush() }
    }

    private func flush() async {
        var committed = enqueued - queue.count
        while !queue.isEmpty {
            if queue.count < Self.fullBatch {
                try? await Task.sleep(for: Self.batchWindow)
            }
            let batch = queue
            queue.removeAll(keepingCapacity: true)
            var failure: (any Error)?
            do {
                try await writer.writeWithoutTransaction { db in
                    try db.execute(sql: "PRAGMA synchronous = NORMAL")
                    try db.inTransaction {
                        for operation in Self.merged(batch) { try Self.apply(operation, db) }
                        return .commit
                    }
                }
            } catch {
                failure = error
            }
            committed += batch.count
            let done = waiters.filter { $0.index <= committed }
            waiters.removeAll { $0.index <= committed }
            for waiter in done {
                if let failure { waiter.continuation.resume(throwing: failure) } else { waiter.continuation.resume() }
            }
        }
        flushing = false
    }

    /// A run that started and ended within one batch (most runs of a trivial trigger) is written
    /// as one complete row instead of a row and an update: half the index work per run.
    static func merged(_ batch: [Operation]) -> [Operation] {
        var ends: [Int64: (result: RunResult, keepOutput: Bool)] = [:]
        var starts: Set<Int64> = []
        for operation in batch {
            switch operation {
            case let .started(id, _, _, _, _, _, _, _, _): starts.insert(id)
            case let .ended(id, result, keepOutput) where starts.contains(id): ends[id] = (result, keepOutput)
            default: break
            }
        }
        guard !ends.isEmpty else { return batch }
        return batch.compactMap { operation in
            switch operation {
            case let .started(id, eventID, attempt, integration, trigger, invocation, previousRun, requestedBy, _):
                guard let end = ends[id] else { return operation }
                return .completed(id: id, eventID: eventID, attempt: attempt, integration: integration, trigger: trigger,
                                  invocation: invocation, previousRun: previousRun, requestedBy: requestedBy, result: end.result, keepOutput: end.keepOutput)
            case let .ended(id, _, _) where ends[id] != nil:
                return nil
            default:
                return operation
            }
        }
    }

    private static func apply(_ operation: Operation, _ db: Database) throws {
        switch operation {
        case let .completed(id, eventID, attempt, integration, trigger, invocation, previousRun, requestedBy, result, keepOutput):
            try db.cachedStatement(sql: """
                INSERT INTO runs (id, event_id, attempt, integration, trigger, outcome, exit_code, signal, started_at, ended_at,
                    stdout, stderr, stdout_dropped, stderr_dropped, reason, invocation, previous_run, results, requested_by)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """).run([.integer(id), .text(eventID), .int(attempt), .text(integration), .text(trigger), .text(result.outcome.rawValue),
                          .int(result.exitCode.map(Int.init)), .int(result.signal.map(Int.init)), .real(result.startedAt.timeIntervalSince1970),
                          .real(result.endedAt.timeIntervalSince1970), .text(keepOutput ? result.stdout : nil), .text(keepOutput ? result.stderr : nil),
                          .int(result.stdoutDropped), .int(result.stderrDropped), .text(result.reason), .text(invocation), .integer(previousRun),
                          .text(result.results?.jsonText), .text(requestedBy)], in: db)
        case let .started(id, eventID, attempt, integration, trigger, invocation, previousRun, requestedBy, at):
            try db.cachedStatement(sql: """
                INSERT INTO runs (id, event_id, attempt, integration, trigger, outcome, started_at, invocation, previous_run, requested_by)
                VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?)
                """).run([.integer(id), .text(eventID), .int(attempt), .text(integration), .text(trigger), .real(at), .text(invocation), .integer(previousRun), .text(requestedBy)], in: db)
        case let .ended(id, result, keepOutput):
            try db.cachedStatement(sql: """
                UPDATE runs SET outcome = ?, exit_code = ?, signal = ?, started_at = ?, ended_at = ?, stdout = ?, stderr = ?,
                    stdout_dropped = ?, stderr_dropped = ?, reason = ?, results = ? WHERE id = ?
                """).run([.text(result.outcome.rawValue), .int(result.exitCode.map(Int.init)), .int(result.signal.map(Int.init)),
                          .real(result.startedAt.timeIntervalSince1970), .real(result.endedAt.timeIntervalSince1970),
                          .text(keepOutput ? result.stdout : nil), .text(keepOutput ? result.stderr : nil), .int(result.stdoutDropped),
                          .int(result.stderrDropped), .text(result.reason), .text(result.results?.jsonText), .integer(id)], in: db)
        case let .skipped(id, eventID, attempt, integration, trigger, reason, at):
            try db.cachedStatement(sql: """
                INSERT INTO runs (id, event_id, attempt, integration, trigger, outcome, started_at, ended_at, reason)
                VALUES (?, ?, ?, ?, ?, 'skipped', ?, ?, ?)
                """).run([.integer(id), .text(eventID), .int(attempt), .text(integration), .text(trigger), .real(at), .real(at), .text(reason)], in: db)
        case let .eventDone(eventID, at):
            try db.cachedStatement(sql: "UPDATE events SET state = 'done', completed_at = ? WHERE id = ?").run([.real(at), .text(eventID)], in: db)
        }
    }
}

/// Run ids made in memory, so a run can be recorded without waiting for the database: the
/// milliseconds since 1970 shifted left 16 bits, a per-process salt (6 bits) and a counter.
/// They grow with time, which keeps `--follow` and newest-first listings in order, and two
/// processes writing one file (a server and `hookbus fire`) do not collide.
enum RunIDs {
    private static let salt = Int64.random(in: 0..<64) << 10
    private static let last = Mutex<Int64>(0)

    static func next(now: Date = Date()) -> Int64 {
        let base = Int64(now.timeIntervalSince1970 * 1000) << 16 | salt
        return last.withLock { last in
            last = max(last + 1, base)
            return last
        }
    }
}
