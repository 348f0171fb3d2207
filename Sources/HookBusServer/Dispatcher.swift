public import Foundation
#if canImport(Glibc)
import Glibc
#endif
public import HookBus
public import Logging
public import ServiceLifecycle
import Synchronization

/// Wakes the dispatcher when new events are committed, so it need not poll the store tightly.
///
/// One waiter at a time (the dispatcher). A signal with nobody waiting is remembered, so a commit
/// between two waits is not missed. (An `AsyncStream` does not fit: cancelling the task that
/// waits on it — as a timeout must — finishes the stream, and every later wait then returned at
/// once, which made an idle server spin.)
public final class Wakeup: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
        var generation = 0
    }

    private let state = Mutex(State())

    public init() {}

    public func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.pending = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Returns at the next signal (or at once if one came since the last wait), or after `timeout`.
    func wait(timeout: Duration) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let generation = state.withLock { state -> Int? in
                if state.pending {
                    state.pending = false
                    return nil
                }
                state.generation += 1
                state.waiter = continuation
                return state.generation
            }
            guard let generation else {
                continuation.resume()
                return
            }
            Task { [self] in
                try? await Task.sleep(for: timeout)
                expire(generation)
            }
        }
    }

    private func expire(_ generation: Int) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard state.generation == generation, let waiter = state.waiter else { return nil }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }
}

/// The count of events accepted and not yet dispatched to the end, kept in memory so the accept
/// path can refuse work (503) without a query.
public final class BacklogCounter: Sendable {
    private let value = Atomic<Int>(0)
    public init() {}
    public var count: Int { value.load(ordering: .relaxed) }
    func set(_ count: Int) { value.store(count, ordering: .relaxed) }
    func add(_ count: Int) { value.add(count, ordering: .relaxed) }
}

/// The background service that claims stored events, dispatches them through the engine, and
/// records the runs. Events wait on disk, not in memory: it claims more only while the pool's
/// queue is short. On start it recovers what a previous process left running.
public struct Dispatcher: Service {
    let engine: Engine
    let metrics: ServerMetrics
    let wakeup: Wakeup
    let backlog: BacklogCounter
    let completions: EventCompletions
    /// The console's open pages, told how each execution's runs ended (`LiveFeed.Item.ran`).
    let feed: LiveFeed?
    let logger: Logger
    /// How long running triggers may go on after a shutdown starts before they are ended.
    let shutdownGrace: Duration

    public init(engine: Engine, metrics: ServerMetrics, wakeup: Wakeup, backlog: BacklogCounter, completions: EventCompletions, feed: LiveFeed? = nil,
                logger: Logger, shutdownGrace: Duration = .seconds(10)) {
        self.completions = completions
        self.feed = feed
        self.engine = engine
        self.metrics = metrics
        self.wakeup = wakeup
        self.backlog = backlog
        self.logger = logger
        self.shutdownGrace = shutdownGrace
    }

    /// How long a stop waits for the last run records when the store refuses them.
    static let finalFlushLimit = Duration.seconds(10)

    public func run() async throws {
        // A shared store says when another node (or this one's run records) freed work.
        engine.store.onWorkReady { [wakeup] in wakeup.signal() }
        let recovered = try await engine.store.recoverInterrupted()
        if recovered > 0 { logger.warning("recovered events left running by a previous process; their interrupted runs will be repeated", metadata: ["events": "\(recovered)"]) }
        try await engine.loadDeferredRuns()
        backlog.set(try await engine.store.backlog())
        metrics.backlog(backlog.count)
        let stopping = Atomic<Bool>(false)
        let limit = engine.pool.limit
        var lastDeferredLook = ContinuousClock.now
        var lastRecount = ContinuousClock.now
        var lastBacklogRead = ContinuousClock.now
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                while !stopping.load(ordering: .relaxed) {
                    // Claim again while a few dozen runs still wait, so the slots never idle while
                    // the next claim (a write, behind the audit trail's) is under way.
                    await engine.pool.waitForRoom(maxWaiting: max(32, 4 * limit))
                    // Deferred runs first (they are older): retries that are due, runs held
                    // behind them, runs within their integration's limits again. Looked for
                    // when this process deferred any, and once a second for those another
                    // process (`hookbus fire` on the same store) left.
                    let now = ContinuousClock.now
                    // A shared store's backlog is the cluster's: other nodes run events this
                    // one accepted, and the other way round. Read afresh once a second, so that
                    // the 503 of a full backlog answers for the cluster, not for a drift.
                    if engine.store.isShared, now - lastBacklogRead > .seconds(1) {
                        lastBacklogRead = now
                        do { backlog.set(try await engine.store.backlog()) } catch { logger.error("cannot count the backlog: \(error)") }
                    }
                    if engine.mayHaveDeferredRuns || now - lastDeferredLook > .seconds(1) {
                        lastDeferredLook = now
                        do {
                            for plan in try await engine.claimDeferred(limit: max(32, 4 * limit)) { execute(plan, in: &group) }
                        } catch {
                            logger.error("cannot claim deferred runs: \(error)")
                        }
                    }
                    let claimed: [StoredEvent]
                    do {
                        claimed = try await engine.store.claimPending(limit: max(128, 16 * limit))
                    } catch {
                        logger.error("cannot claim events: \(error)")
                        try? await Task.sleep(for: .seconds(1))
                        continue
                    }
                    if claimed.isEmpty {
                        metrics.backlog(backlog.count)
                        // Idle: every ten seconds, the holds and waiting runs are counted afresh
                        // from the store (rows other processes changed; a write that failed).
                        if now - lastRecount > .seconds(10) {
                            lastRecount = now
                            do { try await engine.recountDeferredRunsIfIdle() } catch { logger.error("cannot count the deferred runs: \(error)") }
                        }
                        // A retry is due to the quarter second.
                        await wakeup.wait(timeout: .milliseconds(250))
                        continue
                    }
                    for stored in claimed {
                        let plan = await engine.prepare(stored)
                        if let endpoint = plan.filteredBy { metrics.webhookFiltered(endpoint: endpoint) }
                        execute(plan, in: &group, countsInBacklog: true)
                    }
                }
                // Shutting down: running triggers get a grace period, then are ended; they stay
                // recorded as running and are repeated (attempt 2) on the next start.
                engine.stopStartingRuns()
                group.addTask {
                    let deadline = ContinuousClock.now + shutdownGrace
                    while RunningProcesses.count > 0, ContinuousClock.now < deadline {
                        try? await Task.sleep(for: .milliseconds(50))
                    }
                    if RunningProcesses.count > 0 {
                        logger.warning("ending \(RunningProcesses.count) runs still going after the shutdown grace period; they will be repeated on the next start")
                        engine.endingRuns()
                        RunningProcesses.signalAll(SIGTERM)
                        try? await Task.sleep(for: .seconds(2))
                        RunningProcesses.signalAll(SIGKILL)
                    }
                }
            }
            // The runs' records and done marks are written in batches that nobody waited for:
            // they reach the disk before the server exits — unless the store keeps refusing them
            // (it retries), in which case the stop does not wait for ever: what is left unwritten
            // is what a crash would leave, and those runs are repeated on the next start.
            let written = await endsWithin(Self.finalFlushLimit, { try await engine.store.flush() },
                                           failed: { logger.error("the last run records could not be written: \($0)") })
            if !written {
                logger.critical("the store still refuses run records after \(Self.finalFlushLimit); stopping without them: their runs will be repeated on the next start")
            }
        } onGracefulShutdown: {
            stopping.store(true, ordering: .relaxed)
            wakeup.signal()
            Task { await engine.pool.stopProducing() }
        }
    }
}

