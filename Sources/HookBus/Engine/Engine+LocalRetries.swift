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
    /// - Returns: the runs left in the store when those still waiting cannot go on here: for
    ///   `stuckAfter`, none of them was the first of its element (each behind another event's
    ///   run, or taken by another process) — `hookbus serve` runs them.
    @discardableResult
    public func runDeferredRuns(of eventIDs: Set<String>, stuckAfter: Duration = .seconds(30), announce: (DeferredRun) -> Void = { _ in },
                                report: (CompletedRun) -> Void) async throws -> [DeferredRun] {
        // A row is rescheduled in place for each retry: announced once per attempt.
        var announced: Set<String> = []
        var lastProgress = ContinuousClock.now
        var lastState: Set<String> = []
        while true {
            let all = try await store.deferredRuns(eventID: nil, limit: Int.max)
            let rows = all.filter { eventIDs.contains($0.eventID) }
            if rows.isEmpty { return [] }
            for row in rows where !row.claimed && announced.insert("\(row.id)/\(row.attempt)").inserted {
                announce(row)
            }
            let state = Set(rows.map { "\($0.id)/\($0.attempt)/\($0.claimed)" })
            if state != lastState {
                lastState = state
                lastProgress = ContinuousClock.now
            }
            let plans = try await claimDeferred(limit: 64, eventIDs: eventIDs)
            if plans.isEmpty {
                // Ours that can run here once due (and the limits allow): the first of their
                // element among every process's rows, not taken by another process.
                let runnable = rows.filter { row in !row.claimed && Self.heads(row, among: all) }
                if runnable.isEmpty, ContinuousClock.now - lastProgress > stuckAfter { return rows }
                // Look again when the first is due, at most every quarter second, at least every
                // second (a limit may let one go sooner).
                let next = runnable.map(\.dueAt).min()?.timeIntervalSinceNow ?? 1
                try await Task.sleep(for: .milliseconds(Int64(min(max(next, 0.25), 1) * 1000)))
                continue
            }
            lastProgress = ContinuousClock.now
            let executions = await withTaskGroup(of: Execution.self) { group in
                for plan in plans { group.addTask { await self.execute(plan) } }
                var all: [Execution] = []
                for await execution in group { all.append(execution) }
                return all
            }
            for run in executions.flatMap(\.runs) { report(run) }
        }
    }

    /// Whether `row` is the first of its element among `rows` (as the store's claim decides).
    static func heads(_ row: DeferredRun, among rows: [DeferredRun]) -> Bool {
        guard let key = row.holdKey else { return true }
        return !rows.contains { other in other.holdKey == key && (other.position, other.id) < (row.position, row.id) }
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
