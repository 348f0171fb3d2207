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
    /// Limits, strict order, and why runs wait (`RunGate`).
    public let gate: RunGate
    private let routerState: Mutex<Router>
    let minter: TokenMinter
    private let verbosity: HookBusConfiguration.AuditVerbosity
    private let stopping = Atomic<Bool>(false)
    private let ending = Atomic<Bool>(false)
    static let logger = Logger(label: "hookbus.engine")

    /// One access to the audit trail. A store retries the writes it queues, so a failure here
    /// is one it could not even take: logged with the event it concerns and counted on the
    /// store's `AuditHealth` (`/healthz` degraded), never dropped unseen. A read that fails
    /// (after an interruption) is logged too: its triggers then run again (at-least-once).
    func audit<T>(_ what: String, event: String, reading: Bool = false, _ access: () async throws -> T) async -> T? {
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
        gate = RunGate(limits: router.configuration.instances.mapValues(\.limits))
        minter = TokenMinter(source: router.configuration.token)
        verbosity = router.configuration.auditVerbosity
    }

    /// From now on, runs waiting for a slot are not started: their events stay `running` in the
    /// store and are recovered (and those runs repeated) on the next start.
    public func stopStartingRuns() {
        stopping.store(true, ordering: .relaxed)
    }

    var isStopping: Bool { stopping.load(ordering: .relaxed) }

    /// HookBus is about to end the runs still going (the shutdown grace period is over): from
    /// now on a run that does not succeed is recorded `interrupted` — however its script takes
    /// the signal (a trap that exits 143 included) — and repeated on the next start, not
    /// counted as a failed try.
    public func endingRuns() {
        stopping.store(true, ordering: .relaxed)
        ending.store(true, ordering: .relaxed)
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
        /// The attempt it is recorded with.
        let attempt: Int
        /// `Integration|key` when its integration keeps strict order (`DeferredRun.holdKey`).
        let holdKey: String?
        /// The deferred run it carries out (claimed from the store), if any, and its hold key's
        /// retry count when it was claimed (`RunGate.retryEpoch`).
        var deferred: DeferredRun? = nil
        var retryEpoch = 0
        /// Whether it counts against its integration's limits (`RunGate`).
        let admitted: Bool
    }

    /// What `prepare` decided for an event; `execute` carries it out.
    public struct Plan: Sendable {
        public let stored: StoredEvent
        public internal(set) var runs: [PlannedRun]
        public let skipped: [(integration: String, trigger: String, reason: String)]
        /// Who asked for these runs by hand (a re-drive); nil for a sender's event.
        public var requestedBy: String? = nil
        /// The webhook endpoint whose rules filtered the event (nothing runs), for its metric.
        public var filteredBy: String? = nil
        /// Runs that wait on disk instead (beyond their integration's limits).
        public var waiting: [DeferredRun] = []
        /// A plan of claimed deferred runs: their releases, not `execute`, end the event.
        public internal(set) var ofDeferredRuns = false
    }

    /// What `execute` did: the runs that ran, and those that now wait on disk (with why).
    public struct Execution: Sendable {
        public var runs: [CompletedRun]
        public var waiting: [DeferredRun]
    }

    /// The result of one trigger's run, as recorded.
    public struct CompletedRun: Sendable {
        public let runID: Int64?
        public let invocation: Invocation
        public let result: RunResult
        /// Who asked for it by hand, as recorded; nil for a sender's event.
        public var requestedBy: String? = nil
        /// Its retry, when its policy runs it again (`RetryPolicy`).
        public var retry: DeferredRun? = nil
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
        var waiting: [DeferredRun] = []
        var skipped: [(integration: String, trigger: String, reason: String)] = []
        var filtered = false
        for decision in decisions {
            let qualified = "\(decision.integrationName)/\(decision.triggerName)"
            if let previousRuns, previousRuns[qualified] == nil { continue }
            if finished.contains(qualified) { continue }
            switch decision {
            case let .run(invocation):
                let previousRun = previousRuns?[qualified] ?? interrupted[qualified]
                let holdKey = DeferredRun.holdKey(integration: invocation.integration, orderingKey: invocation.orderingKey,
                                                  order: router.configuration.instances[invocation.integration]?.order ?? .strict)
                if case let .wait(reason, dueAt) = gate.admitNew(integration: invocation.integration) {
                    waiting.append(DeferredRun(eventID: event.id, integration: invocation.integration, trigger: invocation.trigger, holdKey: holdKey,
                                               kind: .limit, reason: reason, dueAt: dueAt, attempt: stored.attempt, tries: 0,
                                               previousRun: previousRun, requestedBy: requestedBy))
                    continue
                }
                let ticket = await pool.enqueue(key: invocation.orderingKey)
                gate.queued(eventID: event.id, integration: invocation.integration, trigger: invocation.trigger, ticket: ticket)
                runs.append(PlannedRun(invocation: invocation, ticket: ticket, previousRun: previousRun, attempt: stored.attempt, holdKey: holdKey,
                                       admitted: gate.isLimited(invocation.integration)))
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
        for row in waiting {
            gate.deferred(row)
            _ = await audit("recording a run that waits for its integration's limits", event: event.id) { try await store.deferRun(.insert(row)) }
        }
        return Plan(stored: stored, runs: runs, skipped: skipped, requestedBy: requestedBy,
                    filteredBy: filtered && runs.isEmpty && waiting.isEmpty ? event.source.name : nil, waiting: waiting)
    }

    /// Runs the plan's triggers (in parallel where the pool and their ordering key allow),
    /// records each, then marks the event done.
    /// - Parameter waitForDisk: return only once the records are committed. The CLI and tests
    ///   read them back (or exit) next; the server's dispatcher passes false and saves a thread
    ///   wake-up per event — its audit trail lags by one batch window, as the runs' records do.
    public func execute(_ plan: Plan, waitForDisk: Bool = true) async -> Execution {
        // Most events start one run: no task group (a task and a wake-up fewer per run).
        let steps = plan.runs.count == 1 ? [await runOne(plan.runs[0], stored: plan.stored, requestedBy: plan.requestedBy)] : await withTaskGroup(of: (Int, RunStep).self) { group in
            for (index, planned) in plan.runs.enumerated() {
                group.addTask { (index, await self.runOne(planned, stored: plan.stored, requestedBy: plan.requestedBy)) }
            }
            var results: [(Int, RunStep)] = []
            for await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.map(\.1)
        }
        var execution = Execution(runs: [], waiting: plan.waiting)
        var notStarted = false
        for step in steps {
            switch step {
            case let .ran(run): execution.runs.append(run)
            case let .waiting(row): execution.waiting.append(row)
            case let .notStarted(run):
                execution.runs.append(run)
                notStarted = true
            }
        }
        // An event whose runs were not all started (HookBus is stopping) stays running, to be
        // recovered on the next start. The runs of deferred rows end their event themselves.
        if !notStarted && !plan.ofDeferredRuns {
            _ = await audit("marking the event done", event: plan.stored.event.id) { try await store.eventDone(plan.stored.event.id, waitForDisk: waitForDisk) }
        } else if waitForDisk {
            _ = await audit("writing the run records", event: plan.stored.event.id) { try await store.flush() }
        }
        return execution
    }

    /// `prepare` then `execute`, for one event at a time (the CLI).
    public func dispatch(_ stored: StoredEvent, previousRuns: [String: Int64]? = nil, requestedBy: String? = nil) async -> (plan: Plan, runs: [CompletedRun], waiting: [DeferredRun]) {
        let plan = await prepare(stored, previousRuns: previousRuns, requestedBy: requestedBy)
        let execution = await execute(plan)
        return (plan, execution.runs, execution.waiting)
    }

    /// What became of one planned run.
    enum RunStep: Sendable {
        case ran(CompletedRun)
        /// It waits on disk behind an earlier run of its element (strict order).
        case waiting(DeferredRun)
        /// HookBus is stopping: not started, or ended by the stop (repeated on the next start).
        case notStarted(CompletedRun)
    }

    private func runOne(_ planned: PlannedRun, stored: StoredEvent, requestedBy: String?) async -> RunStep {
        let invocation = planned.invocation
        await pool.wait(planned.ticket)
        if stopping.load(ordering: .relaxed) {
            await pool.finish(planned.ticket)
            if planned.admitted { gate.release(integration: invocation.integration) }
            return .notStarted(CompletedRun(runID: nil, invocation: invocation, result: RunResult(outcome: .interrupted, startedAt: Date(), endedAt: Date(), reason: "HookBus is stopping")))
        }
        // Strict order: behind an element whose earlier run waits for its retry, a fresh run
        // waits on disk too (the claimed deferred runs are the oldest of their element already).
        // A run whose integration's rate would keep it in its slot waits there too (`RunGate.rateHorizon`).
        var wait: (kind: DeferredRun.Kind, reason: String, due: Date)?
        if let key = planned.holdKey {
            if planned.deferred == nil, let holder = gate.holder(of: key) {
                wait = (.order, Self.heldReason(key: key, holder: holder), Date())
            } else if planned.deferred != nil, gate.retryEpoch(of: key) != planned.retryEpoch {
                // Claimed as the first of its element, but a run ahead of it in the pool has
                // failed since, and its retry goes first.
                wait = (.order, Self.heldReason(key: key, holder: gate.holder(of: key) ?? 0), Date())
            }
        }
        let delay = wait == nil ? gate.startDelay(integration: invocation.integration) : 0
        if delay == nil {
            let due = gate.nextStart(integration: invocation.integration)
            wait = (.limit, "\(invocation.integration)'s rate limit: its next start is at \(Event.formatDate(due))", due)
        }
        if let wait {
            let row = DeferredRun(id: planned.deferred?.id ?? 0, eventID: stored.event.id, integration: invocation.integration, trigger: invocation.trigger,
                                  holdKey: planned.holdKey, kind: wait.kind, reason: wait.reason, dueAt: wait.due, attempt: planned.attempt,
                                  tries: planned.deferred?.tries ?? 0, previousRun: planned.previousRun, requestedBy: requestedBy)
            let change: DeferredChange = planned.deferred == nil ? .insert(row) : .reschedule(row)
            _ = await audit("recording a run that waits", event: stored.event.id) { try await store.deferRun(change) }
            count(change, of: planned.deferred)
            gate.started(eventID: stored.event.id, ticket: planned.ticket, runID: nil)
            await pool.finish(planned.ticket)
            if planned.admitted { gate.release(integration: invocation.integration) }
            return .waiting(row)
        }
        if let delay, delay > 0 { try? await Task.sleep(for: .milliseconds(Int64(delay * 1000))) }  // cancelled: starts sooner, as a stop does
        let runID = await audit("recording a run's start", event: stored.event.id) {
            try await store.runStarted(eventID: stored.event.id, attempt: planned.attempt, integration: invocation.integration,
                                       trigger: invocation.trigger, invocation: AuditInvocation.json(invocation, sandbox: runner.sandboxRecord(for: invocation)),
                                       previousRun: planned.previousRun, requestedBy: requestedBy, at: Date(), deferredRow: planned.deferred?.id)
        }
        gate.started(eventID: stored.event.id, ticket: planned.ticket, runID: runID)
        let token = minter.token(for: invocation)
        var result = await runner.run(invocation, token: token)
        Self.finish(&result, of: invocation, token: token)
        // A run ended by HookBus's own stop (after the shutdown grace period) did not fail: it
        // is recorded interrupted, counts as no try, and runs again on the next start (its
        // event stays running, its deferred run claimed — both are recovered).
        let stoppedByUs = ending.load(ordering: .relaxed) && result.outcome != .succeeded
        if stoppedByUs {
            result.outcome = .interrupted
            result.reason = "HookBus stopped while it ran (ended after the shutdown grace period); it runs again on the next start"
        }
        let (change, retry) = stoppedByUs ? (nil, nil) : followUp(&result, of: planned, runID: runID, stored: stored, requestedBy: requestedBy)
        // The end (and its deferred change) is queued before the slot is given up: a pool with
        // no run then has every change to the deferred runs queued (`recountDeferredRunsIfIdle`).
        let keep = verbosity == .all || result.outcome.isFailure
        if let runID {
            _ = await audit("recording a run's end", event: stored.event.id) { try await store.runEnded(id: runID, result: result, keepOutput: keep, deferred: change) }
        } else if let change {
            _ = await audit("recording a run's retry", event: stored.event.id) { try await store.deferRun(change) }
        }
        // Counted before the slot is given up: the next run of the element sees the hold.
        if let change { count(change, of: planned.deferred) }
        gate.ended(ticket: planned.ticket)
        await pool.finish(planned.ticket)
        if planned.admitted { gate.release(integration: invocation.integration) }
        let completed = CompletedRun(runID: runID, invocation: invocation, result: result, requestedBy: requestedBy, retry: retry)
        return stoppedByUs ? .notStarted(completed) : .ran(completed)
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
