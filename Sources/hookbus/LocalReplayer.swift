import Foundation
import HookBus

/// Replays recorded events through this machine's router and runner (or only the router, for a
/// dry run), and re-drives stored events. Every run is recorded in the audit trail with its
/// provenance: the replayed event's id, file and line.
struct LocalReplayer {
    let context: CommandContext
    let output: ReplayOutput
    let dryRun: Bool

    func replay(file: String, strict: Bool, summary: inout ReplaySummary) async throws {
        let total = lineCount(file)
        let reader = RecordedEventReader(handle: try openInput(file))
        let router = context.router
        let engine = dryRun ? nil : try await context.makeEngine()
        var local = summary
        var deferredEvents: Set<String> = []
        var finished: [Engine.CompletedRun] = []
        await withTaskGroup(of: Engine.Execution.self) { group in
            var inFlight = 0
            func collect(_ execution: Engine.Execution) {
                inFlight -= 1
                for run in execution.runs {
                    if run.retry != nil { deferredEvents.insert(run.invocation.eventID) }
                    finished.append(run)
                }
                for row in execution.waiting { deferredEvents.insert(row.eventID) }
                for run in execution.runs where output.json { output.result(run.jsonValue().jsonText) }
            }
            do {
                try await reader.forEachLine { line in
                    if local.stoppedEarly { return }
                    local.read += 1
                    let event: Event
                    switch line.result {
                    case let .success(recorded): event = recorded.replayed(origin: "\(file):\(line.number)")
                    case let .failure(error):
                        output.problem("\(file):\(line.number): \(error.message)")
                        local.skipped += 1
                        if strict { local.stoppedEarly = true }
                        return
                    }
                    let decisions: [RouteDecision]
                    do {
                        decisions = try router.route(event)
                    } catch {
                        output.problem("\(file):\(line.number): \(error.message)")
                        local.skipped += 1
                        if strict { local.stoppedEarly = true }
                        return
                    }
                    local.dispatched += 1
                    if dryRun {
                        for decision in decisions {
                            if case .run = decision { local.runs["would run", default: 0] += 1 } else { local.runs["skipped", default: 0] += 1 }
                        }
                        if output.json {
                            output.result(DryRunReport(event: event, decisions: decisions, interpreters: context.interpreters).json.trimmingCharacters(in: .newlines))
                        } else {
                            output.result("\(file):\(line.number): \(event.hook.rawValue) → " + (decisions.isEmpty ? "no trigger" : decisions.map(Self.describe).joined(separator: "; ")))
                        }
                    } else if let engine {
                        guard let accepted = try? await engine.store.accept([(event, nil)], idempotencyWindow: 0, claimed: true), accepted.first?.duplicate == false else {
                            output.problem("\(file):\(line.number): the event could not be stored")
                            local.skipped += 1
                            return
                        }
                        let plan = await engine.prepare(StoredEvent(event: event, state: .running, attempt: 1))
                        for skip in plan.skipped {
                            local.runs[RunOutcome.skipped.rawValue, default: 0] += 1
                            if !output.json { output.problem("\(file):\(line.number): skipped \(skip.integration)/\(skip.trigger): \(skip.reason)") }
                        }
                        inFlight += 1
                        group.addTask { await engine.execute(plan) }
                        // Backlog waits in the file, not in memory.
                        while inFlight > 4 * engine.pool.limit, let runs = await group.next() { collect(runs) }
                    }
                    output.progress(done: local.read, total: total, what: dryRun ? "routed" : "dispatched")
                }
            } catch {
                output.problem("\(file): \(error)")
                local.stoppedEarly = true
            }
            while let execution = await group.next() { collect(execution) }
        }
        if let engine, !deferredEvents.isEmpty {
            do {
                let left = try await engine.runDeferredRuns(of: deferredEvents, announce: output.json ? { _ in } : RunPrinter.announce) { run in
                    finished.append(run)
                    if output.json { output.result(run.jsonValue().jsonText) }
                }
                RunPrinter.leftToServer(left)
                local.runs["left waiting", default: 0] += left.count
            } catch {
                output.problem("the retries of \(deferredEvents.count) events could not all run here: \(error.message); they stay in the store for `hookbus serve`")
            }
        }
        Self.count(finished, into: &local)
        summary = local
    }

    func redrive(eventID: String?, since: Date?, summary: inout ReplaySummary) async throws {
        let store = try await StoreOpener.open(context.configuration)
        let engine = Engine(store: store, router: context.router,
                            runner: ProcessRunner(interpreters: context.interpreters, configuration: context.configuration, sandbox: context.sandbox))
        var ids: [String] = []
        if let eventID {
            guard try await store.event(id: eventID) != nil else { throw CommandFailure.exit("no stored event with id '\(eventID)'") }
            ids = [eventID]
        } else {
            ids = try await store.events(since: since, onlyFailed: true, limit: 1_000_000).map(\.event.id)
        }
        for id in ids {
            summary.read += 1
            var runs: [Engine.CompletedRun]
            let waiting: [DeferredRun]
            do throws(RedriveError) {
                (runs, waiting) = try await engine.redrive(eventID: id, requestedBy: CommandContext.actor)
            } catch {
                output.problem("\(id): \(error.message)")
                continue
            }
            summary.dispatched += 1
            if !waiting.isEmpty || runs.contains(where: { $0.retry != nil }) {
                let left = try await engine.runDeferredRuns(of: [id], announce: output.json ? { _ in } : RunPrinter.announce) { runs.append($0) }
                RunPrinter.leftToServer(left)
                summary.runs["left waiting", default: 0] += left.count
            }
            Self.count(runs, into: &summary)
            for run in runs {
                if output.json { output.result(run.jsonValue().jsonText) } else {
                    output.problem("\(id): \(run.invocation.integration)/\(run.invocation.trigger) \(run.result.outcome.rawValue)\(run.result.outcome.isFailure && !run.result.stderr.isEmpty ? ": " + run.result.stderr.trimmingCharacters(in: .whitespacesAndNewlines) : "")")
                }
            }
            output.progress(done: summary.read, total: ids.count, what: "re-driven")
        }
    }

    /// Counts runs by the outcome of each trigger's last try: a run that failed and then
    /// succeeded on its retry is one success (its tries are all in the audit trail).
    static func count(_ runs: [Engine.CompletedRun], into summary: inout ReplaySummary) {
        var last: [String: RunOutcome] = [:]
        var order: [String] = []
        for run in runs {
            let key = "\(run.invocation.eventID) \(run.invocation.integration)/\(run.invocation.trigger)"
            if last.updateValue(run.result.outcome, forKey: key) == nil { order.append(key) }
        }
        for key in order { summary.runs[last[key]!.rawValue, default: 0] += 1 }
    }

    static func describe(_ decision: RouteDecision) -> String {
        switch decision {
        case let .run(invocation): return "run \(invocation.integration)/\(invocation.trigger)"
        case let .skip(integration, trigger, reason): return "skip \(integration)/\(trigger) (\(reason))"
        }
    }
}
