public import Foundation

/// A started schedule as the store keeps it; it survives restarts.
public struct StoredSchedule: Sendable, Hashable {
    public enum State: String, Sendable {
        case active
        case ended
    }

    public let id: String
    public let integration: String
    public let action: String
    public let fields: [String: String]
    public var state: State
    /// `condition met`, `expired`, `stopped`, or why it could not go on.
    public var endedReason: String?
    public let startedAt: Date
    public var lastRunAt: Date?
    public var nextRunAt: Date
    /// The last run's stdout (kept when the schedule ends, as the framework says).
    public var lastResult: String?
    public var runs: Int
    /// The event that records the end, for triggers to continue the work.
    public var endEvent: String?
    /// Who started it (a token's name, `cli:USER`); nil for schedules stored before v7.
    public var startedBy: String? = nil

    package init(id: String, integration: String, action: String, fields: [String: String], state: State, endedReason: String?, startedAt: Date, lastRunAt: Date?,
                 nextRunAt: Date, lastResult: String?, runs: Int, endEvent: String?, startedBy: String? = nil) {
        self.id = id
        self.integration = integration
        self.action = action
        self.fields = fields
        self.state = state
        self.endedReason = endedReason
        self.startedAt = startedAt
        self.lastRunAt = lastRunAt
        self.nextRunAt = nextRunAt
        self.lastResult = lastResult
        self.runs = runs
        self.endEvent = endEvent
        self.startedBy = startedBy
    }

    public static func newID() -> String { "sch_" + String(Event.newID().dropFirst(4)) }

    public var jsonValue: JSONValue {
        var fields: [String: JSONValue] = [
            "schedule": .string(id), "integration": .string(integration), "action": .string(action),
            "fields": .object(self.fields.mapValues(JSONValue.string)), "state": .string(state.rawValue),
            "startedAt": .string(Event.formatDate(startedAt)), "nextRunAt": .string(Event.formatDate(nextRunAt)), "runs": .number(String(runs)),
        ]
        if let endedReason { fields["endedReason"] = .string(endedReason) }
        if let lastRunAt { fields["lastRunAt"] = .string(Event.formatDate(lastRunAt)) }
        if let lastResult { fields["lastResult"] = (try? JSONParser.parse(lastResult)) ?? .string(lastResult) }
        if let endEvent { fields["endEvent"] = .string(endEvent) }
        if let startedBy { fields["startedBy"] = .string(startedBy) }
        return .object(fields)
    }
}
