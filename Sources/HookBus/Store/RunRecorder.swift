public import Foundation
import Logging
import Synchronization

/// Group commit for the audit trail: run starts, ends, skips and event completions are queued
/// and written in one transaction per batch, in queue order. Starting a run never waits for the
/// disk; completing an event waits until everything queued before it is committed.
///
/// A run's start row may therefore still be in memory when the process crashes. On restart such
/// a run has no row, so its trigger simply runs again (at-least-once); a start that did reach the
/// disk is recorded `interrupted` and repeated with a link to it.
/// What a waiter for run records hears when one of them was given up (`RunRecorder.write`).
package struct AuditRecordsLost: Error, CustomStringConvertible {
    package var description: String { "some audit records could not be written and were given up (see the log)" }
}

/// Where a `RunRecorder` writes: one store's SQL for a batch of audit records.
package protocol RunRecordWriter: Sendable {
    /// Writes `operations` (already merged) in one transaction, in order.
    func write(_ operations: [RunRecorder.Operation]) async throws
    /// Whether the store can never take a record that failed so (it breaks a key: its event is
    /// gone, its id is taken): such a record is given up at once rather than retried for ten
    /// minutes while everything after it waits.
    func isPermanent(_ error: any Error) -> Bool
}

package actor RunRecorder {
    package enum Operation: Sendable {
        /// `deferredRow`: the claimed deferred run it carries out, which is linked to it in the
        /// same write (after a crash that row runs again linked to this run).
        case started(id: Int64, eventID: String, attempt: Int, integration: String, trigger: String, invocation: String?, previousRun: Int64?, requestedBy: String?, at: Double,
                     deferredRow: Int64?)
        case ended(id: Int64, result: RunResult, keepOutput: Bool, deferred: DeferredChange?)
        case skipped(id: Int64, eventID: String, attempt: Int, integration: String, trigger: String, reason: String, at: Double)
        case eventDone(eventID: String, at: Double)
        /// A start and its end, merged within one batch.
        case completed(id: Int64, eventID: String, attempt: Int, integration: String, trigger: String, invocation: String?, previousRun: Int64?, requestedBy: String?,
                       result: RunResult, keepOutput: Bool, deferred: DeferredChange?)
        case deferred(DeferredChange)
    }

    private let writer: any RunRecordWriter
    let health: AuditHealth
    private let logger = Logger(label: "hookbus.audit")
    private var queue: [Operation] = []
    private var waiters: [(index: Int, continuation: CheckedContinuation<Void, any Error>)] = []
    private var flushing = false
    private var enqueued = 0
    /// The pause before the next retry of a refused write; back to its least after a success.
    private var retryDelay = Duration.milliseconds(50)
    /// Runs whose start was given up (their end is given up too), and the queue marks up to
    /// which records were given up and waiters resumed.
    private var givenUpRuns: Set<Int64> = []
    private var lastGivenUpMark = 0
    private var lastResumedMark = 0

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

    package init(writer: any RunRecordWriter, health: AuditHealth, giveUpAfter: Duration = .seconds(600)) {
        self.writer = writer
        self.health = health
        self.giveUpAfter = giveUpAfter
    }

    package func enqueue(_ operation: Operation) {
        queue.append(operation)
        enqueued += 1
        startFlushing()
    }

    /// Enqueues and returns once it (and everything before it) is committed.
    package func enqueueAndWait(_ operation: Operation) async throws {
        enqueue(operation)
        try await waitForCommit()
    }

    /// Marks the event done (or waiting, with deferred runs) after every record queued before
    /// it; with `waitForDisk`, returns once that is committed.
    package func eventDone(_ eventID: String, waitForDisk: Bool) async throws {
        let operation = Operation.eventDone(eventID: eventID, at: Date().timeIntervalSince1970)
        if waitForDisk {
            try await enqueueAndWait(operation)
        } else {
            enqueue(operation)
        }
    }

    /// The stored record of a Test Action request (hook `action`): its event row's `record`
    /// in every store.
    package static func actionRecord(eventID: String, integration: String, action: String, fields: [String: String], kind: String, at date: Date) -> String {
        JSONValue.object([
            "id": .string(eventID), "hook": .string("action"), "kind": .string(kind), "integration": .string(integration), "action": .string(action),
            "fields": .object(fields.mapValues(JSONValue.string)), "receivedAt": .string(Event.formatDate(date)),
        ]).jsonText
    }

    /// Returns once everything queued so far is committed.
    package func waitForCommit() async throws {
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
            let givenUp = await write(batch)
            committed += batch.count
            if givenUp > 0 { lastGivenUpMark = committed }
            let done = waiters.filter { $0.index <= committed }
            waiters.removeAll { $0.index <= committed }
            for waiter in done {
                // A waiter whose records include one given up is told so, not that all is written.
                if waiter.index > lastResumedMark, lastGivenUpMark > lastResumedMark {
                    waiter.continuation.resume(throwing: AuditRecordsLost())
                } else {
                    waiter.continuation.resume()
                }
            }
            lastResumedMark = committed
        }
        flushing = false
    }

    /// Writes one batch. A batch the store refuses is retried, the pause doubling up to
    /// `longestRetryDelay`; after three failures its records are written one by one, in order,
    /// each retried the same way until the store takes it or `giveUpAfter` has passed. Every
    /// failure is logged with the runs it concerns and counted (`AuditHealth`). Whoever waits for
    /// the batch (a `?wait`, the CLI) waits for these writes.
    /// - Returns: how many records were given up.
    private func write(_ batch: [Operation]) async -> Int {
        if await attempt(batch, tries: 3) == nil { return 0 }
        var givenUp = 0
        for operation in batch {
            // The end of a run whose start was given up has no row to update: given up too.
            if case let .ended(id, _, _, _) = operation, givenUpRuns.contains(id) {
                giveUp(operation, reason: "its start was given up")
                givenUp += 1
                await keepDeferredChange(of: operation)
                continue
            }
            if await !writeAlone(operation) {
                givenUp += 1
                await keepDeferredChange(of: operation)
            }
        }
        return givenUp
    }

    /// Writes one record on its own, retried until the store takes it or `giveUpAfter` has
    /// passed; false (logged and counted) when it was given up.
    private func writeAlone(_ operation: Operation) async -> Bool {
        let started = ContinuousClock.now
        while let error = await attempt([operation], tries: 1) {
            let permanent = writer.isPermanent(error)
            guard !permanent, ContinuousClock.now - started < giveUpAfter else {
                giveUp(operation, reason: permanent ? "the store can never take it: \(error)" : "the store refused it for \(giveUpAfter)")
                return false
            }
        }
        return true
    }

    /// A run record given up may carry a retry or the end of a deferred run: that is still
    /// written on its own, or the retry would be lost (or the deferred run held for ever).
    private func keepDeferredChange(of operation: Operation) async {
        switch operation {
        case let .ended(_, _, _, change?), let .completed(_, _, _, _, _, _, _, _, _, _, change?):
            _ = await writeAlone(.deferred(change))
        default:
            break
        }
    }

    private func giveUp(_ operation: Operation, reason: String) {
        for id in Self.runIDs([operation]) { givenUpRuns.insert(id) }
        health.lost(1)
        logger.critical("an audit record is given up: \(reason)", metadata: [
            "runs": "\(Self.runIDs([operation]).map(String.init).joined(separator: ","))",
            "events": "\(Self.eventIDs([operation]).joined(separator: ","))",
        ])
    }

    /// Up to `tries` attempts at writing `operations` in one transaction, with the pause before
    /// each retry; nil when they were written, else the last error.
    private func attempt(_ operations: [Operation], tries: Int) async -> (any Error)? {
        var last: (any Error)?
        for _ in 0..<tries {
            do {
                try await writer.write(Self.merged(operations))
                retryDelay = .milliseconds(50)
                if health.recovered() { logger.notice("the audit trail is written again") }
                return nil
            } catch {
                last = error
                health.failed(error)
                logger.error("audit records could not be written; retrying in \(retryDelay)", metadata: [
                    "error": "\(error)", "runs": "\(Self.runIDs(operations).map(String.init).joined(separator: ","))",
                    "events": "\(Self.eventIDs(operations).joined(separator: ","))",
                ])
                try? await Task.sleep(for: retryDelay)  // a cancelled sleep only retries sooner
                retryDelay = min(retryDelay * 2, Self.longestRetryDelay)
            }
        }
        return last
    }

    static func runIDs(_ batch: [Operation]) -> [Int64] {
        batch.compactMap { operation in
            switch operation {
            case let .started(id, _, _, _, _, _, _, _, _, _), let .ended(id, _, _, _), let .skipped(id, _, _, _, _, _, _),
                 let .completed(id, _, _, _, _, _, _, _, _, _, _): return id
            case .eventDone, .deferred: return nil
            }
        }
    }

    static func eventIDs(_ batch: [Operation]) -> [String] {
        batch.compactMap { operation in
            switch operation {
            case let .eventDone(eventID, _): return eventID
            case let .deferred(change): return change.eventID
            default: return nil
            }
        }
    }

    /// A run that started and ended within one batch (most runs of a trivial trigger) is written
    /// as one complete row instead of a row and an update: half the index work per run.
    static func merged(_ batch: [Operation]) -> [Operation] {
        var ends: [Int64: (result: RunResult, keepOutput: Bool, deferred: DeferredChange?)] = [:]
        var starts: Set<Int64> = []
        var linked: Set<Int64> = []
        for operation in batch {
            switch operation {
            // A deferred run's start whose end changes no row (a run HookBus's stop ended) keeps
            // its own write: it links the row to the run for the next start's recovery.
            case let .started(id, _, _, _, _, _, _, _, _, deferredRow): if deferredRow == nil { starts.insert(id) } else { linked.insert(id) }
            case let .ended(id, result, keepOutput, deferred) where linked.contains(id) && deferred != nil: ends[id] = (result, keepOutput, deferred)
            case let .ended(id, result, keepOutput, deferred) where starts.contains(id): ends[id] = (result, keepOutput, deferred)
            default: break
            }
        }
        guard !ends.isEmpty else { return batch }
        return batch.compactMap { operation in
            switch operation {
            case let .started(id, eventID, attempt, integration, trigger, invocation, previousRun, requestedBy, _, _):
                // Ended within the batch: its deferred change (release or reschedule) is written
                // with it, so the link to a row that is over is not needed.
                guard let end = ends[id] else { return operation }
                return .completed(id: id, eventID: eventID, attempt: attempt, integration: integration, trigger: trigger,
                                  invocation: invocation, previousRun: previousRun, requestedBy: requestedBy, result: end.result, keepOutput: end.keepOutput,
                                  deferred: end.deferred)
            case let .ended(id, _, _, _) where ends[id] != nil:
                return nil
            default:
                return operation
            }
        }
    }
}

/// Run ids made in memory, so a run can be recorded without waiting for the database: the
/// milliseconds since 1970 shifted left 16 bits, the store's salt for this process (6 bits) and a
/// counter (10 bits). They grow with time, which keeps `--follow` and newest-first listings in
/// order. Two processes writing one file (a server and `hookbus fire`) never share a salt: each
/// claims its own in the database when it opens the store (`SaltClaim`), so their ids differ even
/// in the same millisecond.
package final class RunIDs: Sendable {
    private let salt: Int64
    private let last = Mutex<Int64>(0)

    package init(salt: Int64) {
        precondition((0..<64).contains(salt))
        self.salt = salt << 10
    }

    package func next(now: Date = Date()) -> Int64 {
        let base = Int64(now.timeIntervalSince1970 * 1000) << 16 | salt
        return last.withLock { last in
            var next = last + 1
            // The counter has 10 bits: past 1,023 ids in one millisecond it does not carry into
            // the salt, it moves on to the next millisecond.
            if next & 0x3FF == 0 { next = ((last >> 16) + 1) << 16 | salt }
            last = max(next, base)
            return last
        }
    }
}
