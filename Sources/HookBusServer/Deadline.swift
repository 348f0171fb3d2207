import Synchronization

/// Whether `operation` ended within `limit`: true when it did (its error, if any, rethrown to
/// `failed`), false when the limit came first. A race without structure: an operation that
/// cannot be cancelled (a flush of records the store keeps refusing, which is retried) would
/// hold a task group until it ends; here it goes on alone and nobody waits for it.
func endsWithin(_ limit: Duration, _ operation: @escaping @Sendable () async throws -> Void, failed: @escaping @Sendable (any Error) -> Void = { _ in }) async -> Bool {
    await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
        let answered = Atomic<Bool>(false)
        let answer: @Sendable (Bool) -> Void = { value in
            if !answered.exchange(true, ordering: .relaxed) { continuation.resume(returning: value) }
        }
        Task {
            do { try await operation() } catch { failed(error) }
            answer(true)
        }
        Task {
            try? await Task.sleep(for: limit)  // never cancelled: it only ends the wait
            answer(false)
        }
    }
}
