public import HookBus
public import Foundation

/// Group commit for accepts: concurrent requests wait here while one transaction writes all of
/// them, so durable accepts cost one fsync per batch instead of one per request. Nobody is
/// answered before the transaction holding their event has committed.
public actor AcceptQueue {
    private struct Waiting {
        let event: Event
        let key: String?
        let settled: Bool
        let continuation: CheckedContinuation<AcceptResult, any Error>
    }

    private let store: any EventStore
    private let idempotencyWindow: TimeInterval
    private let maximumBatch: Int
    private var waiting: [Waiting] = []
    private var flushing = false
    /// Called after each commit with the number of new events (wakes the dispatcher).
    private let onCommit: @Sendable (Int, Duration) -> Void

    public init(store: any EventStore, idempotencyWindow: TimeInterval, maximumBatch: Int = 512, onCommit: @escaping @Sendable (Int, Duration) -> Void) {
        self.store = store
        self.idempotencyWindow = idempotencyWindow
        self.maximumBatch = maximumBatch
        self.onCommit = onCommit
    }

    /// Stores `event` durably (possibly with others) and returns its id, or the original id for a
    /// repeated idempotency key.
    /// - Parameter settled: no trigger listens to the event's hook: store it done.
    public func accept(_ event: Event, idempotencyKey: String?, settled: Bool = false) async throws -> AcceptResult {
        try await withCheckedThrowingContinuation { continuation in
            waiting.append(Waiting(event: event, key: idempotencyKey, settled: settled, continuation: continuation))
            if !flushing {
                flushing = true
                Task { await self.flush() }
            }
        }
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

    private func flush() async {
        while !waiting.isEmpty {
            let batch = Array(waiting.prefix(maximumBatch))
            waiting.removeFirst(batch.count)
            let started = ContinuousClock.now
            do {
                let settled = Set(batch.filter(\.settled).map(\.event.id))
                let results = try await store.accept(batch.map { ($0.event, $0.key) }, idempotencyWindow: idempotencyWindow, claimed: false, settled: settled)
                // Only events left for the dispatcher count towards the backlog.
                onCommit(results.count { !$0.duplicate && !settled.contains($0.eventID) }, ContinuousClock.now - started)
                for (item, result) in zip(batch, results) { item.continuation.resume(returning: result) }
            } catch {
                for item in batch { item.continuation.resume(throwing: error) }
            }
        }
        flushing = false
    }
}
