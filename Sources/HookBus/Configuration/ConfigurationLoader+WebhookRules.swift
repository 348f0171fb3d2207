import Foundation
import Yams

extension ConfigurationLoader {
    /// `webhooks.NAME.rules` — request-time routing, checked at load like definitions, each
    /// mistake reported at its own `file:line:column`:
    ///
    /// ```yaml
    /// rules:
    ///   - name: opened issues
    ///     when:
    ///       all:
    ///         - {header: X-GitHub-Event, equals: issues}
    ///         - {json: action, equals: opened}
    ///     triggers: ['Open incident from alert']
    ///   - name: pushes
    ///     when: {header: X-GitHub-Event, equals: push}
    ///     triggers: []                # filtered: stored, nothing runs
    ///   - triggers: ['Log event']     # no `when`: always holds (the default, last)
    /// ```
    ///
    /// A condition is one test (`header:`, `json:` or `form:` with `equals`, `one_of`, `matches`,
    /// `exists`, or for `json:` a numeric `gt`, `gte`, `lt`, `lte`) or a combination (`all:`,
    /// `any:` — lists — and `not:`).
    func readWebhookRules(_ node: Node, endpoint: WebhookEndpoint, webhookTriggers: [Trigger], reader: inout NodeReader) -> [WebhookRule]? {
        guard let elements = reader.sequence(node, key: "webhooks.\(endpoint.name).rules") else { return nil }
        var rules: [WebhookRule] = []
        var defaultRule: String?
        for (index, element) in elements.enumerated() {
            guard let view = reader.mapping(element, key: "webhooks.\(endpoint.name).rules[\(index)]") else { continue }
            if let defaultRule {
                reader.sink.warning("rule \(index + 1) of webhook '\(endpoint.name)' is never reached: rule '\(defaultRule)' before it has no 'when' and always holds", at: reader.position(element))
            }
            _ = reader.reportUnknownKeys(in: view, known: ["name", "when", "triggers"], context: "webhook '\(endpoint.name)' rule")
            let name = view["name"].flatMap { reader.string($0, key: "rules.name") } ?? "rule \(index + 1)"
            guard let triggersNode = view["triggers"] else {
                reader.sink.error("rule '\(name)' of webhook '\(endpoint.name)' needs 'triggers' (a list; [] filters the events it matches)", at: reader.position(element))
                continue
            }
            var triggers: [String] = []
            for triggerNode in NodeReader.isNull(triggersNode) ? [] : reader.oneOrMany(triggersNode) {
                guard let trigger = reader.string(triggerNode, key: "rules.triggers") else { continue }
                let targets = webhookTriggers.filter { $0.name == trigger || $0.qualifiedName == trigger }
                if targets.isEmpty {
                    reader.sink.error("rule '\(name)' of webhook '\(endpoint.name)' routes to '\(trigger)', which is not a loaded trigger with the 'webhook' hook\(Suggestion.hint(for: trigger, in: webhookTriggers.map(\.name)))", at: reader.position(triggerNode))
                } else if let allowed = endpoint.triggers, !targets.contains(where: { allowed.contains($0.name) || allowed.contains($0.qualifiedName) }) {
                    reader.sink.error("rule '\(name)' routes to '\(trigger)', which webhook '\(endpoint.name)' does not list in its 'triggers'", at: reader.position(triggerNode))
                }
                triggers.append(trigger)
            }
            // A rule without `when` always holds: last in the list, it is the default.
            if view["when"] == nil { defaultRule = name }
            guard let condition = view["when"].map({ readCondition($0, endpoint: endpoint, reader: &reader) }) ?? .all([]) else { continue }
            rules.append(WebhookRule(name: name, condition: condition, triggers: triggers))
        }
        return rules
    }

