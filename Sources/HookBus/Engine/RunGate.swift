public import Foundation
import Synchronization

/// The one place that decides whether a run may start now or must wait on disk, and that knows
/// why every run of this process that has not started is waiting.
///
/// - **Limits** (`max_concurrency`, `max_per_minute` of an integration): a run beyond them waits
///   on disk (a `limit` deferred run); once any does, the integration's later runs queue behind
///   it, so that the limits never reorder runs.
/// - **Strict order**: while an element (`Integration|incident:42`) has deferred runs — the
///   first of them a retry — its later runs wait on disk behind them (`order`).
///
/// Its counts are this process's view: rows it added or claimed, and those found at start. The
/// dispatcher claims deferred runs from the store, where a row written by another process
/// (`hookbus fire` on the same file) is found too.
public final class RunGate: Sendable {
    /// What `admitNew` decided.
    public enum Admission: Sendable, Equatable {
        case run
        case wait(reason: String, dueAt: Date)
    }

    /// Why a run of this process has not started (`Engine.waitingReasons`).
    public struct PoolWait: Sendable {
        public let integration: String
        public let trigger: String
        let ticket: RunPool.Ticket
    }

    private struct State {
        /// Deferred rows per hold key (waiting or claimed), and the run whose retry heads it.
        var holds: [String: Int] = [:]
        var holdHeads: [String: Int64] = [:]
        /// Retries written per hold key: a claimed run of the key that sees this change before
        /// it starts yields to the retry (which arrived before it).
        var retryEpochs: [String: Int] = [:]
        /// Runs of a limited integration admitted (waiting for a slot in the pool or running).
        var admitted: [String: Int] = [:]
        /// `limit` rows of an integration not yet claimed: its later runs queue behind them.
        var limitWaiting: [String: Int] = [:]
        /// The earliest admission a limited integration's rate allows next.
        var nextStart: [String: Date] = [:]
        /// The earliest process start its rate allows next (`startDelay`).
        var nextProcessStart: [String: Date] = [:]
        /// Rows not claimed, by kind (the metrics' `hookbus_runs_waiting`).
        var waitingByKind: [DeferredRun.Kind: Int] = [:]
        /// Runs of events in the pool, not yet started, by event id.
        var inPool: [String: [PoolWait]] = [:]
        /// The run under way for each ordering key (for "queued behind run X").
        var runningByKey: [String: Int64] = [:]
    }

    private let state = Mutex(State())
    private let limits: [String: IntegrationLimits]

    init(limits: [String: IntegrationLimits]) {
        self.limits = limits.filter { !$0.value.isEmpty }
    }

    /// Takes in what the store holds at start (rows waiting from before a restart).
    public func load(_ rows: [DeferredRun]) {
        state.withLock { state in
            for row in rows { Self.count(row, into: &state) }
        }
    }

    /// Starts the counts of rows afresh from the store's (`Engine.recountDeferredRunsIfIdle`);
    /// the runs admitted (under way) and the rates are this process's own and kept.
    func recount(_ rows: [DeferredRun]) {
        state.withLock { state in
            let heads = state.holdHeads
            let epochs = state.retryEpochs
            state.holds = [:]
            state.holdHeads = [:]
            state.waitingByKind = [:]
            state.limitWaiting = [:]
            for row in rows { Self.count(row, into: &state) }
            for (key, head) in heads where state.holds[key] != nil && state.holdHeads[key] == nil { state.holdHeads[key] = head }
            state.retryEpochs = epochs.filter { state.holds[$0.key] != nil }
        }
    }

    /// A run `admitDeferred` counted was not claimed after all (the claim failed).
    func unclaimed(_ run: DeferredRun) {
        state.withLock { state in
            if limits[run.integration] != nil { state.admitted[run.integration, default: 1] -= 1 }
            state.waitingByKind[run.kind, default: 0] += 1
            if run.kind == .limit { state.limitWaiting[run.integration, default: 0] += 1 }
        }
    }

    private static func count(_ row: DeferredRun, into state: inout State) {
        if let key = row.holdKey {
            state.holds[key, default: 0] += 1
            if state.holdHeads[key] == nil, let previous = row.previousRun { state.holdHeads[key] = previous }
        }
        if !row.claimed {
            state.waitingByKind[row.kind, default: 0] += 1
            if row.kind == .limit { state.limitWaiting[row.integration, default: 0] += 1 }
        }
    }

    // MARK: Limits

