import Synchronization
import Testing
@testable import HookBusServer

/// `?wait`'s wake-ups on plain values: an event finished before the wait, during it, never,
/// and a wait cancelled by its request going away.
@Suite struct EventCompletionsTests {
    @Test func anEventAlreadyDoneNeedsNoSignal() async throws {
        let completions = EventCompletions()
        let done = try await completions.wait(for: "evt_1", timeout: .seconds(60)) { true }
        #expect(done == .done)
    }

    @Test func theDispatchersSignalEndsTheWait() async throws {
        let completions = EventCompletions()
        let looked = Atomic<Bool>(false)
        async let waited = completions.wait(for: "evt_2", timeout: .seconds(60)) {
            looked.store(true, ordering: .sequentiallyConsistent)
            return false
        }
        // Signal once the waiter has registered and looked: a signal for another event first.
        while !looked.load(ordering: .sequentiallyConsistent) { await Task.yield() }
        completions.finished("evt_other")
        completions.finished("evt_2")
        #expect(try await waited == .signalled)
    }

    @Test func noSignalIsATimeout() async throws {
        let completions = EventCompletions()
        let done = try await completions.wait(for: "evt_3", timeout: .milliseconds(50)) { false }
        #expect(done == .timedOut)
    }

    @Test func aCancelledWaitIsNotDone() async throws {
        let completions = EventCompletions()
        let waiting = Task { try await completions.wait(for: "evt_4", timeout: .seconds(60)) { false } }
        waiting.cancel()
        #expect(try await waiting.value == .timedOut)
    }
}
