import Foundation
import HookBus

/// The deferred runs (retries, runs held behind them or by limits) of the events a command
/// dispatched, run by the command itself as the server would run them: `hookbus fire` and a
/// local `hookbus replay` end when their events do.
///
/// Each wait is said on stderr. A command stopped while it waits (Ctrl-C) leaves them in the
/// store, due as before: `hookbus serve` on the same store runs them (it looks for deferred runs
/// other processes left every second).
struct LocalRetries {
    let engine: Engine
    let eventIDs: Set<String>

    /// Runs them until none is left; `report` sees each run as it ends.
    func run(report: (Engine.CompletedRun) -> Void) async throws {
        var announced: Set<Int64> = []
        while true {
            let rows = try await engine.store.deferredRuns(eventID: nil, limit: 1_000_000).filter { eventIDs.contains($0.eventID) }
            if rows.isEmpty { return }
            for row in rows where !row.claimed && !announced.contains(row.id) {
                announced.insert(row.id)
                let wait = max(0, row.dueAt.timeIntervalSinceNow)
                FileHandle.standardError.write(Data("\(row.eventID) \(row.qualifiedTrigger) waits: \(row.reason)\(wait > 0.5 ? String(format: " (in %.1f s; Ctrl-C leaves it to `hookbus serve`)", wait) : "")\n".utf8))
            }
            let plans = try await engine.claimDeferred(limit: 64, eventIDs: eventIDs)
            if plans.isEmpty {
                // Nothing due yet (or another process runs it): look again when the first is due.
                let next = rows.filter { !$0.claimed }.map(\.dueAt).min().map { $0.timeIntervalSinceNow } ?? 0.25
                try await Task.sleep(for: .milliseconds(Int64(min(max(next, 0.02), 1) * 1000)))
                continue
            }
            let executions = await withTaskGroup(of: Engine.Execution.self) { group in
                for plan in plans { group.addTask { await engine.execute(plan) } }
                var all: [Engine.Execution] = []
                for await execution in group { all.append(execution) }
                return all
            }
            for run in executions.flatMap(\.runs) { report(run) }
        }
    }

    /// Whether any trigger's last run did not succeed: `runs` in the order they ended.
    static func anyFinalFailure(_ runs: [Engine.CompletedRun]) -> Bool {
        var last: [String: RunOutcome] = [:]
        for run in runs { last["\(run.invocation.eventID) \(run.invocation.integration)/\(run.invocation.trigger)"] = run.result.outcome }
        return last.values.contains { $0.isFailure }
    }
}
