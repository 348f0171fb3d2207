public import HookBus
public import Foundation
import Synchronization

/// Group commit for accepts: concurrent requests wait here while one transaction writes all of
/// them, so durable accepts cost one fsync per batch instead of one per request. Nobody is
/// answered before the transaction holding their event has committed.
///
/// The transactions run on a thread of the queue's own, not in a task. The commit is on every
/// accept's critical path, and as a task it waited twice per batch behind the request handlers
/// queued on Swift's pool (to start, and again when the store's queue answered): with 32
/// connections a commit took over 1 ms of wall time for 0.2 ms of work, and the machine sat 20%
/// idle while requests waited. The thread is started on the first accept and ends after a second
/// without work, so an idle server (or a test) keeps no thread for it.
///
/// A store that commits batches side by side (`EventStore.acceptWriters`: PostgreSQL, whose
/// commits from several connections share their flushes) gets that many writer threads: while
/// one batch commits, the next gathers and is committed by the next thread. The embedded store
/// has one writer, and one thread.
public final class AcceptQueue: Sendable {
    private struct Waiting {
        let event: Event
        let key: String?
        let record: String
        let settled: Bool
        let reply: @Sendable (Result<AcceptResult, any Error>) -> Void
    }

    private struct State {
        var waiting: [Waiting] = []
        /// Writer threads that exist; of them, `asleep` wait on `wake` for work, and `signalled`
        /// of those were signalled and have not yet taken their signal.
        var running = 0
        var asleep = 0
        var signalled = 0
        /// How many writer threads were started (see `writer`).
        var writersStarted = 0
    }

    private let store: any EventStore
    private let idempotencyWindow: TimeInterval
    private let maximumBatch: Int
    private let state = Mutex(State())
    private let writers: Int
    /// Signalled exactly once each time an accept finds a writer asleep and wakes it.
    private let wake = DispatchSemaphore(value: 0)
    /// Called after each commit with the number of new events (wakes the dispatcher).
    private let onCommit: @Sendable (Int, Duration) -> Void
    /// The console's open pages, told of each committed event after its sender has its answer.
    private let feed: LiveFeed?

    public init(store: any EventStore, idempotencyWindow: TimeInterval, maximumBatch: Int = 512, feed: LiveFeed? = nil,
                onCommit: @escaping @Sendable (Int, Duration) -> Void) {
        self.store = store
        writers = max(1, store.acceptWriters)
        self.idempotencyWindow = idempotencyWindow
        self.maximumBatch = maximumBatch
        self.feed = feed
        self.onCommit = onCommit
    }

    /// Stores `event` durably (possibly with others) and returns its id, or the original id for a
    /// repeated idempotency key.
    /// - Parameter settled: no trigger listens to the event's hook: store it done.
    public func accept(_ event: Event, idempotencyKey: String?, settled: Bool = false) async throws -> AcceptResult {
        try await withCheckedThrowingContinuation { continuation in
            enqueue(event, idempotencyKey: idempotencyKey, settled: settled) { continuation.resume(with: $0) }
        }
    }

    /// `accept` for a caller that is not a task (the fast path on an event loop): `reply` is
    /// called on the writer thread once the event's transaction has committed or failed.
    func enqueue(_ event: Event, idempotencyKey: String?, settled: Bool, reply: @escaping @Sendable (Result<AcceptResult, any Error>) -> Void) {
        // The stored form is made here, on the request's thread, in parallel with other requests.
        let record = event.recordJSON
        enum Action { case none, start, signal }
        let action = state.withLock { state -> Action in
            state.waiting.append(Waiting(event: event, key: idempotencyKey, record: record, settled: settled, reply: reply))
            if state.asleep > state.signalled {
                state.signalled += 1
                return .signal
            }
            // Every writer is busy committing: another starts, up to the store's number.
            if state.running < writers {
                state.running += 1
                state.writersStarted += 1
                return .start
            }
            return .none
        }
        switch action {
        case .none: break
        case .start:
            Thread.detachNewThread {
                Thread.current.name = "hookbus-accept"  // as `top -H` shows it
                self.writeUntilIdle()
            }
        case .signal: wake.signal()
        }
    }

    /// Whether a writer thread is running, and how many were started: what a test waits on to
    /// see the idle writer really end and the next accept start another, instead of sleeping
    /// for longer than the idle second and hoping.
    var writer: (running: Bool, started: Int) {
        state.withLock { ($0.running > 0, $0.writersStarted) }
    }

    /// Stores several events in one transaction of their own (a bulk import is already a batch)
    /// and returns their results in order; a key repeated within the batch is a duplicate of
    /// its first occurrence.
    public func acceptAll(_ items: [(event: Event, idempotencyKey: String?, settled: Bool)]) async throws -> [AcceptResult] {
        let started = ContinuousClock.now
        let settled = Set(items.filter(\.settled).map(\.event.id))
        let results = try await store.accept(items.map { ($0.event, $0.idempotencyKey) }, idempotencyWindow: idempotencyWindow, claimed: false, settled: settled)
        onCommit(results.count { !$0.duplicate && !settled.contains($0.eventID) }, ContinuousClock.now - started)
        return results
    }

    /// The writer thread: commits what is waiting, batch after batch, and sleeps when nothing
    /// is; after a second of sleep with nothing new it ends.
    private func writeUntilIdle() {
        while true {
            let batch = state.withLock { state -> [Waiting] in
                if state.waiting.isEmpty {
                    state.asleep += 1
                    return []
                }
                if state.waiting.count <= maximumBatch {
                    defer { state.waiting.removeAll(keepingCapacity: true) }
                    return state.waiting
                }
                defer { state.waiting.removeFirst(maximumBatch) }
                return Array(state.waiting.prefix(maximumBatch))
            }
            if !batch.isEmpty {
                commit(batch)
                continue
            }
            if wake.wait(timeout: .now() + 1) == .timedOut {
                let end = state.withLock { state -> Bool in
                    // A writer asleep that no signal is meant for: nobody came, this one ends.
                    // Otherwise an accept signalled between the timeout and the lock, and its
                    // signal must be taken.
                    guard state.asleep > state.signalled else { return false }
                    state.asleep -= 1
                    state.running -= 1
                    return true
                }
                if end { return }
                wake.wait()
            }
            state.withLock { state in
                state.asleep -= 1
                state.signalled -= 1
            }
        }
    }

    private func commit(_ batch: [Waiting]) {
        let started = ContinuousClock.now
        do {
            let results = try store.acceptBlocking(batch.map { ($0.event, $0.key, $0.record, $0.settled) }, idempotencyWindow: idempotencyWindow)
            // Open console pages hear of the events before the dispatcher is woken, so that an
            // event's arrival always reaches a page before the end of its runs.
            if let feed, feed.isWatched {
                feed.publish(zip(batch, results).filter { !$1.duplicate }.map { .event(EventSummary($0.0.event, settled: $0.0.settled)) })
            }
            // Only events left for the dispatcher count towards the backlog.
            onCommit(zip(batch, results).count { !$0.settled && !$1.duplicate }, ContinuousClock.now - started)
            for (item, result) in zip(batch, results) { item.reply(.success(result)) }
        } catch {
            for item in batch { item.reply(.failure(error)) }
        }
    }
}
