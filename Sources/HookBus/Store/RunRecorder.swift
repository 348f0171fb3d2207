import Foundation
import GRDB
import Logging
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
    let health: AuditHealth
    private let logger = Logger(label: "hookbus.audit")
    private var queue: [Operation] = []
    private var waiters: [(index: Int, continuation: CheckedContinuation<Void, any Error>)] = []
    private var flushing = false
    private var enqueued = 0
    /// The pause before the next retry of a refused write; back to its least after a success.
    private var retryDelay = Duration.milliseconds(50)

    /// How long a batch waits for company before it is written. Runs end a few hundred times a
    /// second at most; writing each start and end in its own transaction costs a trivial run
    /// about a quarter of its CPU (a thread wake-up and a WAL commit each), so operations wait
    /// this long to share one. The audit trail lags by as much, nothing more.
    static let batchWindow = Duration.milliseconds(10)
    static let fullBatch = 256

    /// The longest pause between two attempts at a batch the store refused.
    static let longestRetryDelay = Duration.seconds(5)
    /// How long one record is retried on its own before it is given up (logged and counted as
    /// lost): a store down for a while loses nothing, and a record the store can never take (a
    /// bug) does not hold up every record after it for ever.
    let giveUpAfter: Duration

    init(writer: DatabasePool, health: AuditHealth, giveUpAfter: Duration = .seconds(600)) {
        self.writer = writer
        self.health = health
        self.giveUpAfter = giveUpAfter
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
            await write(batch)
            committed += batch.count
            let done = waiters.filter { $0.index <= committed }
            waiters.removeAll { $0.index <= committed }
            for waiter in done { waiter.continuation.resume() }
        }
        flushing = false
    }

    /// Writes one batch. A batch the store refuses is retried, the pause doubling up to
    /// `longestRetryDelay`; after three failures its records are written one by one, in order,
    /// each retried the same way until the store takes it or `giveUpAfter` has passed. Every
    /// failure is logged with the runs it concerns and counted (`AuditHealth`). Whoever waits for
    /// the batch (a `?wait`, the CLI) waits for these writes.
    private func write(_ batch: [Operation]) async {
        if await attempt(batch, tries: 3) { return }
        for operation in batch {
            let started = ContinuousClock.now
            while !(await attempt([operation], tries: 1)) {
                guard ContinuousClock.now - started < giveUpAfter else {
                    health.lost(1)
                    logger.critical("an audit record was refused for \(giveUpAfter) and is given up", metadata: [
                        "runs": "\(Self.runIDs([operation]).map(String.init).joined(separator: ","))",
                        "events": "\(Self.eventIDs([operation]).joined(separator: ","))",
                    ])
                    break
                }
            }
        }
    }

    /// Up to `tries` attempts at writing `operations` in one transaction, with the pause before
    /// each retry; whether they were written.
    private func attempt(_ operations: [Operation], tries: Int) async -> Bool {
        for _ in 0..<tries {
            do {
                try await writer.writeWithoutTransaction { db in
                    try db.execute(sql: "PRAGMA synchronous = NORMAL")
                    try db.inTransaction {
                        for operation in Self.merged(operations) { try Self.apply(operation, db) }
                        return .commit
                    }
                }
                retryDelay = .milliseconds(50)
                if health.snapshot.failing {
                    health.recovered()
                    logger.notice("the audit trail is written again")
                }
                return true
            } catch {
                health.failed(error)
                logger.error("audit records could not be written; retrying in \(retryDelay)", metadata: [
                    "error": "\(error)", "runs": "\(Self.runIDs(operations).map(String.init).joined(separator: ","))",
                    "events": "\(Self.eventIDs(operations).joined(separator: ","))",
                ])
                try? await Task.sleep(for: retryDelay)  // a cancelled sleep only retries sooner
                retryDelay = min(retryDelay * 2, Self.longestRetryDelay)
            }
        }
        return false
    }

    static func runIDs(_ batch: [Operation]) -> [Int64] {
        batch.compactMap { operation in
            switch operation {
            case let .started(id, _, _, _, _, _, _, _, _), let .ended(id, _, _), let .skipped(id, _, _, _, _, _, _),
                 let .completed(id, _, _, _, _, _, _, _, _, _): return id
            case .eventDone: return nil
            }
        }
    }

    static func eventIDs(_ batch: [Operation]) -> [String] {
        batch.compactMap { operation in
            if case let .eventDone(eventID, _) = operation { return eventID }
            return nil
        }
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
/// milliseconds since 1970 shifted left 16 bits, the store's salt for this process (6 bits) and a
/// counter (10 bits). They grow with time, which keeps `--follow` and newest-first listings in
/// order. Two processes writing one file (a server and `hookbus fire`) never share a salt: each
/// claims its own in the database when it opens the store (`SaltClaim`), so their ids differ even
/// in the same millisecond.
final class RunIDs: Sendable {
    private let salt: Int64
    private let last = Mutex<Int64>(0)

    init(salt: Int64) {
        precondition((0..<64).contains(salt))
        self.salt = salt << 10
    }

    func next(now: Date = Date()) -> Int64 {
        let base = Int64(now.timeIntervalSince1970 * 1000) << 16 | salt
        return last.withLock { last in
            last = max(last + 1, base)
            return last
        }
    }
}

/// A run-id salt held in the store (`run_id_salts`) while this store is open: claimed at open,
/// given back when the store is no longer used. The store is a local file, so every process
/// writing it runs on this machine: a salt whose process has gone (a crash, `kill -9`) is taken
/// back by the next one to open the store.
final class SaltClaim: Sendable {
    let salt: Int64
    private let writer: DatabasePool
    private let logger = Logger(label: "hookbus.store")

    init(_ writer: DatabasePool) throws {
        self.writer = writer
        salt = try writer.write { db in
            for row in try Row.fetchAll(db, sql: "SELECT salt, pid FROM run_id_salts") {
                let pid: Int32 = row["pid"]
                if kill(pid, 0) != 0 && errno == ESRCH {
                    try db.execute(sql: "DELETE FROM run_id_salts WHERE salt = ?", arguments: [row["salt"] as Int64])
                }
            }
            let taken = Set(try Int64.fetchAll(db, sql: "SELECT salt FROM run_id_salts"))
            guard let free = (0..<Int64(64)).first(where: { !taken.contains($0) }) else {
                throw DatabaseError(message: "64 stores of live processes have this database open: no run-id salt is free")
            }
            try db.execute(sql: "INSERT INTO run_id_salts (salt, pid, claimed_at) VALUES (?, ?, ?)", arguments: [free, getpid(), Date().timeIntervalSince1970])
            return free
        }
    }

    deinit {
        do {
            try writer.write { db in try db.execute(sql: "DELETE FROM run_id_salts WHERE salt = ? AND pid = ?", arguments: [salt, getpid()]) }
        } catch {
            // Not lost: the next process to open the store takes the salt back once this one is gone.
            logger.warning("the run-id salt could not be given back: \(error)", metadata: ["salt": "\(salt)"])
        }
    }
}
