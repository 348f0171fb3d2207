/// A Trigger action together with the integration it belongs to: what the router works with.
/// A class, made once per catalog: routing passes triggers around for every event, and a
/// reference costs one retain where a copy of both definitions costs dozens.
public final class Trigger: Sendable, Hashable {
    public let integration: IntegrationDefinition
    public let action: ActionDefinition
    public init(integration: IntegrationDefinition, action: ActionDefinition) {
        self.integration = integration
        self.action = action
        qualifiedName = "\(integration.name)/\(action.name)"
    }

    public static func == (lhs: Trigger, rhs: Trigger) -> Bool { lhs.qualifiedName == rhs.qualifiedName }
    public func hash(into hasher: inout Hasher) { hasher.combine(qualifiedName) }

    /// The trigger's name, as events and the audit trail refer to it: the action name.
    public var name: String { action.name }
    /// A name unique across integrations: `Integration/Action`.
    public let qualifiedName: String
}

/// An integration and its actions, as loaded.
public struct Integration: Sendable, Hashable {
    public let definition: IntegrationDefinition
    /// Actions in name order.
    public let actions: [ActionDefinition]

    public var name: String { definition.name }
}

/// Everything HookBus knows about the loaded definitions. An immutable value: a reload builds a
/// new catalog and swaps it whole, so a run in progress never sees half of a reload.
public struct Catalog: Sendable {
    /// Integrations by name, in name order.
    public let integrations: [Integration]
    /// For each hook, its triggers ordered by integration name, then action name.
    private let triggersByHook: [Hook: [Trigger]]

    public init(integrations: [Integration]) {
        self.integrations = integrations.sorted { $0.name < $1.name }
        var index: [Hook: [Trigger]] = [:]
        for integration in self.integrations {
            for action in integration.actions where action.isTrigger {
                for hook in action.hooks {
                    index[hook, default: []].append(Trigger(integration: integration.definition, action: action))
                }
            }
        }
        triggersByHook = index
    }

    public static let empty = Catalog(integrations: [])

    /// The triggers that list `hook`, in deterministic order.
    public func triggers(for hook: Hook) -> [Trigger] {
        triggersByHook[hook] ?? []
    }

    /// Hooks that at least one trigger listens to.
    public var hooksInUse: [Hook] { triggersByHook.keys.sorted() }

    public var actionCount: Int { integrations.reduce(0) { $0 + $1.actions.count } }

    /// All triggers, each once, in deterministic order.
    public var triggers: [Trigger] {
        integrations.flatMap { integration in
            integration.actions.filter(\.isTrigger).map { Trigger(integration: integration.definition, action: $0) }
        }
    }

    public func integration(named name: String) -> Integration? {
        integrations.first { $0.name == name }
    }

    /// Finds triggers by `Action` or `Integration/Action` among those listening to `hook`.
    public func triggers(named name: String, for hook: Hook) -> [Trigger] {
        triggers(for: hook).filter { $0.name == name || $0.qualifiedName == name }
    }
}
