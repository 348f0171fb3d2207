import Foundation
import HookBus

/// The Triggers page: per trigger, its runs and success rate hour by hour over the last day and
/// its duration percentiles, drawn as small inline SVG charts by the server (no script, no
/// library), beside the definition's file and line.
extension ConsolePages {
    /// The chart's size in SVG units: 24 bars of 10 units.
    static let chartWidth = 240.0
    static let chartHeight = 40.0

    func triggers(now: Date = Date()) async throws -> [String: Any] {
        let catalog = state.engine.router.catalog
        var rows: [[String: Any]] = []
        for integration in catalog.integrations {
            for action in integration.actions where action.isTrigger {
                let timings = try await state.engine.store.recentRunTimings(integration: integration.name, trigger: action.name,
                                                                            since: TriggerActivity.window(now: now).start, limit: TriggerActivity.sampleLimit)
                let activity = TriggerActivity(timings, now: now)
                var row: [String: Any] = [
                    "name": "\(integration.name)/\(action.name)", "query": ConsoleViews.encode("\(integration.name)/\(action.name)"),
                    "hooks": action.hooks.map(\.rawValue).joined(separator: ", "), "file": action.location.description,
                    "runs": String(activity.runs), "failed": String(activity.failed),
                    "rate": activity.successRate.map { String(format: "%.1f%%", $0 * 100) } ?? "–",
                    "chart": Self.activityChart(activity),
                ]
                if activity.failed > 0 { row["rowClass"] = "failure" }
                if activity.truncated { row["truncated"] = "newest \(TriggerActivity.sampleLimit) runs" }
                if let p99 = activity.p99 {
                    row["durations"] = Self.durationChart([("p50", activity.p50 ?? 0), ("p95", activity.p95 ?? 0), ("p99", p99)])
                }
                rows.append(row)
            }
        }
        return ["title": "Triggers", "navTriggers": true, "triggers": rows, "width": String(Int(Self.chartWidth)), "height": String(Int(Self.chartHeight))]
    }

    /// Bars of runs per hour (failures drawn over them) and a line of the success rate through
    /// the hours that had runs; each bar says its figures on hover (`<title>`).
    static func activityChart(_ activity: TriggerActivity) -> [String: Any] {
        let most = max(1, activity.buckets.map(\.runs).max() ?? 1)
        let slot = chartWidth / Double(max(1, activity.buckets.count))
        var points: [String] = []
        let bars = activity.buckets.enumerated().map { index, bucket -> [String: Any] in
            let x = Double(index) * slot
            let height = Double(bucket.runs) / Double(most) * (chartHeight - 2)
            let failed = Double(bucket.failed) / Double(most) * (chartHeight - 2)
            if bucket.runs > 0 {
                let rate = Double(bucket.runs - bucket.failed) / Double(bucket.runs)
                points.append(String(format: "%.1f,%.1f", x + slot / 2, 1 + (1 - rate) * (chartHeight - 2)))
            }
            return [
                "x": String(format: "%.1f", x + 1), "width": String(format: "%.1f", slot - 2),
                "y": String(format: "%.1f", chartHeight - height), "height": String(format: "%.1f", height),
                "failedY": String(format: "%.1f", chartHeight - failed), "failedHeight": String(format: "%.1f", failed),
                "title": "\(ConsoleViews.hour(bucket.start)): \(bucket.runs) run\(bucket.runs == 1 ? "" : "s"), \(bucket.failed) failed",
            ]
        }
        var chart: [String: Any] = ["bars": bars, "label": "Runs per hour over 24 hours: \(activity.runs) runs, \(activity.failed) failed"]
        if points.count > 1 { chart["line"] = points.joined(separator: " ") }
        return chart
    }

    /// Horizontal bars of duration percentiles, scaled to the largest.
    static func durationChart(_ values: [(String, Double)]) -> [String: Any] {
        let largest = max(values.map(\.1).max() ?? 0, 0.000_001)
        return [
            "bars": values.enumerated().map { index, item -> [String: Any] in
                [
                    "name": item.0, "value": ConsoleViews.duration(item.1), "y": String(index * 12 + 1),
                    "textY": String(index * 12 + 10), "width": String(format: "%.1f", max(1, item.1 / largest * 120)),
                ]
            },
            "label": values.map { "\($0.0) \(ConsoleViews.duration($0.1))" }.joined(separator: ", "),
        ]
    }
}
