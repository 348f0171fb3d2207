import Foundation
import Testing
@testable import HookBus

/// A trigger's activity as the Triggers page charts it: hourly buckets, failures, percentiles.
@Suite struct TriggerActivityTests {
    /// 2026-12-04T12:30:00Z.
    static let now = Date(timeIntervalSince1970: 1_796_387_400)

    @Test func runsFallIntoTheirHourAndFailuresAreCounted() {
        let hour = 3600.0
        let timings = [
            RunTiming(outcome: "succeeded", startedAt: Self.now.addingTimeInterval(-60), duration: 0.1),  // 12:29, the last bucket
            RunTiming(outcome: "failed", startedAt: Self.now.addingTimeInterval(-20 * 60), duration: 0.3),  // 12:10, the last bucket
            RunTiming(outcome: "timed out", startedAt: Self.now.addingTimeInterval(-hour), duration: 60),  // 11:30
            RunTiming(outcome: "succeeded", startedAt: Self.now.addingTimeInterval(-23 * hour - 25 * 60), duration: 0.2),  // 13:05 yesterday, the first
            RunTiming(outcome: "succeeded", startedAt: Self.now.addingTimeInterval(-23 * hour - 35 * 60), duration: 5),  // 12:55 yesterday: outside
            RunTiming(outcome: "running", startedAt: Self.now.addingTimeInterval(-5), duration: nil),
            // A skip is the filter's decision, not a run: not counted.
            RunTiming(outcome: "skipped", startedAt: Self.now.addingTimeInterval(-30), duration: 0),
        ]
        let activity = TriggerActivity(timings, now: Self.now)
        #expect(activity.buckets.count == 24)
        #expect(activity.buckets.last?.start == Date(timeIntervalSince1970: 1_796_385_600))  // 12:00
        #expect(activity.buckets.last.map { ($0.runs, $0.failed) } ?? (0, 0) == (3, 1))
        #expect(activity.buckets[22].runs == 1 && activity.buckets[22].failed == 1)
        #expect(activity.buckets[0].runs == 1 && activity.buckets[0].failed == 0)
        #expect(activity.runs == 5 && activity.failed == 2)
        #expect(activity.successRate == 0.6)
        // Durations of the four runs that ended in the window: 0.1, 0.2, 0.3, 60.
        #expect(activity.p50 == 0.2 && activity.p95 == 60 && activity.p99 == 60)
        #expect(!activity.truncated)
    }

    @Test func percentilesAreNearestRank() {
        let values = (1...100).map(Double.init)
        #expect(TriggerActivity.percentile(values, 0.5) == 50)
        #expect(TriggerActivity.percentile(values, 0.95) == 95)
        #expect(TriggerActivity.percentile(values, 0.99) == 99)
        #expect(TriggerActivity.percentile([7], 0.99) == 7)
        #expect(TriggerActivity.percentile([], 0.5) == nil)
    }

    @Test func aSampleThatEndsInsideTheWindowSaysSo() {
        let timings = (0..<10).map { RunTiming(outcome: "succeeded", startedAt: Self.now.addingTimeInterval(-Double($0)), duration: 0.01) }
        #expect(TriggerActivity(timings, now: Self.now, sampleLimit: 10).truncated)
        #expect(!TriggerActivity(timings, now: Self.now, sampleLimit: 11).truncated)
        #expect(TriggerActivity([], now: Self.now).successRate == nil)
    }
}
