public import Foundation

/// An event as kept in the store.
public struct StoredEvent: Sendable, Hashable {
    public enum State: String, Sendable, Hashable {
        /// Accepted, waiting to be dispatched.
        case pending
        /// Claimed by a dispatcher; its runs are under way.
        case running
        /// Some of its runs wait on disk (`DeferredRun`): a retry, a held run, a limited one.
        case waiting
        /// Every run finished (whatever the outcome).
        case done
    }

    public let event: Event
    public let state: State
    /// 1 for the first dispatch, 2 after an interruption, …
    public let attempt: Int

    public init(event: Event, state: State, attempt: Int) {
        self.event = event
        self.state = state
        self.attempt = attempt
    }
}

/// One row of the audit trail: a run (or a skip) of one trigger for one event.
public struct RunRecord: Sendable, Hashable {
    public let id: Int64
    public let eventID: String
    public let hook: String
    public let attempt: Int
    public let integration: String
    public let trigger: String
    /// A `RunOutcome` raw value, or `running` while the run is under way.
    public let outcome: String
    public let exitCode: Int32?
    public let signal: Int32?
    public let startedAt: Date
    public let endedAt: Date?
    public let stdout: String?
    public let stderr: String?
    public let stdoutDropped: Int
    public let stderrDropped: Int
    public let reason: String?
    /// The invocation with secrets masked, as JSON.
    public let invocation: String?
    /// The run of the same trigger for the same (or the replayed) event that this one repeats.
    public let previousRun: Int64?
    /// The action's `output` and `table_view` evaluated on its JSON stdout, as JSON.
    public var results: String? = nil
    /// Who asked for the run by hand (a token's name, `cli:USER`); nil for a sender's event.
    public var requestedBy: String? = nil

    public var durationSeconds: Double? { endedAt.map { $0.timeIntervalSince(startedAt) } }

    /// For the stores, which read it from their rows.
    package init(id: Int64, eventID: String, hook: String, attempt: Int, integration: String, trigger: String, outcome: String, exitCode: Int32?, signal: Int32?,
                 startedAt: Date, endedAt: Date?, stdout: String?, stderr: String?, stdoutDropped: Int, stderrDropped: Int, reason: String?, invocation: String?,
                 previousRun: Int64?, results: String? = nil, requestedBy: String? = nil) {
        self.id = id
        self.eventID = eventID
        self.hook = hook
        self.attempt = attempt
        self.integration = integration
        self.trigger = trigger
        self.outcome = outcome
        self.exitCode = exitCode
        self.signal = signal
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.stdout = stdout
        self.stderr = stderr
        self.stdoutDropped = stdoutDropped
        self.stderrDropped = stderrDropped
        self.reason = reason
        self.invocation = invocation
        self.previousRun = previousRun
        self.results = results
        self.requestedBy = requestedBy
    }
}

/// Filters of `hookbus audit` and `GET /api/v1/runs`.
public struct RunFilter: Sendable, Hashable {
    public var eventID: String?
    public var trigger: String?
    public var outcome: String?
    public var since: Date?
    /// Only rows with an id greater than this (for `--follow`).
    public var afterID: Int64?
    /// Only rows with an id less than this: the next page of a newest-first listing (the
    /// console's cursor; no OFFSET, which would read every row it skips).
    public var beforeID: Int64?
    /// Only rows that started before this.
    public var until: Date?
    public var limit: Int = 100

    public init(eventID: String? = nil, trigger: String? = nil, outcome: String? = nil, since: Date? = nil, afterID: Int64? = nil, beforeID: Int64? = nil,
                until: Date? = nil, limit: Int = 100) {
        self.eventID = eventID
        self.trigger = trigger
        self.outcome = outcome
        self.since = since
        self.afterID = afterID
        self.beforeID = beforeID
        self.until = until
        self.limit = limit
    }
}

/// The answer to an accept: the event's id, and whether it was already known (an idempotent
/// repeat, which runs nothing).
public struct AcceptResult: Sendable, Hashable {
    public let eventID: String
    public let duplicate: Bool

    package init(eventID: String, duplicate: Bool) {
        self.eventID = eventID
        self.duplicate = duplicate
    }
}
