public import Foundation
import Synchronization

extension Engine {
    /// Counts the deferred runs a previous process left (after `recoverInterrupted`), so that
    /// their holds and limits apply from the first event on.
    public func loadDeferredRuns() async throws {
        gate.load(try await store.deferredRuns(eventID: nil, limit: Int.max))
    }

    /// Recounts the gate's holds and waiting runs from the store, when this process has nothing
    /// under way (no run in the pool, every record written): what other processes did to the
    /// rows (`hookbus fire` running its retries), and anything a failed write left miscounted,
    /// is then taken in. Returns whether it recounted.
    @discardableResult
    public func recountDeferredRunsIfIdle() async throws -> Bool {
        guard await pool.running == 0, await pool.waiting == 0 else { return false }
        try await store.flush()
        let rows = try await store.deferredRuns(eventID: nil, limit: Int.max)
        guard await pool.running == 0, await pool.waiting == 0 else { return false }
        gate.recount(rows)
        return true
    }

    /// Whether a claim of deferred runs may find any (false until one was written or found).
    public var mayHaveDeferredRuns: Bool { gate.mayHaveDeferred }

    /// Claims deferred runs that are due (oldest first, one per element, within the limits)
    /// and plans each; `execute` runs them. Call from the task that prepares events, so that
    /// their places in the pool are taken in order.
    /// - Parameter eventIDs: only runs of these events (the CLI waiting for its own).
    public func claimDeferred(limit: Int, eventIDs: Set<String>? = nil, now: Date = Date()) async throws -> [Plan] {
        let gate = self.gate
        // Epochs first, then every queued record to disk, then the claim: a row the gate
        // counted before these epochs is on disk for the claim to see, and one written after
        // moves the epoch, so the run claimed yields to it at its slot if it belongs first.
        let epochs = gate.retryEpochs()
        try await store.flush()
        let admitted = Mutex<[DeferredRun]>([])
        let claimed: [(run: DeferredRun, event: StoredEvent)]
        do {
            claimed = try await store.claimDeferred(now: now, limit: limit, eventIDs: eventIDs, blocked: gate.blocked(now: now)) { run in
                guard gate.admitDeferred(run, now: now) else { return false }
                admitted.withLock { $0.append(run) }
                return true
            }
        } catch {
            // Nothing was claimed: what the gate counted for it is given back.
            for run in admitted.withLock({ $0 }) { gate.unclaimed(run) }
            throw error
        }
        var plans: [Plan] = []
        for (run, stored) in claimed { plans.append(await prepareDeferred(run, stored: stored, epoch: run.holdKey.flatMap { epochs[$0] } ?? 0)) }
        return plans
    }

    /// The plan of one claimed deferred run: its trigger routed again from the stored event.
    /// A trigger that is gone (a reload removed it) ends the run with an `error` record.
    private func prepareDeferred(_ row: DeferredRun, stored: StoredEvent, epoch: Int) async -> Plan {
        var plan = Plan(stored: stored, runs: [], skipped: [], requestedBy: row.requestedBy)
        plan.ofDeferredRuns = true
        var problem = "its trigger \(row.qualifiedTrigger) is no longer loaded"
        do {
            for decision in try router.route(stored.event) where "\(decision.integrationName)/\(decision.triggerName)" == row.qualifiedTrigger {
                guard case let .run(invocation) = decision else {
                    problem = "its trigger no longer runs for this event"
                    break
                }
                let ticket = await pool.enqueue(key: invocation.orderingKey)
                gate.queued(eventID: stored.event.id, integration: row.integration, trigger: row.trigger, ticket: ticket)
                var planned = PlannedRun(invocation: invocation, ticket: ticket, previousRun: row.previousRun, attempt: row.attempt,
                                         holdKey: row.holdKey, admitted: gate.isLimited(row.integration))
                planned.deferred = row
                planned.retryEpoch = epoch
                plan.runs = [planned]
                return plan
            }
        } catch {
            problem = error.message
        }
        gate.release(integration: row.integration)
        gate.released(row)
        let now = Date()
        let reason = "a deferred run (\(row.kind.rawValue)) could not run: \(problem)"
        if let id = await audit("recording a deferred run that cannot run", event: stored.event.id, {
            try await store.runStarted(eventID: stored.event.id, attempt: row.attempt, integration: row.integration, trigger: row.trigger, invocation: nil,
                                       previousRun: row.previousRun, requestedBy: row.requestedBy, at: now)
        }) {
            _ = await audit("recording a deferred run that cannot run", event: stored.event.id) {
                try await store.runEnded(id: id, result: .error(reason, at: now), keepOutput: true, deferred: .release(id: row.id, eventID: stored.event.id))
            }
        } else {
            _ = await audit("releasing a deferred run that cannot run", event: stored.event.id) { try await store.deferRun(.release(id: row.id, eventID: stored.event.id)) }
        }
        return plan
    }
}

