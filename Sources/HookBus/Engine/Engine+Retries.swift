import Foundation

extension Engine {
    /// What follows a run's end under its retry policy: nothing, a retry (a deferred run, due
    /// after the policy's delay), or a dead letter (its outcome becomes `dead`). The reason in
    /// the run's record says which, with the delay. The gate hears of the change (`count`) once
    /// it is queued for the store.
    /// - Returns: the change to the deferred runs to write with the run's end, and the retry.
    func followUp(_ result: inout RunResult, of planned: PlannedRun, runID: Int64?, stored: StoredEvent,
                  requestedBy: String?, now: Date = Date()) -> (change: DeferredChange?, retry: DeferredRun?) {
        let invocation = planned.invocation
        let policy = router.configuration.retryPolicy(integration: invocation.integration, action: invocation.trigger)
        let tries = (planned.deferred?.tries ?? 0) + 1
        var change: DeferredChange? = planned.deferred.map { .release(id: $0.id, eventID: stored.event.id) }
        var retry: DeferredRun?
        switch policy.decide(result, tries: tries) {
        case .final:
            break
        case .dead:
            result.reason = "dead letter: \(Self.describe(result)) on try \(tries) of \(policy.attempts), the last its retry policy allows; re-drive it with `hookbus replay --failed`"
            result.outcome = .dead
        case let .retry(seconds):
            let due = now.addingTimeInterval(seconds)
            let reason = "retry: try \(tries + 1) of \(policy.attempts) due at \(Event.formatDate(due)), \(String(format: "%.1f", seconds)) s after try \(tries) \(Self.describe(result))"
            let row = DeferredRun(id: planned.deferred?.id ?? 0, eventID: stored.event.id, integration: invocation.integration, trigger: invocation.trigger,
                                  holdKey: planned.holdKey, kind: .retry, reason: reason, dueAt: due, attempt: planned.attempt + 1, tries: tries,
                                  previousRun: runID ?? planned.previousRun, requestedBy: requestedBy)
            change = planned.deferred == nil ? .insert(row) : .reschedule(row)
            result.reason = [result.reason, reason].compactMap { $0 }.joined(separator: "; ")
            retry = row
        }
        return (change, retry)
    }

    /// Tells the gate of a change to the deferred runs made when a run reached its slot or
    /// ended — after it was queued for the store (so a claim that flushes the queue sees every
    /// row the gate counts) and before the slot is given up (so the next run of the element
    /// sees the hold). A new row of an element moves its retry epoch: a run of the element
    /// claimed before it and not yet started yields to it (`RunGate.retryEpoch`).
    func count(_ change: DeferredChange, of claimed: DeferredRun?) {
        switch change {
        case let .insert(row): gate.deferred(row, movesEpoch: true)
        case let .reschedule(row): if row.kind == .retry { gate.rescheduled(row) } else { gate.waitsAgain(row) }
        case .release: if let claimed { gate.released(claimed) }
        }
    }

    /// A run's end in words, for retry and dead-letter reasons: `failed (exit 1)`, `timed out`,
    /// `error (interpreter python not found)`.
    static func describe(_ result: RunResult) -> String {
        switch result.outcome {
        case .failed: return "failed (exit \(result.exitCode.map(String.init) ?? "?"))"
        case .killed: return "was killed (signal \(result.signal.map(String.init) ?? "?"))"
        case .timedOut: return "timed out"
        case .error: return "could not start (\(result.reason ?? "error"))"
        default: return result.outcome.rawValue
        }
    }

    /// Why a run waits behind its element: the run whose retry heads it, when known.
    static func heldReason(key: String, holder: Int64) -> String {
        let (integration, element) = key.split(separator: "|", maxSplits: 1).map(String.init).splitPair
        if holder > 0 { return "queued behind run \(holder) of \(element) in \(integration), which waits for its retry (order: strict)" }
        return "queued behind earlier runs of \(element) in \(integration) that wait on disk (order: strict)"
    }
}

extension Array where Element == String {
    /// The two halves of a `split(maxSplits: 1)`, the second empty when there was no separator.
    fileprivate var splitPair: (String, String) { (first ?? "", count > 1 ? self[1] : "") }
}
