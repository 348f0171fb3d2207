import Foundation
import HookBus

/// How the console shows values: one place for an outcome's look, a time, a duration, a link
/// that keeps the page's filters. Everything here makes plain text; the templates escape it.
enum ConsoleViews {
    /// The classes of an outcome's badge: failures stand out, a dead letter most.
    static func outcomeClass(_ outcome: String) -> String {
        if outcome == "running" || outcome == "waiting" { return outcome }
        guard let known = RunOutcome(rawValue: outcome) else { return "" }
        if known == .dead { return "dead failure" }
        return known.isFailure ? "failure" : known.rawValue
    }

    /// A row's classes from its outcome (`failure`, `dead failure`, or none).
    static func rowClass(_ outcome: String) -> String {
        let badge = outcomeClass(outcome)
        return badge.hasSuffix("failure") ? badge : ""
    }

    static func time(_ date: Date) -> String { Event.formatDate(date) }

    /// `2026-12-04 14:00` (UTC): an hour of a chart.
    static func hour(_ date: Date) -> String {
        let text = time(date)
        return String(text.prefix(10)) + " " + String(text.dropFirst(11).prefix(5))
    }

    static func duration(_ seconds: Double?) -> String {
        guard let seconds else { return "" }
        if seconds < 1 { return String(format: "%.0f ms", seconds * 1000) }
        if seconds < 120 { return String(format: "%.2f s", seconds) }
        return String(format: "%.1f min", seconds / 60)
    }

    static func source(kind: String, name: String?) -> String {
        name.map { "\(kind) \($0)" } ?? kind
    }

    /// `?a=1&b=2` of the non-empty pairs, percent-encoded; "" for none.
    static func query(_ pairs: [(String, String?)]) -> String {
        let kept = pairs.compactMap { name, value in value.flatMap { $0.isEmpty ? nil : "\(encode(name))=\(encode($0))" } }
        return kept.isEmpty ? "" : "?" + kept.joined(separator: "&")
    }

    /// Percent-encoded for a query value or one path segment (`/`, `#`, `?`, spaces and the
    /// rest encoded: an imported event's id may hold any of them).
    static func encode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~:")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }

    /// The console's address of an event.
    static func eventPath(_ id: String) -> String { "/ui/events/" + encode(id) }

    /// Choices for a `<select>`, the current one marked.
    static func options(_ values: [String], selected: String?) -> [[String: Any]] {
        values.map { value in value == selected ? ["value": value, "selected": true] : ["value": value] }
    }

    /// A run as its row and its detail show it.
    static func run(_ run: RunRecord) -> [String: Any] {
        var view: [String: Any] = [
            "id": String(run.id), "event": run.eventID, "eventHref": eventPath(run.eventID), "integration": run.integration, "trigger": run.trigger, "outcome": run.outcome,
            "outcomeClass": outcomeClass(run.outcome), "rowClass": rowClass(run.outcome), "attempt": String(run.attempt),
            "started": time(run.startedAt),
        ]
        // Absent rather than empty: a Mustache section shows for an empty string too.
        if let seconds = run.durationSeconds { view["duration"] = duration(seconds) }
        if let code = run.exitCode { view["exit"] = String(code) }
        if let by = run.requestedBy, !by.isEmpty { view["by"] = by }
        if let previous = run.previousRun { view["previousRun"] = String(previous) }
        if let signal = run.signal { view["signal"] = String(signal) }
        if let reason = run.reason, !reason.isEmpty { view["reason"] = reason }
        if let stdout = run.stdout, !stdout.isEmpty {
            view["stdout"] = ["text": stdout]
            if run.stdoutDropped > 0 { view["stdoutDropped"] = String(run.stdoutDropped) }
        }
        if let stderr = run.stderr, !stderr.isEmpty {
            view["stderr"] = ["text": stderr]
            if run.stderrDropped > 0 { view["stderrDropped"] = String(run.stderrDropped) }
        }
        // Records are the store's own JSON; one that does not parse is shown as stored rather
        // than hidden.
        if let invocation = run.invocation { view["invocation"] = (try? JSONParser.parse(invocation))?.prettyText ?? invocation }
        if let results = run.results {
            guard let value = try? JSONParser.parse(results) else {
                view["output"] = results
                return view
            }
            if let table = value["table"], let columns = table["columns"]?.arrayValue, let rows = table["rows"]?.arrayValue {
                view["table"] = [
                    "columns": columns.map { $0.scalarText ?? $0.jsonText },
                    "rows": rows.map { row in ["cells": (row.arrayValue ?? []).map { $0.scalarText ?? ($0 == .null ? "" : $0.jsonText) }] },
                ] as [String: Any]
            }
            if let output = value["output"], output.objectValue?.isEmpty == false { view["output"] = output.prettyText }
        }
        return view
    }
}
