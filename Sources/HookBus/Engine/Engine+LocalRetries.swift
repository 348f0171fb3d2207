public import Foundation

extension Engine {
    /// Runs the deferred runs (retries, runs held behind them or by limits) of `eventIDs` until
    /// none is left, as the server's dispatcher would: `hookbus fire` and a local `hookbus
    /// replay` end when their events do. `announce` hears of each run once per attempt when it
    /// starts to wait (with its reason); `report` sees each run as it ends.
    ///
    /// A command stopped while it waits (Ctrl-C) leaves them in the store, due as before:
    /// `hookbus serve` on the same store runs them (it looks for deferred runs that other
    /// processes left every second). A run another process claimed is waited for too.
    public func runDeferredRuns(of eventIDs: Set<String>, announce: (DeferredRun) -> Void = { _ in },
                                report: (CompletedRun) -> Void) async throws {
        // A row is rescheduled in place for each retry: announced once per attempt.
        var announced: Set<String> = []
        while true {
            let rows = try await store.deferredRuns(eventID: nil, limit: Int.max).filter { eventIDs.contains($0.eventID) }
            if rows.isEmpty { return }
            for row in rows where !row.claimed && announced.insert("\(row.id)/\(row.attempt)").inserted {
                announce(row)
            }
            let plans = try await claimDeferred(limit: 64, eventIDs: eventIDs)
            if plans.isEmpty {
                // Nothing due yet (or another process runs it): look again when the first is due,
                // and at least every second.
                let next = rows.filter { !$0.claimed }.map(\.dueAt).min().map { $0.timeIntervalSinceNow } ?? 0.25
                try await Task.sleep(for: .milliseconds(Int64(min(max(next, 0.01), 1) * 1000)))
                continue
            }
            let executions = await withTaskGroup(of: Execution.self) { group in
                for plan in plans { group.addTask { await self.execute(plan) } }
                var all: [Execution] = []
                for await execution in group { all.append(execution) }
                return all
            }
            for run in executions.flatMap(\.runs) { report(run) }
        }
    }
}

extension Engine.CompletedRun {
    /// Whether any trigger's last try did not succeed, among `runs` in the order they ended: a
    /// trigger that failed and then succeeded on its retry succeeded.
    public static func anyFinalFailure(_ runs: [Engine.CompletedRun]) -> Bool {
        var last: [String: RunOutcome] = [:]
        for run in runs { last["\(run.invocation.eventID) \(run.invocation.integration)/\(run.invocation.trigger)"] = run.result.outcome }
        return last.values.contains { $0.isFailure }
    }
}
