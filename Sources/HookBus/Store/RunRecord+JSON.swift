public import Foundation

extension RunRecord {
    /// The run as the API, `hookbus audit --json` and exports show it.
    public var jsonValue: JSONValue {
        var fields: [String: JSONValue] = [
            "run": .number(String(id)), "event": .string(eventID), "hook": .string(hook), "attempt": .number(String(attempt)),
            "integration": .string(integration), "trigger": .string(trigger), "outcome": .string(outcome),
            "startedAt": .string(Event.formatDate(startedAt)),
            "stdoutDropped": .number(String(stdoutDropped)), "stderrDropped": .number(String(stderrDropped)),
        ]
        if let endedAt { fields["endedAt"] = .string(Event.formatDate(endedAt)) }
        if let durationSeconds { fields["durationSeconds"] = .number(String(format: "%.3f", durationSeconds)) }
        if let exitCode { fields["exitCode"] = .number(String(exitCode)) }
        if let signal { fields["signal"] = .number(String(signal)) }
        if let stdout { fields["stdout"] = .string(stdout) }
        if let stderr { fields["stderr"] = .string(stderr) }
        if let reason { fields["reason"] = .string(reason) }
        if let invocation, let value = try? JSONParser.parse(invocation) { fields["invocation"] = value }
        if let previousRun { fields["previousRun"] = .number(String(previousRun)) }
        if let requestedBy { fields["requestedBy"] = .string(requestedBy) }
        if let results, let value = try? JSONParser.parse(results) { fields["results"] = value }
        return .object(fields)
    }
}

/// A point in time as users write it: ISO 8601, or an age such as `90s`, `30m`, `12h`, `7d`.
public enum TimeExpression {
    public static func parse(_ text: String, now: Date = Date()) -> Date? {
        if let seconds = Interval.seconds(text) { return now.addingTimeInterval(-seconds) }
        return Event.parseDate(text)
    }
}

extension WaitReason {
    /// A reason as the API and `hookbus audit --json` show it.
    public var jsonValue: JSONValue {
        var fields: [String: JSONValue] = ["kind": .string(kind.rawValue), "reason": .string(reason)]
        if let trigger { fields["trigger"] = .string(trigger) }
        if let dueAt { fields["dueAt"] = .string(Event.formatDate(dueAt)) }
        if let attempt { fields["attempt"] = .number(String(attempt)) }
        return .object(fields)
    }
}

extension DeferredRun {
    /// A run waiting on disk as `hookbus audit --json` lists it: outcome `waiting`, with why.
    public var jsonValue: JSONValue {
        var fields: [String: JSONValue] = [
            "event": .string(eventID), "integration": .string(integration), "trigger": .string(trigger), "outcome": .string("waiting"),
            "waitingFor": .string(kind.rawValue), "reason": .string(reason), "dueAt": .string(Event.formatDate(dueAt)),
            "attempt": .number(String(attempt)), "claimed": .bool(claimed),
        ]
        if let previousRun { fields["previousRun"] = .number(String(previousRun)) }
        if let requestedBy { fields["requestedBy"] = .string(requestedBy) }
        return .object(fields)
    }
}