/// Why a run that has not finished is not running, for `GET /api/v1/events/{id}`, `hookbus
/// audit` and the metrics. Every unfinished event has at least one (`Engine.waitingReasons`).
public struct WaitReason: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// Stored, not yet claimed by the dispatcher (events ahead of it).
        case backlog
        /// Claimed; waiting for one of the run pool's slots.
        case slot
        /// Behind an earlier run of the same element (running, or waiting for its retry).
        case order
        /// Its earlier try failed; runs again at `dueAt`.
        case retry
        /// Beyond its integration's `max_concurrency` or `max_per_minute`.
        case limit
    }

    public var kind: Kind
    /// `Integration/Trigger`, nil for an event not yet routed.
    public var trigger: String?
    public var reason: String
    public var dueAt: Date?
    public var attempt: Int?

    public init(kind: Kind, trigger: String?, reason: String, dueAt: Date? = nil, attempt: Int? = nil) {
        self.kind = kind
        self.trigger = trigger
        self.reason = reason
        self.dueAt = dueAt
        self.attempt = attempt
    }

    /// A deferred run's reason.
    public init(_ run: DeferredRun) {
        let kind: Kind = switch run.kind {
        case .retry: .retry
        case .order: .order
        case .limit: .limit
        }
        self.init(kind: kind, trigger: run.qualifiedTrigger, reason: run.claimed ? "starting: \(run.reason)" : run.reason,
                  dueAt: run.dueAt, attempt: run.attempt)
    }
}

extension Engine {
    /// Why the event's unfinished runs are not running: its deferred runs (from the store), its
    /// runs in this process's pool, or — not yet claimed — the backlog ahead of it.
    public func waitingReasons(for stored: StoredEvent) async throws -> [WaitReason] {
        guard stored.state != .done else { return [] }
        var reasons = try await store.deferredRuns(eventID: stored.event.id, limit: 10_000).map(WaitReason.init)
        for (wait, behind) in gate.poolWaits(eventID: stored.event.id) {
            let trigger = "\(wait.integration)/\(wait.trigger)"
            if let key = wait.ticket.key, let behind {
                reasons.append(WaitReason(kind: .order, trigger: trigger, reason: "queued behind run \(behind) of \(key), which is running"))
            } else {
                let waiting = await pool.waiting
                reasons.append(WaitReason(kind: .slot, trigger: trigger,
                                          reason: "waiting for a run slot: all \(pool.limit) are in use (\(waiting) runs in line)"))
            }
        }
        if reasons.isEmpty {
            switch stored.state {
            case .pending:
                let ahead = try await store.pendingAhead(of: stored.event.id)
                reasons.append(WaitReason(kind: .backlog, trigger: nil,
                                          reason: "stored, waiting for the dispatcher: \(ahead) stored event\(ahead == 1 ? "" : "s") ahead of it; it takes more while the run pool has room"))
            case .running:
                reasons.append(WaitReason(kind: .slot, trigger: nil, reason: "claimed by a dispatcher (this or another process sharing the store); its runs are starting"))
            case .waiting, .done:
                break
            }
        }
        return reasons
    }
}
