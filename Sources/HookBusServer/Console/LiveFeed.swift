public import HookBus
import Synchronization

/// New events as they are committed, and how their runs ended, for the console's open pages
/// (server-sent events): the accept queue publishes each committed batch once and the dispatcher
/// each execution's runs, and every open page gets them from memory. No page polls the store.
///
/// Publishing costs one atomic load when no page is open. Each subscriber has a buffer of the
/// newest `bufferSize` events: a page that reads slowly misses the oldest of a burst (it is told
/// so by a gap in nothing but its list; a reload shows all) and never holds up an accept.
public final class LiveFeed: Sendable {
    public enum Item: Sendable {
        case event(EventSummary)
        /// An execution of an event's triggers ended: the event's state after it, and how many
        /// of *these* runs ended each way (a page adds them to what it shows: runs of a later
        /// retry are new runs).
        case ran(eventID: String, state: String, outcomes: [String: Int])
        /// Sent every `heartbeat` so that a connection a proxy or a client dropped is noticed.
        case heartbeat
    }

    private let subscribers = Mutex<(next: Int, continuations: [Int: AsyncStream<Item>.Continuation])>((0, [:]))
    private let watchers = Atomic<Int>(0)
    private let finished = Atomic<Bool>(false)
    let bufferSize: Int

    public init(bufferSize: Int = 256) {
        self.bufferSize = bufferSize
    }

    /// Whether any page listens: the accept queue builds nothing for the feed otherwise.
    public var isWatched: Bool { watchers.load(ordering: .relaxed) > 0 }

    /// A stream of what is published from now on; ends at `finish` or `unsubscribe`.
    public func subscribe() -> (id: Int, items: AsyncStream<Item>) {
        let (stream, continuation) = AsyncStream<Item>.makeStream(bufferingPolicy: .bufferingNewest(bufferSize))
        let id = subscribers.withLock { state in
            state.next += 1
            state.continuations[state.next] = continuation
            return state.next
        }
        watchers.add(1, ordering: .relaxed)
        if finished.load(ordering: .acquiring) { continuation.finish() }
        return (id, stream)
    }

    public func unsubscribe(_ id: Int) {
        let continuation = subscribers.withLock { $0.continuations.removeValue(forKey: id) }
        guard let continuation else { return }
        watchers.subtract(1, ordering: .relaxed)
        continuation.finish()
    }

    public func publish(_ items: [Item], to id: Int? = nil) {
        let continuations = subscribers.withLock { state in id.map { state.continuations[$0].map { [$0] } ?? [] } ?? Array(state.continuations.values) }
        for continuation in continuations {
            for item in items { continuation.yield(item) }
        }
    }

    /// Ends every stream (the server is stopping: an open page must not hold the stop up).
    public func finish() {
        finished.store(true, ordering: .releasing)
        let continuations = subscribers.withLock { Array($0.continuations.values) }
        for continuation in continuations { continuation.finish() }
    }
}

extension EventSummary {
    /// The row of a just-committed event: no runs yet.
    init(_ event: Event, settled: Bool) {
        self.init(cursor: 0, id: event.id, hook: event.hook.rawValue, sourceKind: event.source.kind.rawValue, sourceName: event.source.name,
                  trigger: event.trigger, receivedAt: event.receivedAt, state: settled ? "done" : "pending", attempt: 1, subject: event.orderingKey)
    }
}
