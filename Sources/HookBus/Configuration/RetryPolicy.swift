public import Foundation

/// When a run that did not succeed is run again, and how long HookBus waits first.
///
/// The default retries what usually passes on its own — a time limit reached while the incident
/// system was slow, a run that could not start, a run killed from outside — three tries in all,
/// 10 s then 20 s apart. A non-zero exit is *not* retried by default: a script that exits 1 has
/// usually decided something (bad input, a refused request) and running it again repeats its
/// side effects; an integration whose scripts exit non-zero for "try later" says so with
/// `on: [failed, …]`, and lists the exit codes that mean "do not repeat" in `final_exit_codes`.
///
/// Delays grow by `factor` from `delay` up to `max_delay`, and each is shortened by up to
/// `jitter` (a fraction) at random, so runs that failed together do not all return together;
/// a delay is therefore within `[d × (1 − jitter), d]` for the nominal `d`.
public struct RetryPolicy: Sendable, Hashable {
    /// Outcomes that are retried (of failed, timed out, error, killed).
    public var on: Set<RunOutcome>
    /// Exit codes of a `failed` run that are final even when `failed` is retried.
    public var finalExitCodes: Set<Int32>
    /// Tries in all, the first included; 1 means no retry.
    public var attempts: Int
    /// Seconds before the first retry.
    public var delay: Double
    public var factor: Double
    public var maxDelay: Double
    /// The fraction (0–1) of a delay that may be taken off at random.
    public var jitter: Double

    public init(on: Set<RunOutcome>, finalExitCodes: Set<Int32> = [], attempts: Int, delay: Double, factor: Double = 2, maxDelay: Double = 600, jitter: Double = 0.2) {
        self.on = on
        self.finalExitCodes = finalExitCodes
        self.attempts = attempts
        self.delay = delay
        self.factor = factor
        self.maxDelay = maxDelay
        self.jitter = jitter
    }

    public static let `default` = RetryPolicy(on: [.timedOut, .error, .killed], attempts: 3, delay: 10, factor: 2, maxDelay: 600, jitter: 0.2)

    /// The outcomes a policy may name in `on`.
    public static let retryable: [RunOutcome] = [.failed, .timedOut, .error, .killed]

    public enum Decision: Sendable, Equatable {
        /// Not retried: it succeeded, or its outcome (or exit code) is final under the policy.
        case final
        /// Run again after this many seconds.
        case retry(afterSeconds: Double)
        /// Retryable, but this was the last try: the run is a dead letter.
        case dead
    }

    /// What follows a try that ended with `result`, `tries` tries having ended so far (this one
    /// included). `random` is a number in 0..<1 (the jitter).
    public func decide(_ result: RunResult, tries: Int, random: Double = Double.random(in: 0..<1)) -> Decision {
        guard on.contains(result.outcome), attempts > 1 else { return .final }
        if result.outcome == .failed, let code = result.exitCode, finalExitCodes.contains(code) { return .final }
        guard tries < attempts else { return .dead }
        return .retry(afterSeconds: delay(afterTry: tries, random: random))
    }

    /// The pause after try number `tries` (1 for the first): `delay × factor^(tries−1)`, at most
    /// `maxDelay`, less up to `jitter` of it.
    public func delay(afterTry tries: Int, random: Double) -> Double {
        let nominal = min(maxDelay, delay * pow(factor, Double(max(0, tries - 1))))
        return nominal * (1 - jitter * min(max(random, 0), 1))
    }
}

/// How the runs of one integration about one incident, task or observable keep their order.
public enum OrderMode: String, Sendable, Hashable, CaseIterable {
    /// A run waiting for its retry holds the integration's later runs about the same element
    /// until it succeeds or is given up: the incident system sees the updates in order.
    case strict
    /// Later runs pass a run waiting for its retry (they still never overlap it).
    case relaxed
}

/// `max_concurrency` and `max_per_minute` of an integration: protection for the system its
/// scripts call. Runs beyond them wait on disk, in order, and are never dropped.
public struct IntegrationLimits: Sendable, Hashable {
    /// Runs of the integration at once.
    public var maxConcurrency: Int?
    /// Runs started per minute, evenly spaced: at most one start every `60 / maxPerMinute` s.
    public var maxPerMinute: Double?

    public init(maxConcurrency: Int? = nil, maxPerMinute: Double? = nil) {
        self.maxConcurrency = maxConcurrency
        self.maxPerMinute = maxPerMinute
    }

    public var isEmpty: Bool { maxConcurrency == nil && maxPerMinute == nil }
}
