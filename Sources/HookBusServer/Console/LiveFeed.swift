public import HookBus
import Synchronization

/// New events as they are committed, and how their runs ended, for the console's open pages
/// (server-sent events): the accept queue publishes each committed batch once and the dispatcher
/// each execution's runs, and every open page gets them from memory. No page polls the store.
///
/// Publishing costs one atomic load when no page is open. Each subscriber has a buffer of the
/// newest `bufferSize` events: a page that reads slowly misses the oldest of a burst (a reload
/// shows all) and never holds up an accept. A stream ends when its page goes, its session ends
/// (`end(owner:)`, and the stream's heartbeat checks expiry) or the server stops (the stream's
/// graceful-shutdown handler unsubscribes it).
public final class LiveFeed: Sendable {
    public enum Item: Sendable {
        case event(EventSummary)
        /// An execution of an event's triggers ended: the event's state after it (nil when the
        /// execution cannot tell), and how many of *these* runs ended each way (a page adds them
        /// to what it shows: runs of a later retry are new runs).
        case ran(eventID: String, state: String?, outcomes: [String: Int])
        /// Sent every `heartbeat` so that a connection a proxy or a client dropped is noticed.
        case heartbeat
    }

    private struct Subscriber {
        let continuation: AsyncStream<Item>.Continuation
        /// Whose page it is (a session's key): ended with the session.
        let owner: String?
    }

    private let subscribers = Mutex<(next: Int, all: [Int: Subscriber])>((0, [:]))
    private let watchers = Atomic<Int>(0)
    let bufferSize: Int

    public init(bufferSize: Int = 256) {
        self.bufferSize = bufferSize
    }

    /// Whether any page listens: the accept queue and the dispatcher build nothing for the feed
    /// otherwise.
    public var isWatched: Bool { watchers.load(ordering: .relaxed) > 0 }

    /// A stream of what is published from now on, until `unsubscribe` or `end(owner:)`.
    /// - Parameter owner: whose page it is, so that a logout ends its streams.
    public func subscribe(owner: String? = nil) -> (id: Int, items: AsyncStream<Item>) {
        let (stream, continuation) = AsyncStream<Item>.makeStream(bufferingPolicy: .bufferingNewest(bufferSize))
        let id = subscribers.withLock { state in
            state.next += 1
            state.all[state.next] = Subscriber(continuation: continuation, owner: owner)
            return state.next
        }
        watchers.add(1, ordering: .relaxed)
        return (id, stream)
    }

    /// Ends one stream (its page went away, or its session ended).
    public func unsubscribe(_ id: Int) {
        let subscriber = subscribers.withLock { $0.all.removeValue(forKey: id) }
        guard let subscriber else { return }
        watchers.subtract(1, ordering: .relaxed)
        subscriber.continuation.finish()
    }

    /// Ends every stream of `owner` (a logout).
    public func end(owner: String) {
        let ids = subscribers.withLock { state in state.all.filter { $0.value.owner == owner }.map(\.key) }
        for id in ids { unsubscribe(id) }
    }

    /// Gives `items` to every stream, or to one.
    public func publish(_ items: [Item], to id: Int? = nil) {
        let continuations = subscribers.withLock { state in
            id.map { state.all[$0].map { [$0.continuation] } ?? [] } ?? state.all.values.map(\.continuation)
        }
        for continuation in continuations {
            for item in items { continuation.yield(item) }
        }
    }
}

extension EventSummary {
    /// The row of a just-committed event: no runs yet.
    init(_ event: Event, settled: Bool) {
        self.init(cursor: 0, id: event.id, hook: event.hook.rawValue, sourceKind: event.source.kind.rawValue, sourceName: event.source.name,
                  trigger: event.trigger, receivedAt: event.receivedAt, state: settled ? "done" : "pending", attempt: 1, subject: event.orderingKey)
    }
}
