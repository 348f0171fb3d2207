public import Foundation

/// The store of events and runs: the durable queue the dispatcher works from and the audit
/// trail. The engine only knows this protocol; SQLite is the embedded default.
public protocol EventStore: Sendable {
    /// Whether run records are being written: a store retries a refused write and says so here.
    var auditHealth: AuditHealth { get }
    /// Where the store is, for people (the console's Health page): never a password.
    var location: String { get }

    /// Stores events durably (all in one transaction) before anyone is told they were accepted.
    /// An event whose idempotency key (or id) was seen within `idempotencyWindow` is not stored
    /// again; its original id is returned. With `claimed`, new events are stored already
    /// claimed (the CLI dispatches them itself, so a server sharing the file must not).
    /// Events whose id is in `settled` are stored already done: no trigger listens to their
    /// hook, so the dispatcher need not touch them.
    func accept(_ events: [(event: Event, idempotencyKey: String?)], idempotencyWindow: TimeInterval, claimed: Bool, settled: Set<String>) async throws -> [AcceptResult]
    /// `accept` (not claimed) that blocks the calling thread until the events are durable: for
    /// the server's group-commit thread, which must not wait for Swift's task pool. `record` is
    /// the event's `recordJSON`, made by the caller (in parallel, off the writer); `settled`
    /// as in `accept`, one flag per event rather than a set to hash ids into on the writer.
    func acceptBlocking(_ events: [(event: Event, idempotencyKey: String?, record: String, settled: Bool)], idempotencyWindow: TimeInterval) throws -> [AcceptResult]
    /// Marks up to `limit` pending events as running, oldest first, and returns them.
    func claimPending(limit: Int) async throws -> [StoredEvent]
    /// After a restart: runs left `running` become `interrupted`, events left `running` become
    /// pending again with their attempt increased. Returns how many events were recovered.
    func recoverInterrupted() async throws -> Int
    /// Records that a run started; returns its row id.
    /// - Parameter requestedBy: who asked for it by hand (a token's name, `cli:USER`); nil for
    ///   the runs of an event a sender sent.
    /// - Parameter deferredRow: the claimed deferred run it carries out (linked in the same write).
    func runStarted(eventID: String, attempt: Int, integration: String, trigger: String, invocation: String?, previousRun: Int64?, requestedBy: String?, at: Date,
                    deferredRow: Int64?) async throws -> Int64
    /// Records how a run ended and, in the same transaction, what that does to deferred runs
    /// (its retry, or the end of the deferred run it was).
    func runEnded(id: Int64, result: RunResult, keepOutput: Bool, deferred: DeferredChange?) async throws
    /// A deferred change with no run record: a run that waits before it starts, or a deferred
    /// run that ends without running (its trigger is gone). Queued with the run records.
    func deferRun(_ change: DeferredChange) async throws
    /// Takes deferred runs that are due, oldest first and only the oldest of each hold key,
    /// among those `admit` accepts (in that order; it may count them against limits), and
    /// returns them with their events. With `eventIDs`, only runs of those events; runs of the
    /// `blocked` integrations (at their limits now) are passed over.
    func claimDeferred(now: Date, limit: Int, eventIDs: Set<String>?, blocked: Set<String>,
                       admit: @escaping @Sendable (DeferredRun) -> Bool) async throws -> [(run: DeferredRun, event: StoredEvent)]
    /// Deferred runs oldest first: one event's, or every event's (up to `limit`).
    func deferredRuns(eventID: String?, limit: Int) async throws -> [DeferredRun]
    /// Records a trigger that did not run for an event, with the reason.
    func runSkipped(eventID: String, attempt: Int, integration: String, trigger: String, reason: String, at: Date) async throws
    /// Marks the event done after every run record queued before it — or `waiting` while it
    /// has deferred runs (the last of them marks it done).
    /// - Parameter waitForDisk: return only once that is committed (the CLI prints and exits
    ///   after it); the server's dispatcher does not wait — an event whose mark is lost in a
    ///   crash is recovered and only its unfinished triggers run again.
    func eventDone(_ eventID: String, waitForDisk: Bool) async throws
    /// Returns once every run record and done mark queued so far is on disk (a server that
    /// stops calls it after its last run).
    func flush() async throws
    /// Records a Test Action request as an event row of its own (hook `action`, stored done, its
    /// fields as the record) so that its run sits in the audit trail like any other.
    func recordAction(eventID: String, integration: String, action: String, fields: [String: String], kind: String) async throws
    /// A daemon's cursor (the value its next run starts from), kept across restarts.
    func daemonCursor(_ daemon: String) async throws -> String?
    func setDaemonCursor(_ daemon: String, to value: String) async throws
    func createSchedule(_ schedule: StoredSchedule) async throws
    func schedule(id: String) async throws -> StoredSchedule?
    /// Schedules in start order; only the active ones with `activeOnly`.
    func schedules(activeOnly: Bool) async throws -> [StoredSchedule]
    /// After a run: the time it ran, its stdout, and when the next is due.
    func scheduleRan(id: String, at: Date, result: String?, nextRunAt: Date) async throws
    func endSchedule(id: String, reason: String, endEvent: String?) async throws
    func event(id: String) async throws -> StoredEvent?
    func runs(_ filter: RunFilter) async throws -> [RunRecord]
    /// Triggers that already finished (any outcome but interrupted) for an event, and those
    /// with a deferred run: what a recovered event does not run again.
    func finishedTriggers(eventID: String) async throws -> Set<String>
    /// Events not yet done (pending or running).
    func backlog() async throws -> Int
    /// Pending events stored before `eventID` (what the dispatcher claims first).
    func pendingAhead(of eventID: String) async throws -> Int
    /// Events in `received_at` order, for `hookbus audit export` and `replay --failed`.
    func events(since: Date?, onlyFailed: Bool, limit: Int) async throws -> [StoredEvent]
    /// One page of events, newest first, with their runs counted by outcome (the console's
    /// Events page; see `EventFilter` for what each filter costs).
    func eventPage(_ filter: EventFilter) async throws -> EventPage
    /// Hooks and webhook endpoints among the newest `window` events (the console's choices).
    func recentSources(window: Int) async throws -> (hooks: [String], endpoints: [String])
    /// The newest runs of a trigger since `since` (at most `limit`), as the console's Triggers
    /// page charts them.
    func recentRunTimings(integration: String, trigger: String, since: Date, limit: Int) async throws -> [RunTiming]
    /// Runs of failed triggers of an event that no later run repeats: what a re-drive repeats.
    func unrepeatedFailures(eventID: String) async throws -> [RunRecord]
    /// Takes a finished (or waiting) event for a re-drive: it becomes `running` again with its
    /// attempt raised. Nil when there is no such event or it is pending or running.
    func beginRedrive(eventID: String) async throws -> StoredEvent?
    /// Applies retention: runs older than `maxAge`, and all but the newest `maxRuns`.
    func applyRetention(maxAge: TimeInterval?, maxRuns: Int?) async throws -> Int
    /// Asks to be told when work may have become claimable that no wake-up of this process
    /// announces: a store shared by several nodes calls `wake` when an event about a subject
    /// finished (its next event is free now) or a stopped node's work came back.
    func onWorkReady(_ wake: @escaping @Sendable () -> Void)
    /// Whether this process runs `role`'s single-instance work now (`daemons`, `schedules`):
    /// a shared store gives each role to one node at a time, for a lease this call renews; an
    /// embedded store has one process and always says yes.
    func holdsLead(_ role: String) async throws -> Bool
    /// How many accept batches may commit side by side (`AcceptQueue`'s writer threads): one
    /// for a store with one writer (SQLite), more for a server whose commits share flushes.
    var acceptWriters: Int { get }
    /// Whether other processes dispatch from this store too (nodes of a cluster): counts kept
    /// in this process's memory (the backlog) must then be read from the store again.
    var isShared: Bool { get }
}

extension EventStore {
    /// An embedded store: this process's own wake-ups say everything.
    public func onWorkReady(_ wake: @escaping @Sendable () -> Void) {}

    public func holdsLead(_ role: String) async throws -> Bool { true }

    public var acceptWriters: Int { 1 }

    public var isShared: Bool { false }

    public func runStarted(eventID: String, attempt: Int, integration: String, trigger: String, invocation: String?, previousRun: Int64?, requestedBy: String?,
                           at date: Date) async throws -> Int64 {
        try await runStarted(eventID: eventID, attempt: attempt, integration: integration, trigger: trigger, invocation: invocation, previousRun: previousRun,
                             requestedBy: requestedBy, at: date, deferredRow: nil)
    }

    public func runEnded(id: Int64, result: RunResult, keepOutput: Bool) async throws {
        try await runEnded(id: id, result: result, keepOutput: keepOutput, deferred: nil)
    }

    public func accept(_ events: [(event: Event, idempotencyKey: String?)], idempotencyWindow: TimeInterval, claimed: Bool) async throws -> [AcceptResult] {
        try await accept(events, idempotencyWindow: idempotencyWindow, claimed: claimed, settled: [])
    }
}
