import Foundation
import HookBus

/// The Actions page: what an operator can make run by hand — a connection test per integration
/// and every action that is not a trigger, each with a form built from its `fields`. The values
/// are checked by the same decision as the CLI's and the API's (`Router.fieldProblems`), and a
/// problem is shown at its field; nothing runs until every field is right.
extension ConsolePages {
    /// An action a person can run: not a trigger (a trigger's input is an event, see re-drive).
    static func isRunnable(_ action: ActionDefinition) -> Bool { !action.isTrigger }

    func actions() -> [String: Any] {
        let catalog = state.engine.router.catalog
        return [
            "title": "Actions", "navActions": true,
            "integrations": catalog.integrations.map { integration -> [String: Any] in
                var view: [String: Any] = [
                    "name": integration.name, "file": integration.definition.location.description,
                    "actions": integration.actions.filter(Self.isRunnable).map { action -> [String: Any] in
                        [
                            "name": action.name, "type": action.type.rawValue, "key": "\(integration.name)/\(action.name)",
                            "href": "/ui/actions/\(ConsoleViews.encode(integration.name))/\(ConsoleViews.encode(action.name))",
                            "fields": String(action.fields.count),
                        ]
                    },
                ]
                if let code = integration.definition.script.testConnectionCode, !code.isEmpty {
                    view["testAction"] = "/ui/integrations/\(ConsoleViews.encode(integration.name))/test"
                }
                return view
            },
        ]
    }

    /// The integration and action a form is for, or nil when either is not loaded (any more).
    func runnableAction(integration name: String, action actionName: String) -> (Integration, ActionDefinition)? {
        guard let integration = state.engine.router.catalog.integrations.first(where: { $0.name == name }),
              let action = integration.actions.first(where: { $0.name == actionName }), Self.isRunnable(action) else { return nil }
        return (integration, action)
    }

    /// A form's field values as the action takes them: `field.<id>` inputs, an empty input
    /// meaning "not given" (so the field's default applies: the form shows it as the input's
    /// placeholder, never as a value the user would have to clear), several choices of a
    /// multilist joined by commas as the CLI takes them, and a checkbox `true` when ticked and
    /// `false` when not (a browser sends nothing for an unticked box). A checkbox therefore
    /// always has a value, and `required` on it is met either way — as `--field x=false` meets
    /// it in the CLI.
    static func fieldValues(_ form: [(name: String, value: String)], of action: ActionDefinition) -> [String: String] {
        var values: [String: [String]] = [:]
        for (name, value) in form where name.hasPrefix("field.") && !value.isEmpty {
            values[String(name.dropFirst("field.".count)), default: []].append(value)
        }
        var joined = values.mapValues { $0.joined(separator: ",") }
        for field in action.fields where field.type == .checkbox {
            joined[field.id] = values[field.id] == nil ? "false" : "true"
        }
        return joined
    }

    /// The form of an action, with the values typed so far and the problems found in them.
    func actionForm(_ integration: Integration, _ action: ActionDefinition, values: [String: String] = [:],
                    problems: [HookBus.Router.FieldProblem] = []) -> [String: Any] {
        var byField: [String: String] = [:]
        for problem in problems { if let field = problem.field { byField[field] = problem.message } }
        var view: [String: Any] = [
            "title": "\(action.name) · Actions", "navActions": true, "integration": integration.name, "action": action.name, "type": action.type.rawValue,
            "file": action.location.description,
            "post": "/ui/actions/\(ConsoleViews.encode(integration.name))/\(ConsoleViews.encode(action.name))",
            "fields": action.fields.map { field in Self.fieldView(field, value: values[field.id], error: byField[field.id]) },
        ]
        let general = problems.filter { $0.field == nil }.map(\.message)
        if !general.isEmpty { view["problems"] = general }
        if !problems.isEmpty { view["hasProblems"] = true }
        return view
    }

    /// One input of the form: its kind from the field's type, its choices from `values`.
    static func fieldView(_ field: ActionDefinition.Field, value: String?, error: String?) -> [String: Any] {
        let current = value ?? ""
        var view: [String: Any] = ["id": field.id, "name": "field.\(field.id)", "label": field.label ?? field.id, "value": current]
        let fallback = field.defaultValue.flatMap { $0.isEmpty ? nil : $0 }
        if let fallback { view["placeholder"] = "default: \(fallback)" }
        if field.required { view["required"] = true }
        if let hint = field.hint, !hint.isEmpty { view["hint"] = hint }
        if let error { view["error"] = error }
        if let validator = field.validator { view["validator"] = validator.rawValue }
        let chosen = Set(current.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        switch field.type {
        case .list?, .multilist?:
            view[field.type == .list ? "isList" : "isMultilist"] = true
            view["none"] = fallback.map { "default (\($0))" } ?? "—"
            view["options"] = field.values.map { item -> [String: Any] in
                var option: [String: Any] = ["key": item.key, "label": item.label]
                if chosen.contains(item.key) { option["selected"] = true }
                return option
            }
        case .checkbox?:
            view["isCheckbox"] = true
            if (value ?? fallback ?? "").lowercased() == "true" { view["checked"] = true }
        case .textarea?:
            view["isTextarea"] = true
        case .number?:
            view["isText"] = true
            view["inputMode"] = "decimal"
        case .datetime?:
            view["isText"] = true
            if fallback == nil { view["placeholder"] = "2026-12-04T10:00:00Z" }
        default:
            view["isText"] = true
            if field.type == .tag, fallback == nil { view["placeholder"] = "several, separated, by commas" }
        }
        return view
    }

    /// A run made from the console, as the event page shows runs.
    func runView(eventID: String) async throws -> [String: Any]? {
        try await state.engine.store.runs(RunFilter(eventID: eventID, limit: 1)).first.map(ConsoleViews.run)
    }
}