    /// Whether a fresh run of `integration` may take a place in the pool now; counts it if so.
    func admitNew(integration: String, now: Date = Date()) -> Admission {
        guard let limit = limits[integration] else { return .run }
        return state.withLock { state in
            if let ahead = state.limitWaiting[integration], ahead > 0 {
                return .wait(reason: "queued behind \(ahead) earlier run\(ahead == 1 ? "" : "s") of \(integration) waiting for its limits (\(Self.describe(limit)))",
                             dueAt: state.nextStart[integration] ?? now)
            }
            if let refusal = Self.refusal(integration, limit, now: now, state: state) { return refusal }
            Self.take(integration, limit, now: now, state: &state)
            return .run
        }
    }

    /// Whether a claimed deferred run may start now (limits only: the store gave the oldest of
    /// its hold key); counts it if so.
    func admitDeferred(_ run: DeferredRun, now: Date = Date()) -> Bool {
        state.withLock { state in
            if let limit = limits[run.integration] {
                if Self.refusal(run.integration, limit, now: now, state: state) != nil { return false }
                Self.take(run.integration, limit, now: now, state: &state)
            }
            // A row another process wrote is not in these counts: they never go below zero.
            state.waitingByKind[run.kind] = max(0, state.waitingByKind[run.kind, default: 0] - 1)
            if run.kind == .limit { state.limitWaiting[run.integration] = max(0, state.limitWaiting[run.integration, default: 0] - 1) }
            return true
        }
    }

    /// Integrations that can start nothing now: the claim passes their rows over.
    func blocked(now: Date = Date()) -> Set<String> {
        state.withLock { state in
            Set(limits.compactMap { name, limit in Self.refusal(name, limit, now: now, state: state) == nil ? nil : name })
        }
    }

    /// A run counted by `admitNew`/`admitDeferred` is over (or went to wait on disk).
    func release(integration: String) {
        guard limits[integration] != nil else { return }
        state.withLock { state in state.admitted[integration, default: 1] -= 1 }
    }

    public func isLimited(_ integration: String) -> Bool { limits[integration] != nil }

    /// How far ahead a rate-limited run may be admitted, and the longest it then sleeps in its
    /// slot for its start; a longer wait is spent on disk (a `limit` deferred run), so that a
    /// slot is never held for long. Short, yet long enough that a high rate (thousands a
    /// minute) admits the dispatcher's batches without sending them to disk.
    static let rateHorizon: TimeInterval = 0.05

    /// How long a run of `integration` that has its slot waits before its process starts (that
    /// start then counted), or nil when it should wait on disk instead: admission spaces runs
    /// out, but runs admitted apart can reach their slots together (a pool that was full, a
    /// busy machine), and it is the starts the incident system sees. Usually zero.
    func startDelay(integration: String, now: Date = Date()) -> TimeInterval? {
        guard let perMinute = limits[integration]?.maxPerMinute else { return 0 }
        return state.withLock { state in
            let start = max(now, state.nextProcessStart[integration] ?? now)
            let delay = start.timeIntervalSince(now)
            if delay > Self.rateHorizon { return nil }
            state.nextProcessStart[integration] = start.addingTimeInterval(60 / perMinute)
            return delay
        }
    }

    /// When the rate lets a run of `integration` start next (for a run sent to wait on disk).
    func nextStart(integration: String) -> Date {
        state.withLock { state in max(state.nextProcessStart[integration] ?? Date(), state.nextStart[integration] ?? Date()) }
    }

    private static func refusal(_ integration: String, _ limit: IntegrationLimits, now: Date, state: State) -> Admission? {
        if let most = limit.maxConcurrency, state.admitted[integration, default: 0] >= most {
            return .wait(reason: "waiting for a slot of \(integration): max_concurrency \(most), all in use", dueAt: now)
        }
        if let next = state.nextStart[integration], next.timeIntervalSince(now) > Self.rateHorizon {
            return .wait(reason: "\(integration)'s rate limit (max_per_minute \(format(limit.maxPerMinute ?? 0))): next start at \(Event.formatDate(next))", dueAt: next)
        }
        return nil
    }

    private static func take(_ integration: String, _ limit: IntegrationLimits, now: Date, state: inout State) {
        state.admitted[integration, default: 0] += 1
        if let perMinute = limit.maxPerMinute {
            let spacing = 60 / perMinute
            state.nextStart[integration] = max(now, state.nextStart[integration] ?? now).addingTimeInterval(spacing)
        }
    }

    static func describe(_ limit: IntegrationLimits) -> String {
        [limit.maxConcurrency.map { "max_concurrency \($0)" }, limit.maxPerMinute.map { "max_per_minute \(format($0))" }].compactMap { $0 }.joined(separator: ", ")
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }

