public import Foundation

/// A run that waits on disk rather than in memory: a retry not yet due, a run held behind an
/// earlier run of the same element that waits for its retry, or a run beyond its integration's
/// limits. Kept in the store so that `kill -9` loses and repeats none of them: after a restart
/// each runs when due (at once if overdue), in order.
///
/// An event with deferred runs is `waiting` (neither done nor in the dispatcher's backlog); it
/// is done when the last of them has run.
public struct DeferredRun: Sendable, Hashable {
    /// Why it waits: each has its reason in words (`reason`) too.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// Its previous try failed; it runs again at `dueAt`.
        case retry
        /// Queued behind an earlier run about the same element that waits for its retry.
        case order
        /// Beyond its integration's `max_concurrency` or `max_per_minute`.
        case limit
    }

    /// The row id (0 before it is stored); rows of one hold key run in id order.
    public var id: Int64 = 0
    public var eventID: String
    public var integration: String
    public var trigger: String
    /// `Integration|incident:42` when the integration keeps strict order and the event has an
    /// ordering key: rows with the same key run one at a time, oldest first.
    public var holdKey: String?
    public var kind: Kind
    public var reason: String
    public var dueAt: Date
    /// The `attempt` its run will be recorded with.
    public var attempt: Int
    /// Tries that ended (not interrupted) so far in its retry chain: what its policy counts.
    public var tries: Int
    /// The run it repeats (a retry's failed try); nil for a first run that waits.
    public var previousRun: Int64?
    public var requestedBy: String?
    /// Whether a dispatcher has taken it (it is being run).
    public var claimed = false
    /// Its event's arrival (`seq`), as read from the store: rows of a hold key run in this order.
    public var position: Int64 = 0

    public init(id: Int64 = 0, eventID: String, integration: String, trigger: String, holdKey: String?, kind: Kind, reason: String, dueAt: Date,
                attempt: Int, tries: Int, previousRun: Int64?, requestedBy: String?, claimed: Bool = false) {
        self.id = id
        self.eventID = eventID
        self.integration = integration
        self.trigger = trigger
        self.holdKey = holdKey
        self.kind = kind
        self.reason = reason
        self.dueAt = dueAt
        self.attempt = attempt
        self.tries = tries
        self.previousRun = previousRun
        self.requestedBy = requestedBy
        self.claimed = claimed
    }

    /// `Integration/Trigger`.
    public var qualifiedTrigger: String { "\(integration)/\(trigger)" }

    /// The hold key of a run: only strict integrations' runs about an element have one.
    public static func holdKey(integration: String, orderingKey: String?, order: OrderMode) -> String? {
        guard order == .strict, let orderingKey else { return nil }
        return integration + "|" + orderingKey
    }
}

/// What a run's end does to the deferred run it came from or leads to, written in the same
/// transaction as the run's record: a failed try and its retry are on disk together or not at
/// all, so a crash between them can neither lose the retry nor run it twice.
public enum DeferredChange: Sendable, Hashable {
    /// A new deferred run (a first failure's retry, or a run that must wait).
    case insert(DeferredRun)
    /// The claimed row `id` waits again (its next retry), with these values.
    case reschedule(DeferredRun)
    /// The claimed row `id` of `eventID` is over; the event is done if it was the last.
    case release(id: Int64, eventID: String)
}

extension DeferredChange {
    /// The event the change concerns (for logs).
    public var eventID: String {
        switch self {
        case let .insert(run), let .reschedule(run): run.eventID
        case let .release(_, eventID): eventID
        }
    }
}
