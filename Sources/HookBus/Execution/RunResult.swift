public import Foundation

/// How a run ended.
public enum RunOutcome: String, Sendable, Hashable, CaseIterable, Codable {
    /// Exit status 0.
    case succeeded
    /// A non-zero exit status (recorded with the code).
    case failed
    /// Ended by HookBus because it ran past its time limit.
    case timedOut = "timed out"
    /// Ended by a signal HookBus did not send.
    case killed
    /// Not run: check_not_null_field, not the named button, or an endpoint restriction.
    case skipped
    /// HookBus stopped while it ran; it is run again on the next start.
    case interrupted
    /// Could not be started (interpreter missing, run folder not writable, …).
    case error
    /// A dead letter: its outcome was one its retry policy retries, and this was the last try
    /// (`RetryPolicy`). The reason says what the last try ended with; a person re-drives it
    /// with `hookbus replay --failed` or `--event`.
    case dead

    /// Whether the outcome counts as a failure for exit codes and `replay --failed`.
    public var isFailure: Bool { self != .succeeded && self != .skipped }
}

/// What happened when one trigger ran for one event.
public struct RunResult: Sendable, Hashable {
    public var outcome: RunOutcome
    public var exitCode: Int32?
    public var signal: Int32?
    public var startedAt: Date
    public var endedAt: Date
    public var stdout: String
    public var stderr: String
    /// Bytes of output dropped past the cap.
    public var stdoutDropped: Int
    public var stderrDropped: Int
    /// Why the run did not start or was skipped, in words.
    public var reason: String?
    /// The action's `output` and `table_view` evaluated on a JSON stdout (see `ResultSpec`).
    public var results: JSONValue?

    public init(outcome: RunOutcome, exitCode: Int32? = nil, signal: Int32? = nil, startedAt: Date, endedAt: Date,
                stdout: String = "", stderr: String = "", stdoutDropped: Int = 0, stderrDropped: Int = 0, reason: String? = nil) {
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
    }

    public var duration: TimeInterval { endedAt.timeIntervalSince(startedAt) }

    /// A run that could not start.
    public static func error(_ reason: String, at date: Date = Date()) -> RunResult {
        RunResult(outcome: .error, startedAt: date, endedAt: date, reason: reason)
    }
}

/// Runs one invocation. The process runner is the real one; tests of other layers may use a fake.
public protocol TriggerRunner: Sendable {
    /// Runs `invocation` with `token` as its `--token`; never throws: every failure is a result.
    func run(_ invocation: Invocation, token: String) async -> RunResult
    /// How `invocation` will be confined, as a JSON object for its audit record; nil when the
    /// runner does not start processes.
    func sandboxRecord(for invocation: Invocation) -> String?
}

extension TriggerRunner {
    public func sandboxRecord(for invocation: Invocation) -> String? { nil }
}
