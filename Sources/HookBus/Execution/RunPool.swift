/// A bounded pool of run slots that keeps per-key order.
///
/// Work beyond the bound waits in arrival order; it is never rejected or dropped. Runs with the
/// same ordering key (`incident:42`) start in the order they were enqueued and never overlap;
/// runs with different keys, and runs without a key (webhooks), use free slots in parallel.
///
/// Callers enqueue in arrival order (the dispatcher does so from one task), then wait for their
/// ticket from any task.
public actor RunPool {
    public struct Ticket: Sendable, Hashable {
        let id: UInt64
        let key: String?
    }

    public nonisolated let limit: Int
    private var nextID: UInt64 = 0
    private var queue: [Ticket] = []
    private var started: Set<UInt64> = []
    private var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
    private var busyKeys: Set<String> = []
    private var roomWaiters: [(maxWaiting: Int, continuation: CheckedContinuation<Void, Never>)] = []
    private var producing = true
    private(set) var running = 0

    public init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// Takes a place in line for a run with `key`.
    public func enqueue(key: String?) -> Ticket {
        nextID += 1
        let ticket = Ticket(id: nextID, key: key)
        queue.append(ticket)
        schedule()
        return ticket
    }

    /// Returns when `ticket` may start.
    public func wait(_ ticket: Ticket) async {
        if started.contains(ticket.id) { return }
        await withCheckedContinuation { continuation in
            waiters[ticket.id] = continuation
        }
    }

    /// Gives the ticket's slot (and its key) to the next in line.
    public func finish(_ ticket: Ticket) {
        guard started.remove(ticket.id) != nil else { return }
        running -= 1
        if let key = ticket.key { busyKeys.remove(key) }
        schedule()
    }

    /// Runs waiting in line (not yet started).
    public var waiting: Int { queue.count }

    /// Returns once no more than `maxWaiting` runs wait in line: a producer (the dispatcher)
    /// takes more work only then, so the backlog stays on disk rather than in memory.
    public func waitForRoom(maxWaiting: Int) async {
        if queue.count <= maxWaiting || !producing { return }
        await withCheckedContinuation { continuation in
            roomWaiters.append((maxWaiting, continuation))
        }
    }

    /// Releases producers waiting for room, now and from now on (HookBus is stopping).
    public func stopProducing() {
        producing = false
        for waiter in roomWaiters { waiter.continuation.resume() }
        roomWaiters.removeAll()
    }

    private func schedule() {
        var index = 0
        var blocked: Set<String> = []
        while running < limit, index < queue.count {
            let ticket = queue[index]
            if let key = ticket.key, busyKeys.contains(key) || blocked.contains(key) {
                blocked.insert(key)
                index += 1
                continue
            }
            queue.remove(at: index)
            running += 1
            if let key = ticket.key { busyKeys.insert(key) }
            started.insert(ticket.id)
            waiters.removeValue(forKey: ticket.id)?.resume()
        }
        if !roomWaiters.isEmpty {
            let count = queue.count
            roomWaiters.removeAll { waiter in
                guard count <= waiter.maxWaiting else { return false }
                waiter.continuation.resume()
                return true
            }
        }
    }
}
