/// Why a trigger listening to the event's hook does not run for it.
public enum SkipReason: Sendable, Hashable, CustomStringConvertible {
    /// `check_not_null_field` names a field that is not populated on the element.
    case notNull(field: String, result: NotNullCheck.Result)
    /// A custom-action event (or a targeted event) names another trigger.
    case notTargeted(named: String)
    /// The webhook endpoint the event came through is configured to reach other triggers only.
    case endpointRestricted(endpoint: String)

    public var description: String {
        switch self {
        case let .notNull(field, result):
            return "check_not_null_field '\(field)' is \(result == .missing ? "missing" : result == .null ? "null" : "empty")"
        case let .notTargeted(named):
            return "not the named trigger ('\(named)')"
        case let .endpointRestricted(endpoint):
            return "webhook endpoint '\(endpoint)' does not route to this trigger"
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
