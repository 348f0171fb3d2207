/// Why a trigger listening to the event's hook does not run for it.
public enum SkipReason: Sendable, Hashable, CustomStringConvertible {
    /// `check_not_null_field` names a field that is not populated on the element.
    case notNull(field: String, result: NotNullCheck.Result)
    /// A custom-action event (or a targeted event) names another trigger.
    case notTargeted(named: String)
    /// The webhook endpoint the event came through is configured to reach other triggers only.
    case endpointRestricted(endpoint: String)
    /// The endpoint's rules sent the event elsewhere: `rule` held and names other triggers.
    case ruleRoutedElsewhere(endpoint: String, rule: String)
    /// The endpoint's rules filtered the event: the rule that held names no trigger, or (nil) no
    /// rule held. The event is stored; nothing runs.
    case filtered(endpoint: String, rule: String?)

    /// Whether the reason is a webhook rule's filter (counted in `hookbus_webhook_filtered_total`).
    public var isFiltered: Bool {
        if case .filtered = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case let .notNull(field, result):
            return "check_not_null_field '\(field)' is \(result == .missing ? "missing" : result == .null ? "null" : "empty")"
        case let .notTargeted(named):
            return "not the named trigger ('\(named)')"
        case let .endpointRestricted(endpoint):
            return "webhook endpoint '\(endpoint)' does not route to this trigger"
        case let .ruleRoutedElsewhere(endpoint, rule):
            return "rule '\(rule)' of webhook '\(endpoint)' routes to other triggers"
        case let .filtered(endpoint, rule?):
            return "filtered: rule '\(rule)' of webhook '\(endpoint)' routes to no trigger"
        case let .filtered(endpoint, nil):
            return "filtered: no rule of webhook '\(endpoint)' matched"
        }
    }
}

/// What the router decided for one trigger of the event's hook.
public enum RouteDecision: Sendable, Hashable {
    case run(Invocation)
    case skip(integration: String, trigger: String, reason: SkipReason)

    public var triggerName: String {
        switch self {
        case let .run(invocation): return invocation.trigger
        case let .skip(_, trigger, _): return trigger
        }
    }

    public var integrationName: String {
        switch self {
        case let .run(invocation): return invocation.integration
        case let .skip(integration, _, _): return integration
        }
    }
}
