public import Foundation
import Logging
import Synchronization

/// Ties the store, the router and the runner together: takes a stored event, decides what runs,
/// runs it through the pool, and records every run and skip in the audit trail. The server's
/// dispatcher, `hookbus fire` and `hookbus replay` all dispatch through this one path.
public final class Engine: Sendable {
    public let store: any EventStore
    public let runner: any TriggerRunner
    public let pool: RunPool
    private let routerState: Mutex<Router>
    let minter: TokenMinter
    private let verbosity: HookBusConfiguration.AuditVerbosity
    private let stopping = Atomic<Bool>(false)
    private static let logger = Logger(label: "hookbus.engine")

    /// One access to the audit trail. A store retries the writes it queues, so a failure here
    /// is one it could not even take: logged with the event it concerns and counted on the
    /// store's `AuditHealth` (`/healthz` degraded), never dropped unseen. A read that fails
    /// (after an interruption) is logged too: its triggers then run again (at-least-once).
    private func audit<T>(_ what: String, event: String, reading: Bool = false, _ access: () async throws -> T) async -> T? {
        do {
            return try await access()
        } catch {
            Self.logger.error("audit trail: \(what) failed", metadata: ["event": "\(event)", "error": "\(error)"])
            // A failed read is logged only: the health says whether records are being written.
            if !reading { store.auditHealth.failed(error) }
            return nil
        }
    }

    public init(store: any EventStore, router: Router, runner: any TriggerRunner) {
        self.store = store
        self.runner = runner
        routerState = Mutex(router)
        pool = RunPool(limit: router.configuration.concurrency)
        minter = TokenMinter(source: router.configuration.token)
        verbosity = router.configuration.auditVerbosity
    }

    /// From now on, runs waiting for a slot are not started: their events stay `running` in the
    /// store and are recovered (and those runs repeated) on the next start.
    public func stopStartingRuns() {
        stopping.store(true, ordering: .relaxed)
    }

    /// The router in use; a reload swaps it whole.
    public var router: Router { routerState.withLock { $0 } }

    /// Swaps in a new catalog (after a reload). Runs already prepared keep the old one.
    public func replaceCatalog(_ catalog: Catalog) {
        routerState.withLock { $0 = Router(catalog: catalog, configuration: $0.configuration) }
    }

    /// One trigger's run as planned: its invocation, its place in the pool, and the earlier run
    /// it repeats (after an interruption, or in a re-drive).
    public struct PlannedRun: Sendable {
        public let invocation: Invocation
        let ticket: RunPool.Ticket
        let previousRun: Int64?
    }

    /// What `prepare` decided for an event; `execute` carries it out.
    public struct Plan: Sendable {
        public let stored: StoredEvent
        public let runs: [PlannedRun]
        public let skipped: [(integration: String, trigger: String, reason: String)]
        /// Who asked for these runs by hand (a re-drive); nil for a sender's event.
        public var requestedBy: String? = nil
        /// The webhook endpoint whose rules filtered the event (nothing runs), for its metric.
        public var filteredBy: String? = nil
    }

    /// The result of one trigger's run, as recorded.
    public struct CompletedRun: Sendable {
        public let runID: Int64?
        public let invocation: Invocation
        public let result: RunResult
        /// Who asked for it by hand, as recorded; nil for a sender's event.
        public var requestedBy: String? = nil
    }

    /// Routes the event and takes places in the pool for its runs, in call order — call it in
    /// arrival order from one task so that runs about the same element start in that order.
    /// Skips are recorded now. An event that cannot be routed (its trigger vanished in a reload)
    /// is recorded with an `error` run and marked done.
    /// - Parameters:
    ///   - previousRuns: for a re-drive, the earlier run to link per `Integration/Trigger`;
    ///     only those triggers run.
    ///   - requestedBy: who asked for a re-drive, recorded with each run.
    public func prepare(_ stored: StoredEvent, previousRuns: [String: Int64]? = nil, requestedBy: String? = nil) async -> Plan {
        let event = stored.event
        let decisions: [RouteDecision]
        do {
            decisions = try router.route(event)
        } catch {
            let now = Date()
            if let id = await audit("recording an event that cannot be routed", event: event.id, {
                try await store.runStarted(eventID: event.id, attempt: stored.attempt, integration: "-", trigger: event.trigger ?? "-", invocation: nil, previousRun: nil, requestedBy: requestedBy, at: now)
            }) {
                _ = await audit("recording an event that cannot be routed", event: event.id) { try await store.runEnded(id: id, result: .error(error.message, at: now), keepOutput: true) }
            }
            return Plan(stored: stored, runs: [], skipped: [], requestedBy: requestedBy)
        }
        // After an interruption, triggers that already finished are not run again.
        var finished: Set<String> = []
        var interrupted: [String: Int64] = [:]
        if stored.attempt > 1 && previousRuns == nil {
            finished = await audit("reading the triggers that finished before an interruption", event: event.id, reading: true) { try await store.finishedTriggers(eventID: event.id) } ?? []
            let interruptedRuns = await audit("reading the interrupted runs", event: event.id, reading: true) {
                try await store.runs(RunFilter(eventID: event.id, outcome: RunOutcome.interrupted.rawValue, limit: 10_000))
            }
            for run in interruptedRuns ?? [] {
                interrupted["\(run.integration)/\(run.trigger)"] = max(interrupted["\(run.integration)/\(run.trigger)"] ?? 0, run.id)
            }
        }
        var runs: [PlannedRun] = []
        var skipped: [(integration: String, trigger: String, reason: String)] = []
        var filtered = false
        for decision in decisions {
            let qualified = "\(decision.integrationName)/\(decision.triggerName)"
            if let previousRuns, previousRuns[qualified] == nil { continue }
            if finished.contains(qualified) { continue }
            switch decision {
            case let .run(invocation):
                let ticket = await pool.enqueue(key: invocation.orderingKey)
                runs.append(PlannedRun(invocation: invocation, ticket: ticket, previousRun: previousRuns?[qualified] ?? interrupted[qualified]))
            case let .skip(integration, trigger, reason):
                skipped.append((integration, trigger, reason.description))
                filtered = filtered || reason.isFiltered
            }
        }
        let now = Date()
        for skip in skipped {
            _ = await audit("recording a skip", event: event.id) {
                try await store.runSkipped(eventID: event.id, attempt: stored.attempt, integration: skip.integration, trigger: skip.trigger, reason: skip.reason, at: now)
            }
        }
        return Plan(stored: stored, runs: runs, skipped: skipped, requestedBy: requestedBy,
                    filteredBy: filtered && runs.isEmpty ? event.source.name : nil)
    }

