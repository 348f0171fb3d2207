import Foundation

extension Router {
    /// "Test Action": the run of any action of an integration with field values given by hand.
    ///
    /// Every problem with the values is found before anything runs and reported together: an
    /// unknown field, a missing required one (a field's `default` fills in when it is not given),
    /// a value that is not of the field's `type` (number, checkbox, datetime, one of the `values`
    /// of a list, each of a multilist), or that fails its `validator`. The fields reach the
    /// script as environment variables named by their id and as `--id=value` arguments, like a
    /// trigger's params, and as one JSON object on stdin; the instance's data attributes are in
    /// the environment as for triggers.
    public func actionInvocation(integration name: String, action actionName: String, fields given: [String: String],
                                 eventID: String = Event.newID()) throws(IntegrationError) -> Invocation {
        let integration = try integration(named: name)
        let action = try action(named: actionName, of: integration)
        let values = try Self.checkedFields(given, of: action)
        let fieldEntries = action.fields.compactMap { field in values[field.id].map { InvocationEntry(field.id, .plain($0)) } }
        let environment = (instanceEnvironments[name] ?? []).filter { entry in !values.keys.contains(entry.name) } + fieldEntries + [
            InvocationEntry("HOOKBUS_EVENT_ID", .plain(eventID)),
            InvocationEntry("HOOKBUS_TRIGGER", .plain(action.name)),
        ] + Self.processEnvironment(configuration)
        let stdin = JSONValue.object(values.mapValues(JSONValue.string)).jsonText
        return Invocation(eventID: eventID, hook: .webhook, integration: name, trigger: action.name,
                          scriptType: integration.definition.script.type, code: action.code,
                          arguments: fieldEntries, environment: environment, stdin: stdin, files: [:], oversizedParams: [],
                          timeoutSeconds: configuration.timeout(integration: name, action: action.name), orderingKey: nil,
                          resultSpec: ResultSpec(action), policy: configuration.runPolicy(integration: name, action: action.name))
    }

    /// The values to run with (defaults filled in), or every problem at once.
    static func checkedFields(_ given: [String: String], of action: ActionDefinition) throws(IntegrationError) -> [String: String] {
        let (values, problems) = fieldProblems(given, of: action)
        guard problems.isEmpty else { throw IntegrationError(.invalidFields, problems.map(\.description).joined(separator: "; ")) }
        return values
    }

    /// One thing wrong with the field values of a Test Action: which field (nil for a name the
    /// action does not have) and what.
    public struct FieldProblem: Sendable, Equatable, CustomStringConvertible {
        public let field: String?
        /// What is wrong, as said next to the field.
        public let message: String
        /// As said in one line with the others: `field 'ips': a value is required`.
        public var description: String { field.map { "field '\($0)': \(message)" } ?? message }
    }

    /// The one check of an action's field values — types, `values`, validators, required
    /// fields — for the CLI, the API and the console's form (which shows each problem at its
    /// field): the values to run with, defaults filled in, and every problem found.
    public static func fieldProblems(_ given: [String: String], of action: ActionDefinition) -> (values: [String: String], problems: [FieldProblem]) {
        var problems: [FieldProblem] = []
        let known = Set(action.fields.map(\.id))
        for id in given.keys.sorted() where !known.contains(id) {
            let hint = Suggestion.closest(to: id, in: known).map { " (did you mean '\($0)'?)" } ?? ""
            problems.append(FieldProblem(field: nil, message: known.isEmpty ? "the action has no field '\(id)'"
                : "unknown field '\(id)'\(hint); known: \(known.sorted().joined(separator: ", "))"))
        }
        var values: [String: String] = [:]
        for field in action.fields {
            guard let value = given[field.id] ?? field.defaultValue, !value.isEmpty else {
                if field.required { problems.append(FieldProblem(field: field.id, message: "a value is required")) }
                continue
            }
            if let problem = Self.problem(with: value, for: field) {
                problems.append(FieldProblem(field: field.id, message: problem))
                continue
            }
            values[field.id] = value
        }
        return (values, problems)
    }

    static func problem(with value: String, for field: ActionDefinition.Field) -> String? {
        let keys = field.values.map(\.key)
        switch field.type {
        case .number?:
            if Double(value) == nil { return "'\(value)' is not a number" }
        case .checkbox?:
            if !["true", "false"].contains(value.lowercased()) { return "'\(value)' is not true or false" }
        case .datetime?:
            if !ValueValidation.isDateTime(value) { return "'\(value)' is not a date and time" }
        case .list?:
            if !keys.isEmpty && !keys.contains(value) { return "'\(value)' is not one of \(keys.joined(separator: ", "))" }
        case .multilist?:
            let chosen = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            if !keys.isEmpty, let wrong = chosen.first(where: { !keys.contains($0) }) { return "'\(wrong)' is not one of \(keys.joined(separator: ", "))" }
        default:
            break
        }
        if let validator = field.validator {
            let parts = field.type == .tag || field.type == .multilist
                ? value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } : [value]
            if let wrong = parts.first(where: { !ValueValidation.isValid($0, validator) }) {
                return "'\(wrong)' is not a valid \(validator.rawValue)"
            }
        }
        return nil
    }
}
