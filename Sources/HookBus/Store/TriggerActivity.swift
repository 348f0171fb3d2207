public import Foundation

/// When one run started, how long it took and how it ended: what a trigger's activity is made of.
public struct RunTiming: Sendable, Hashable {
    public let outcome: String
    public let startedAt: Date
    /// Nil while it runs.
    public let duration: Double?

    public init(outcome: String, startedAt: Date, duration: Double?) {
        self.outcome = outcome
        self.startedAt = startedAt
        self.duration = duration
    }
}

/// A trigger's recent activity for the console's Triggers page: runs and failures per hour over
/// a window, and duration percentiles of the runs in it. Skips (`check_not_null_field`, a
/// webhook rule) are the filter's decisions, not runs, and are not counted.
///
/// Made from the trigger's runs in the window, newest first and at most `sampleLimit` (read as a
/// range of the `runs_trigger` index): the page costs the runs of the last day, not the store's
/// size. A trigger that ran more often than that in the window has its older hours empty, and
/// `truncated` says so.
public struct TriggerActivity: Sendable, Equatable {
    public struct Bucket: Sendable, Equatable {
        public let start: Date
        public let runs: Int
        public let failed: Int
    }

    /// The runs read per trigger.
    public static let sampleLimit = 5_000

    public let buckets: [Bucket]
    public let runs: Int
    public let failed: Int
    /// Duration percentiles in seconds of the runs in the window that ended (nil with none).
    public let p50: Double?
    public let p95: Double?
    public let p99: Double?
    /// Whether the sample ended inside the window (more runs than `sampleLimit`).
    public let truncated: Bool

    /// - Parameters:
    ///   - timings: the newest runs, in any order.
    ///   - now: the window's end; it starts `bucketCount` × `bucket` before, on a whole bucket.
    public init(_ timings: [RunTiming], now: Date, bucketCount: Int = 24, bucket: TimeInterval = 3600, sampleLimit: Int = TriggerActivity.sampleLimit) {
        let (startDate, endDate) = Self.window(now: now, bucketCount: bucketCount, bucket: bucket)
        let (start, end) = (startDate.timeIntervalSince1970, endDate.timeIntervalSince1970)
        var runs = Array(repeating: 0, count: bucketCount)
        var failed = Array(repeating: 0, count: bucketCount)
        var durations: [Double] = []
        for timing in timings {
            let time = timing.startedAt.timeIntervalSince1970
            guard time >= start, time < end, timing.outcome != RunOutcome.skipped.rawValue else { continue }
            let index = min(bucketCount - 1, Int((time - start) / bucket))
            runs[index] += 1
            if RunOutcome(rawValue: timing.outcome)?.isFailure == true { failed[index] += 1 }
            if let duration = timing.duration { durations.append(duration) }
        }
        buckets = (0..<bucketCount).map { Bucket(start: Date(timeIntervalSince1970: start + Double($0) * bucket), runs: runs[$0], failed: failed[$0]) }
        self.runs = runs.reduce(0, +)
        self.failed = failed.reduce(0, +)
        durations.sort()
        p50 = Self.percentile(durations, 0.50)
        p95 = Self.percentile(durations, 0.95)
        p99 = Self.percentile(durations, 0.99)
        let oldest = timings.map(\.startedAt.timeIntervalSince1970).min() ?? end
        truncated = timings.count >= sampleLimit && oldest > start
    }

    /// The window's start and end for `now`: `bucketCount` whole buckets, the last one holding now.
    public static func window(now: Date, bucketCount: Int = 24, bucket: TimeInterval = 3600) -> (start: Date, end: Date) {
        let end = (now.timeIntervalSince1970 / bucket).rounded(.down) * bucket + bucket
        return (Date(timeIntervalSince1970: end - Double(bucketCount) * bucket), Date(timeIntervalSince1970: end))
    }

    /// Nearest rank: the smallest value with at least `fraction` of the values at or below it.
    static func percentile(_ sorted: [Double], _ fraction: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let rank = Int((fraction * Double(sorted.count)).rounded(.up))
        return sorted[max(0, min(sorted.count - 1, rank - 1))]
    }

    /// The share of runs in the window that did not fail, nil with none.
    public var successRate: Double? { runs == 0 ? nil : Double(runs - failed) / Double(runs) }
}
