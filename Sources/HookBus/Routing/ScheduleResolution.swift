import Foundation

/// A Scheduled action started with field values: everything its definition leaves to
/// `input.<field>` resolved, ready to run on its period.
public struct ScheduleSpec: Sendable, Hashable {
    public struct ExitCondition: Sendable, Hashable {
        public let path: OutputPath
        public let strings: [String]
    }

    public let integration: String
    public let action: String
    public let fields: [String: String]
    public let everySeconds: Double
    /// Seconds after the first run at which the schedule stops (nil: only its condition stops it).
    public let expireSeconds: Double?
    public let exitConditions: [ExitCondition]
    /// `re-execution: force`: a run still going when the next is due is ended first; otherwise
    /// that tick is skipped.
    public let force: Bool

    /// Whether `result` (the run's stdout, parsed) meets an exit condition: the value at a
    /// condition's path, as text, equals one of its strings (for a list, any element does).
    public func conditionMet(by result: JSONValue) -> Bool {
        exitConditions.contains { condition in
            guard let value = condition.path.evaluate(result) else { return false }
            let texts = value.arrayValue.map { $0.map(OutputPath.text) } ?? [OutputPath.text(value)]
            return texts.contains { condition.strings.contains($0) }
        }
    }
}

extension Router {
    /// Checks the fields like Test Action, then resolves `scheduled` and `exit_condition`,
    /// where `input.<field>` stands for a field's value (a `tag` field's value is split at commas
    /// for `string`).
    public func scheduleSpec(integration name: String, action actionName: String, fields given: [String: String]) throws(IntegrationError) -> ScheduleSpec {
        let action = try action(named: actionName, of: try integration(named: name))
        guard action.type == .scheduled else {
            throw IntegrationError(.invalidFields, "action '\(actionName)' is of type \(action.type.rawValue), not Scheduled")
        }
        let values = try Self.checkedFields(given, of: action)
        func input(_ text: String, _ what: String) throws(IntegrationError) -> String {
            guard text.hasPrefix("input.") else { return text }
            let field = String(text.dropFirst("input.".count))
            guard let value = values[field] else { throw IntegrationError(.invalidFields, "\(what) refers to field '\(field)', which has no value") }
            return value
        }
        let schedule = action.scheduled.first
        let every = try input(schedule?.every ?? "", "scheduled.every")
        guard let everySeconds = Interval.seconds(every), everySeconds > 0 else {
            throw IntegrationError(.invalidFields, "scheduled.every must be a number and a unit (s, m, h, d), not '\(every)'")
        }
        var expireSeconds: Double?
        if let expireText = schedule?.expire {
            let expire = try input(expireText, "scheduled.expire")
            guard let seconds = Interval.seconds(expire) else {
                throw IntegrationError(.invalidFields, "scheduled.expire must be a number and a unit (s, m, h, d), not '\(expire)'")
            }
            expireSeconds = seconds
        }
        var conditions: [ScheduleSpec.ExitCondition] = []
        for condition in action.exitConditions {
            let pathText = try input(condition.path, "exit_condition.path")
            let path: OutputPath
            do { path = try OutputPath(pathText) } catch {
                throw IntegrationError(.invalidFields, "exit_condition.path '\(pathText)' is not a valid result path: \(error)")
            }
            var strings: [String] = []
            for string in condition.strings {
                if string.hasPrefix("input.") {
                    strings += try input(string, "exit_condition.string").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                } else {
                    strings.append(string)
                }
            }
            conditions.append(.init(path: path, strings: strings))
        }
        return ScheduleSpec(integration: name, action: actionName, fields: values, everySeconds: everySeconds, expireSeconds: expireSeconds,
                            exitConditions: conditions, force: action.reExecution == "force")
    }
}
