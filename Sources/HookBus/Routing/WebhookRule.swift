public import Foundation

/// A rule of a webhook endpoint (`webhooks.NAME.rules`): when its condition holds for an event,
/// the event goes to the triggers it names (none: the event is filtered). Rules are tried in
/// order and the first that holds decides; an event no rule holds for is filtered. Filtered
/// events are stored all the same and their triggers' skip records say why.
public struct WebhookRule: Sendable {
    /// For messages and the audit trail: the configured `name`, or `rule N`.
    public let name: String
    public let condition: WebhookCondition
    /// By `Action` or `Integration/Action`.
    public let triggers: [String]

    public init(name: String, condition: WebhookCondition, triggers: [String]) {
        self.name = name
        self.condition = condition
        self.triggers = triggers
    }
}

/// A condition on a webhook event: on a kept header, on a JSON path of its body (the output path
/// language), or on a form field, combined with all / any / not.
public indirect enum WebhookCondition: Sendable {
    case all([WebhookCondition])
    case any([WebhookCondition])
    case not(WebhookCondition)
    case test(Subject, Test)

    public enum Subject: Sendable {
        /// A request header, by name (case-insensitive); it is kept with the event.
        case header(String)
        /// A path into the body's JSON view (`Event.webhookJSON`).
        case json(OutputPath)
        /// A field of a form body.
        case form(String)
    }

    public enum Test: Sendable {
        case equals(String)
        case oneOf([String])
        case matches(Pattern)
        case exists(Bool)
        case compare(Comparison, Double)
    }

    public enum Comparison: String, Sendable, CaseIterable {
        case gt, gte, lt, lte

        func holds(_ left: Double, _ right: Double) -> Bool {
            switch self {
            case .gt: return left > right
            case .gte: return left >= right
            case .lt: return left < right
            case .lte: return left <= right
            }
        }
    }

    /// A compiled regular expression (ICU syntax, unanchored: `^…$` anchors it). Compiled once at
    /// load; `NSRegularExpression` is immutable and safe to share between threads.
    public struct Pattern: @unchecked Sendable {
        public let text: String
        let expression: NSRegularExpression

        public init(_ text: String) throws {
            self.text = text
            expression = try NSRegularExpression(pattern: text)
        }

        func matches(_ value: String) -> Bool {
            expression.firstMatch(in: value, range: NSRange(value.startIndex..., in: value)) != nil
        }
    }

    /// Whether the condition holds for the event.
    public func holds(for event: Event) -> Bool {
        switch self {
        case let .all(conditions): return conditions.allSatisfy { $0.holds(for: event) }
        case let .any(conditions): return conditions.contains { $0.holds(for: event) }
        case let .not(condition): return !condition.holds(for: event)
        case let .test(subject, test): return test.holds(for: Self.values(of: subject, in: event))
        }
    }

    /// The values the subject has in the event: nil when it is absent (a missing header, path
    /// or field, a JSON null, an empty array); the elements of an array (a `[]` projection, an
    /// array value, a repeated form field), each tested. Headers and form fields are strings.
    static func values(of subject: Subject, in event: Event) -> [JSONValue]? {
        let found: [JSONValue]
        switch subject {
        case let .header(name):
            guard let header = event.webhookBody?.headers.first(where: { $0.name.caseInsensitiveCompare(name) == .orderedSame }) else { return nil }
            found = [.string(header.value)]
        case let .json(path):
            guard let json = event.webhookJSON, let value = path.evaluate(json) else { return nil }
            found = value.arrayValue ?? [value]
        case let .form(field):
            guard let value = event.params["payloadForm"]?.value[field] else { return nil }
            found = value.arrayValue ?? [value]
        }
        let present = found.filter { $0 != .null }
        return present.isEmpty ? nil : present
    }
}

extension WebhookCondition.Test {
    /// Whether the test holds for the subject's values (nil: absent). Every test but `exists`
    /// fails on an absent subject; on several values it holds when one of them passes. Numbers
    /// compare as numbers (`1.0` equals `1`), and only JSON numbers take `gt`…`lte` (a string
    /// "9" is text, not a number); `matches` tests a value's text.
    func holds(for values: [JSONValue]?) -> Bool {
        if case let .exists(expected) = self { return (values != nil) == expected }
        guard let values else { return false }
        return values.contains { value in
            switch self {
            case let .equals(expected): return Self.equals(value, expected)
            case let .oneOf(choices): return choices.contains { Self.equals(value, $0) }
            case let .matches(pattern): return pattern.matches(OutputPath.text(value))
            case let .compare(comparison, bound): return Self.number(value).map { comparison.holds($0, bound) } ?? false
            case .exists: return true
            }
        }
    }

    private static func equals(_ value: JSONValue, _ expected: String) -> Bool {
        if let number = number(value), let other = Double(expected), other.isFinite { return number == other }
        return OutputPath.text(value) == expected
    }

    private static func number(_ value: JSONValue) -> Double? {
        guard case let .number(text) = value, let number = Double(text), number.isFinite else { return nil }
        return number
    }
}

/// What an endpoint's rules decided for an event.
public enum WebhookRuleDecision: Sendable, Equatable {
    /// The rule that held, and the triggers it routes to.
    case routed(rule: String, triggers: [String])
    /// No rule held.
    case unmatched

    /// The triggers the event may reach (empty: none).
    public var triggers: [String] {
        if case let .routed(_, triggers) = self { return triggers }
        return []
    }

    public static func decide(_ rules: [WebhookRule], for event: Event) -> WebhookRuleDecision {
        for rule in rules where rule.condition.holds(for: event) {
            return .routed(rule: rule.name, triggers: rule.triggers)
        }
        return .unmatched
    }
}