    private func readCondition(_ node: Node, endpoint: WebhookEndpoint, reader: inout NodeReader) -> WebhookCondition? {
        guard let view = reader.mapping(node, key: "when") else { return nil }
        let combinators = ["all", "any", "not"].filter { view[$0] != nil }
        let subjects = ["header", "json", "form"].filter { view[$0] != nil }
        guard combinators.count + subjects.count == 1 else {
            let found = combinators + subjects
            reader.sink.error(found.isEmpty
                ? "a condition needs one of header, json, form (a test) or all, any, not (a combination)"
                : "a condition has one of header, json, form, all, any, not; this one has \(found.joined(separator: ", ")) (combine them with all: [...])",
                at: reader.position(node))
            return nil
        }
        if let combinator = combinators.first, let inner = view[combinator] {
            _ = reader.reportUnknownKeys(in: view, known: [combinator], context: "'\(combinator)' condition")
            if combinator == "not" {
                return readCondition(inner, endpoint: endpoint, reader: &reader).map(WebhookCondition.not)
            }
            guard let list = reader.sequence(inner, key: combinator) else { return nil }
            if list.isEmpty { reader.sink.error("'\(combinator)' needs at least one condition", at: reader.position(inner)) }
            var conditions: [WebhookCondition] = []
            var complete = true
            for element in list {
                if let condition = readCondition(element, endpoint: endpoint, reader: &reader) { conditions.append(condition) } else { complete = false }
            }
            guard complete else { return nil }
            return combinator == "all" ? .all(conditions) : .any(conditions)
        }
        let subjectKey = subjects[0]
        let tests = ["equals", "one_of", "matches", "exists"] + WebhookCondition.Comparison.allCases.map(\.rawValue)
        _ = reader.reportUnknownKeys(in: view, known: [subjectKey] + tests, context: "'\(subjectKey)' condition")
        guard let subjectNode = view[subjectKey], let subjectText = reader.string(subjectNode, key: subjectKey) else { return nil }
        let subject: WebhookCondition.Subject
        switch subjectKey {
        case "header":
            if endpoint.credentialHeaders.contains(where: { $0.caseInsensitiveCompare(subjectText) == .orderedSame }) {
                reader.sink.error("header '\(subjectText)' carries credentials: it is never kept, so a rule cannot test it", at: reader.position(subjectNode))
                return nil
            }
            subject = .header(subjectText)
        case "json":
            do {
                subject = .json(try OutputPath(subjectText))
            } catch {
                reader.sink.error("json path '\(subjectText)': \(error)", at: reader.position(subjectNode))
                return nil
            }
        default:
            if let types = endpoint.contentTypes, !types.contains(where: { WebhookBody.kind(of: $0) == .urlEncodedForm || WebhookBody.kind(of: $0) == .multipartForm }) {
                reader.sink.warning("'form: \(subjectText)' never holds: webhook '\(endpoint.name)' takes no form bodies (content_types)", at: reader.position(subjectNode))
            }
            subject = .form(subjectText)
        }
        let given = tests.filter { view[$0] != nil }
        guard given.count == 1, let testKey = given.first, let testNode = view[testKey] else {
            reader.sink.error("'\(subjectKey): \(subjectText)' needs exactly one test: equals, one_of, matches, exists\(subjectKey == "json" ? ", gt, gte, lt or lte" : "")", at: reader.position(subjectNode))
            return nil
        }
        switch testKey {
        case "equals":
            return reader.string(testNode, key: "equals").map { .test(subject, .equals($0)) }
        case "one_of":
            guard let list = reader.sequence(testNode, key: "one_of") else { return nil }
            if list.isEmpty {
                reader.sink.error("'one_of' needs at least one value", at: reader.position(testNode))
                return nil
            }
            return .test(subject, .oneOf(list.compactMap { reader.string($0, key: "one_of") }))
        case "matches":
            guard let pattern = reader.string(testNode, key: "matches") else { return nil }
            do {
                return .test(subject, .matches(try WebhookCondition.Pattern(pattern)))
            } catch {
                reader.sink.error("'matches' is not a valid regular expression: '\(pattern)'", at: reader.position(testNode))
                return nil
            }
        case "exists":
            return reader.bool(testNode, key: "exists").map { .test(subject, .exists($0)) }
        default:
            guard subjectKey == "json" else {
                reader.sink.error("'\(testKey)' compares numbers: it applies to json paths, not to a \(subjectKey)", at: reader.position(testNode))
                return nil
            }
            guard let comparison = WebhookCondition.Comparison(rawValue: testKey), let bound = reader.number(testNode, key: testKey) else { return nil }
            return .test(subject, .compare(comparison, bound))
        }
    }
}
