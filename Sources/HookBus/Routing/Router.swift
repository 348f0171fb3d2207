/// Decides, for one event, which triggers run and exactly what each receives. Pure: no I/O, no
/// clock, no randomness, so `--dry-run`, tests and the dispatcher all see the same decisions.
public struct Router: Sendable {
    /// Linux refuses a single argument or environment string longer than this (MAX_ARG_STRLEN,
    /// 32 pages of 4 KiB, including the terminating NUL).
    public static let maximumStringBytes = 128 * 1024 - 1

    /// The only variables of a run's environment that do not come from the event or the
    /// integration instance. HOME and TMPDIR point at the run's private folder.
    public static let safePath = "/usr/local/bin:/usr/bin:/bin"

    public let catalog: Catalog
    public let configuration: HookBusConfiguration

    public init(catalog: Catalog, configuration: HookBusConfiguration) {
        self.catalog = catalog
        self.configuration = configuration
    }

    /// The decision for every trigger listening to the event's hook, in catalog order.
    /// - Throws: `EventError.unknownTrigger` when the event names a trigger that does not exist
    ///   for its hook, or a name two integrations share.
    public func route(_ event: Event) throws(EventError) -> [RouteDecision] {
        let candidates = catalog.triggers(for: event.hook)
        var target: Trigger?
        if let name = event.trigger {
            let named = candidates.filter { $0.name == name || $0.qualifiedName == name }
            if named.isEmpty {
                let hint = Suggestion.hint(for: name, in: candidates.map(\.name))
                throw EventError(.unknownTrigger, "no trigger named '\(name)' listens to hook '\(event.hook.rawValue)'\(hint)")
            }
            if named.count > 1 {
                throw EventError(.unknownTrigger, "trigger name '\(name)' is ambiguous: use one of \(named.map { "'\($0.qualifiedName)'" }.joined(separator: ", "))")
            }
            target = named[0]
        }
        let allowed = endpointRestriction(for: event)
        let shared = SharedParams(event: event)
        return candidates.map { trigger in
            if let target, target != trigger {
                return .skip(integration: trigger.integration.name, trigger: trigger.name, reason: .notTargeted(named: event.trigger ?? target.name))
            }
            if let (endpoint, names) = allowed, !names.contains(trigger.name), !names.contains(trigger.qualifiedName) {
                return .skip(integration: trigger.integration.name, trigger: trigger.name, reason: .endpointRestricted(endpoint: endpoint))
            }
            if let field = trigger.action.checkNotNullField {
                let result = NotNullCheck.check(field, in: event.subject)
                if result != .populated {
                    return .skip(integration: trigger.integration.name, trigger: trigger.name, reason: .notNull(field: field, result: result))
                }
            }
            return .run(invocation(for: trigger, event: event, shared: shared))
        }
    }

    /// The custom-action buttons to show for an incident (`incidentCustomAction`) or a task
    /// (`taskCustomAction`): the triggers whose `check_not_null_field` is populated on `detail`.
    public func availableButtons(for hook: Hook, detail: [String: JSONValue]) -> [Trigger] {
        catalog.triggers(for: hook).filter { trigger in
            guard let field = trigger.action.checkNotNullField else { return true }
            return NotNullCheck.check(field, in: detail) == .populated
        }
    }

    private func endpointRestriction(for event: Event) -> (String, [String])? {
        guard event.hook == .webhook, let name = event.source.name,
              let triggers = configuration.webhooks[name]?.triggers else { return nil }
        return (name, triggers)
    }

    /// The parts of an invocation that are the same for every trigger of one event.
    private struct SharedParams {
        let params: [(name: String, value: String, oversized: Bool)]
        let stdin: String

        init(event: Event) {
            var params: [(name: String, value: String, oversized: Bool)] = []
            var stdin = "{"
            for spec in event.hook.params {
                guard let param = event.params[spec.name] else { continue }
                // "--" + name + "=" + value must fit one argv string; "name=value" one env string.
                let oversized = spec.name.utf8.count + param.raw.utf8.count + 3 > Router.maximumStringBytes
                params.append((spec.name, param.raw, oversized))
                if stdin.count > 1 { stdin += "," }
                stdin += JSONValue.quoted(spec.name) + ":" + (spec.kind == .text ? JSONValue.quoted(param.raw) : param.raw)
            }
            stdin += "}"
            self.params = params
            self.stdin = stdin
        }
    }

    private func invocation(for trigger: Trigger, event: Event, shared: SharedParams) -> Invocation {
        var arguments: [InvocationEntry] = []
        var environment: [InvocationEntry] = []
        var files: [String: String] = [:]
        var oversized: [String] = []
        let dropText = event.hook.isCustomAction && !trigger.action.showModal
        for param in shared.params {
            if dropText && param.name == "text" { continue }
            if param.oversized {
                let file = "params/\(param.name).json"
                files[file] = param.value
                oversized.append(param.name)
                environment.append(InvocationEntry("HOOKBUS_FILE_\(param.name)", .runFile(file)))
            } else {
                arguments.append(InvocationEntry(param.name, .plain(param.value)))
            }
        }
        if event.hook.isCustomAction && !dropText && event.params["text"] == nil {
            // The button's modal was shown but left empty: scripts still get `--text=`.
            arguments.append(InvocationEntry("text", .plain("")))
        }
        arguments.append(InvocationEntry("token", .runToken))
        arguments.append(InvocationEntry("incmanurl", .plain(configuration.incidentSystemURL)))

        // Environment, lowest precedence first: instance values, then params, then HookBus's own.
        if let instance = configuration.instances[trigger.integration.name] {
            for attribute in trigger.integration.dataAttributes {
                guard let value = instance.values[attribute.name] else { continue }
                switch value {
                case let .plain(text): environment.append(InvocationEntry(attribute.name, .plain(text)))
                case let .secret(secret): environment.append(InvocationEntry(attribute.name, .secret(secret)))
                }
            }
        }
        if trigger.integration.requireProxyConfig, let proxy = configuration.proxyURL {
            environment.append(InvocationEntry("proxy_url", .plain(proxy)))
        }
        environment += arguments
        environment += [
            InvocationEntry("HOOKBUS_EVENT_ID", .plain(event.id)),
            InvocationEntry("HOOKBUS_HOOK", .plain(event.hook.rawValue)),
            InvocationEntry("HOOKBUS_TRIGGER", .plain(trigger.name)),
            InvocationEntry("PATH", .plain(Self.safePath)),
            InvocationEntry("LANG", .plain("C.UTF-8")),
            InvocationEntry("HOME", .runDirectory),
            InvocationEntry("TMPDIR", .runDirectory),
        ]
        // Later entries win: a data attribute cannot shadow a param or PATH/HOME.
        var seen = Set<String>()
        var deduplicated: [InvocationEntry] = []
        for entry in environment.reversed() where seen.insert(entry.name).inserted {
            deduplicated.append(entry)
        }
        return Invocation(
            eventID: event.id, hook: event.hook, integration: trigger.integration.name, trigger: trigger.name,
            scriptType: trigger.integration.script.type, code: trigger.action.code,
            arguments: arguments, environment: deduplicated.reversed(), stdin: shared.stdin, files: files,
            oversizedParams: oversized,
            timeoutSeconds: configuration.timeout(integration: trigger.integration.name, action: trigger.name),
            orderingKey: event.orderingKey)
    }
}