extension Dispatcher {
    /// Runs a plan in its own task; logs and counts each run, and tells whoever waits for the
    /// event (`?wait`). `countsInBacklog`: an event the dispatcher claimed (not a deferred run).
    func execute(_ plan: Engine.Plan, in group: inout DiscardingTaskGroup, countsInBacklog: Bool = false) {
        group.addTask {
            let execution = await engine.execute(plan, waitForDisk: false)
            let eventID = plan.stored.event.id
            for run in execution.runs {
                let trigger = "\(run.invocation.integration)/\(run.invocation.trigger)"
                metrics.run(outcome: run.result.outcome.rawValue, trigger: run.invocation.trigger, duration: .seconds(run.result.duration))
                if run.result.outcome == .dead { metrics.dead(trigger: run.invocation.trigger) }
                if run.retry != nil { metrics.retried(trigger: run.invocation.trigger) }
                var metadata: Logger.Metadata = ["event": "\(eventID)", "trigger": "\(trigger)", "duration": "\(String(format: "%.3f", run.result.duration))"]
                if let id = run.runID { metadata["run"] = "\(id)" }
                if let retry = run.retry { metadata["retry"] = "\(retry.reason)" }
                let level: Logger.Level = run.result.outcome == .dead ? .error : run.result.outcome.isFailure ? .warning : .info
                logger.log(level: level, "run \(run.result.outcome.rawValue)", metadata: metadata)
            }
            for row in execution.waiting {
                logger.info("run waits on disk (\(row.kind.rawValue))", metadata: ["event": "\(eventID)", "trigger": "\(row.qualifiedTrigger)", "reason": "\(row.reason)"])
            }
            if countsInBacklog { backlog.add(-1) }
            completions.finished(eventID)
            if let feed, feed.isWatched {
                var outcomes: [String: Int] = [:]
                for run in execution.runs { outcomes[run.result.outcome.rawValue, default: 0] += 1 }
                if !plan.skipped.isEmpty { outcomes[RunOutcome.skipped.rawValue, default: 0] += plan.skipped.count }
                // The event's state when this execution decides it: waiting when it left runs on
                // disk, done when it ran the event's whole plan; after runs that waited, other
                // rows may still wait, so the page keeps the state it shows.
                let state: String? = !execution.waiting.isEmpty ? "waiting" : plan.ofDeferredRuns ? nil : "done"
                feed.publish([.ran(eventID: eventID, state: state, outcomes: outcomes)])
            }
        }
    }
}

/// Applies the audit trail's retention (by age and by count) at start and every ten minutes.
public struct RetentionService: Service {
    let store: any EventStore
    let days: Double?
    let runs: Int?
    let logger: Logger

    public init(store: any EventStore, days: Double?, runs: Int?, logger: Logger) {
        self.store = store
        self.days = days
        self.runs = runs
        self.logger = logger
    }

    public func run() async throws {
        guard days != nil || runs != nil else {
            // Nothing to do; a service that returns early would stop the group.
            try? await gracefulShutdown()
            return
        }
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    // Nodes sharing a store take turns (the lead is held for a few seconds,
                    // and every node asks every ten minutes): one deletes at a time.
                    if try await store.holdsLead("retention") {
                        let removed = try await store.applyRetention(maxAge: days.map { $0 * 86400 }, maxRuns: runs)
                        if removed > 0 { logger.info("retention removed \(removed) runs from the audit trail") }
                    }
                } catch {
                    logger.error("retention failed: \(error)")
                }
                try await Task.sleep(for: .seconds(600))
            }
        }
    }
}
