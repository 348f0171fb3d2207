import Synchronization

/// Wakes the requests that wait for an event's runs (`?wait=N`) when the dispatcher has run
/// them, instead of each polling the store every few milliseconds.
///
/// A waiter registers before it looks at the store, so an event that ends between the look and
/// the wait still wakes it. An event no request waits for costs one lookup in an empty table.
public final class EventCompletions: Sendable {
    private let waiters = Mutex<[String: [Waiter]]>([:])

    public init() {}

    /// The dispatcher has run every trigger of `eventID` (their records are queued).
    func finished(_ eventID: String) {
        let woken = waiters.withLock { waiters -> [Waiter] in
            guard !waiters.isEmpty else { return [] }
            return waiters.removeValue(forKey: eventID) ?? []
        }
        for waiter in woken { waiter.signal() }
    }

    /// How a wait ended.
    enum Outcome: Sendable, Equatable {
        /// `isDone` said so when the wait began.
        case done
        /// The dispatcher signalled the event's end: a caller that must be sure asks again.
        case signalled
        /// Neither within the timeout, or the waiting task was cancelled.
        case timedOut
    }

    /// Waits until `eventID` finishes or `timeout` passes, whichever is first.
    /// - Parameter isDone: whether the event has already finished (looked at after registering).
    func wait(for eventID: String, timeout: Duration, isDone: () async throws -> Bool) async throws -> Outcome {
        let waiter = Waiter()
        waiters.withLock { $0[eventID, default: []].append(waiter) }
        defer { waiters.withLock { waiters in
            waiters[eventID]?.removeAll { $0 === waiter }
            if waiters[eventID]?.isEmpty == true { waiters[eventID] = nil }
        } }
        if try await isDone() { return .done }
        return await withTaskGroup(of: Outcome.self) { group in
            group.addTask {
                await waiter.wait()
                return Task.isCancelled ? .timedOut : .signalled  // a cancellation also ends the wait
            }
            group.addTask {
                try? await Task.sleep(for: timeout)  // cancelled: the other child ended first
                return .timedOut
            }
            let first = await group.next() ?? .timedOut
            group.cancelAll()
            return first
        }
    }

    /// One waiting request: signalled once, by the event's end or by its own cancellation.
    private final class Waiter: Sendable {
        private let state = Mutex<(signalled: Bool, continuation: CheckedContinuation<Void, Never>?)>((false, nil))

        func signal() {
            let continuation = state.withLock { state -> CheckedContinuation<Void, Never>? in
                state.signalled = true
                defer { state.continuation = nil }
                return state.continuation
            }
            continuation?.resume()
        }

        func wait() async {
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    let resumeNow = state.withLock { state -> Bool in
                        if state.signalled { return true }
                        state.continuation = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            } onCancel: {
                signal()
            }
        }
    }
}
