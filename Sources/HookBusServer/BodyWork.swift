import Foundation

/// Where the work on a request's body runs: small bodies where the request is (the event loop
/// of the fast path, the route's task), large ones on threads of their own.
///
/// Why: reading a body costs time in proportion to its size, and a large one (up to the body
/// limit, or an endpoint's 64 MiB) costs tens of milliseconds. On an event loop that time
/// stalls every connection of the loop; on Swift's cooperative threads (two on a two-core
/// machine) it stalls every route, `/healthz` included. So a body over `inlineLimit` is read
/// on an operation queue as wide as half the cores: hostile bodies sent at once queue there and
/// leave the rest of the server a core. Bodies of ordinary hooks (a few KB) never leave.
enum BodyWork {
    /// Bodies up to this are read in place (the fast path takes only these).
    static let inlineLimit = 64 * 1024

    private static let queue: OperationQueue = {
        let queue = OperationQueue()
        queue.name = "hookbus.body-work"
        queue.maxConcurrentOperationCount = max(1, ProcessInfo.processInfo.activeProcessorCount / 2)
        return queue
    }()

    /// `work` on the body's bytes: in place for a small body, on the body-work queue otherwise.
    static func run<T: Sendable>(bytes: Int, _ work: @escaping @Sendable () -> T) async -> T {
        guard bytes > inlineLimit else { return work() }
        return await withCheckedContinuation { continuation in
            queue.addOperation { continuation.resume(returning: work()) }
        }
    }
}