    /// Runs the plan's triggers (in parallel where the pool and their ordering key allow),
    /// records each, then marks the event done.
    /// - Parameter waitForDisk: return only once the records are committed. The CLI and tests
    ///   read them back (or exit) next; the server's dispatcher passes false and saves a thread
    ///   wake-up per event — its audit trail lags by one batch window, as the runs' records do.
    public func execute(_ plan: Plan, waitForDisk: Bool = true) async -> [CompletedRun] {
        // Most events start one run: no task group (a task and a wake-up fewer per run).
        let completed = plan.runs.count == 1 ? [await runOne(plan.runs[0], stored: plan.stored, requestedBy: plan.requestedBy)] : await withTaskGroup(of: (Int, CompletedRun).self) { group in
            for (index, planned) in plan.runs.enumerated() {
                group.addTask { (index, await self.runOne(planned, stored: plan.stored, requestedBy: plan.requestedBy)) }
            }
            var results: [(Int, CompletedRun)] = []
            for await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.map(\.1)
        }
        // An event whose runs were not all started (HookBus is stopping) stays running, to be
        // recovered on the next start.
        if !completed.contains(where: { $0.runID == nil && $0.result.outcome == .interrupted }) {
            _ = await audit("marking the event done", event: plan.stored.event.id) { try await store.eventDone(plan.stored.event.id, waitForDisk: waitForDisk) }
        }
        return completed
    }

    /// `prepare` then `execute`, for one event at a time (the CLI).
    public func dispatch(_ stored: StoredEvent, previousRuns: [String: Int64]? = nil, requestedBy: String? = nil) async -> (plan: Plan, runs: [CompletedRun]) {
        let plan = await prepare(stored, previousRuns: previousRuns, requestedBy: requestedBy)
        return (plan, await execute(plan))
    }

    private func runOne(_ planned: PlannedRun, stored: StoredEvent, requestedBy: String?) async -> CompletedRun {
        let invocation = planned.invocation
        await pool.wait(planned.ticket)
        if stopping.load(ordering: .relaxed) {
            await pool.finish(planned.ticket)
            return CompletedRun(runID: nil, invocation: invocation, result: RunResult(outcome: .interrupted, startedAt: Date(), endedAt: Date(), reason: "HookBus is stopping"))
        }
        let runID = await audit("recording a run's start", event: stored.event.id) {
            try await store.runStarted(eventID: stored.event.id, attempt: stored.attempt, integration: invocation.integration,
                                       trigger: invocation.trigger, invocation: AuditInvocation.json(invocation),
                                       previousRun: planned.previousRun, requestedBy: requestedBy, at: Date())
        }
        let token = minter.token(for: invocation)
        var result = await runner.run(invocation, token: token)
        await pool.finish(planned.ticket)
        Self.finish(&result, of: invocation, token: token)
        if let runID {
            let keep = verbosity == .all || result.outcome.isFailure
            _ = await audit("recording a run's end", event: stored.event.id) { try await store.runEnded(id: runID, result: result, keepOutput: keep) }
        }
        return CompletedRun(runID: runID, invocation: invocation, result: result, requestedBy: requestedBy)
    }

    /// What every run's result goes through before anyone sees it: a script that prints a secret
    /// it was given (or its token) does not put it in the audit trail, and the action's `output`
    /// and `table_view` are evaluated on what is left.
    static func finish(_ result: inout RunResult, of invocation: Invocation, token: String) {
        let secrets = invocation.secretValues + (token.isEmpty ? [] : [token])
        result.stdout = scrub(result.stdout, secrets: secrets)
        result.stderr = scrub(result.stderr, secrets: secrets)
        result.results = invocation.resultSpec.evaluate(stdout: result.stdout)
    }

    static func scrub(_ text: String, secrets: [String]) -> String {
        var text = text
        for secret in secrets where secret.count >= 4 && text.contains(secret) {
            text = text.replacingOccurrences(of: secret, with: Secret.mask)
        }
        return text
    }
}

extension Error {
    /// The one-line reason of an error, for messages and the audit trail.
    public var message: String {
        if let error = self as? EventError { return error.message }
        if let error = self as? IntegrationError { return error.message }
        return "\(self)"
    }
}