    // MARK: Order and deferred rows

    /// The run heading the deferred runs of `holdKey` (0 when not known), or nil when the key
    /// holds nothing.
    func holder(of holdKey: String) -> Int64? {
        state.withLock { state in
            guard let count = state.holds[holdKey], count > 0 else { return nil }
            return state.holdHeads[holdKey] ?? 0
        }
    }

    /// A row was written (a retry after a first failure, a held or limited run).
    /// - Parameter movesEpoch: written when a run reached its slot or ended (a retry, a run
    ///   sent to wait): it may belong before a run of its element already claimed. A limited
    ///   run written as its event arrives is later than any claimed one, and moves nothing.
    func deferred(_ row: DeferredRun, movesEpoch: Bool = false) {
        state.withLock { state in
            Self.count(row, into: &state)
            guard let key = row.holdKey else { return }
            if row.kind == .retry, let previous = row.previousRun { state.holdHeads[key] = previous }
            if movesEpoch { state.retryEpochs[key, default: 0] += 1 }
        }
    }

    /// How many rows of `holdKey` that may go before a claimed run were written so far.
    func retryEpoch(of holdKey: String) -> Int {
        state.withLock { $0.retryEpochs[holdKey] ?? 0 }
    }

    /// Every hold key's epoch now, taken before a claim's flush: a row written after it moves
    /// the epoch of the run claimed (`Engine.claimDeferred`).
    func retryEpochs() -> [String: Int] {
        state.withLock { $0.retryEpochs }
    }

    /// A claimed row waits again, not having run (its integration's rate).
    func waitsAgain(_ row: DeferredRun) {
        state.withLock { state in
            state.waitingByKind[row.kind, default: 0] += 1
            if row.kind == .limit { state.limitWaiting[row.integration, default: 0] += 1 }
        }
    }

    /// A claimed row waits again for its next retry.
    func rescheduled(_ row: DeferredRun) {
        state.withLock { state in
            state.waitingByKind[.retry, default: 0] += 1
            if let key = row.holdKey, let previous = row.previousRun { state.holdHeads[key] = previous }
        }
    }

    /// A claimed row is over.
    func released(_ row: DeferredRun) {
        guard let key = row.holdKey else { return }
        state.withLock { state in
            let left = state.holds[key, default: 1] - 1
            if left <= 0 {
                state.holds[key] = nil
                state.holdHeads[key] = nil
                state.retryEpochs[key] = nil
            } else {
                state.holds[key] = left
                // The run whose retry headed the key is over: the head is not known any more.
                if let previous = row.previousRun, state.holdHeads[key] == previous { state.holdHeads[key] = nil }
            }
        }
    }

    /// Whether rows this process knows of wait to be claimed (worth a claim now; rows other
    /// processes left are looked for every second regardless).
    var mayHaveDeferred: Bool { state.withLock { state in state.waitingByKind.values.contains { $0 > 0 } } }

    /// Rows waiting (not claimed) by kind, as this process knows them.
    public var waitingByKind: [DeferredRun.Kind: Int] { state.withLock { $0.waitingByKind } }

    // MARK: Runs in the pool

    func queued(eventID: String, integration: String, trigger: String, ticket: RunPool.Ticket) {
        state.withLock { state in state.inPool[eventID, default: []].append(PoolWait(integration: integration, trigger: trigger, ticket: ticket)) }
    }

    func started(eventID: String, ticket: RunPool.Ticket, runID: Int64?) {
        state.withLock { state in
            if var waits = state.inPool[eventID] {
                waits.removeAll { $0.ticket == ticket }
                state.inPool[eventID] = waits.isEmpty ? nil : waits
            }
            if let key = ticket.key, let runID { state.runningByKey[key] = runID }
        }
    }

    func ended(ticket: RunPool.Ticket) {
        guard let key = ticket.key else { return }
        state.withLock { state in state.runningByKey[key] = nil }
    }

    /// The runs of `eventID` in the pool, not yet started, and the run holding each one's key.
    func poolWaits(eventID: String) -> [(wait: PoolWait, behind: Int64?)] {
        state.withLock { state in
            (state.inPool[eventID] ?? []).map { wait in (wait, wait.ticket.key.flatMap { state.runningByKey[$0] }) }
        }
    }

    /// Runs in the pool not yet started, in all.
    public var inPoolCount: Int { state.withLock { $0.inPool.values.reduce(0) { $0 + $1.count } } }
}
