/// Decides, for one event, which triggers run and exactly what each receives. Pure: no I/O, no
/// clock, no randomness, so `--dry-run`, tests and the dispatcher all see the same decisions.
/// A class: every request asks the engine for the router in use, and handing out a reference
/// costs one retain where copying the struct (catalog and configuration) cost dozens.
public final class Router: Sendable {
    /// Linux refuses a single argument or environment string longer than this (MAX_ARG_STRLEN,
    /// 32 pages of 4 KiB, including the terminating NUL).
    public static let maximumStringBytes = 128 * 1024 - 1

    /// The only variables of a run's environment that do not come from the event or the
    /// integration instance. HOME and TMPDIR point at the run's private folder.
    public static let safePath = "/usr/local/bin:/usr/bin:/bin"

    public let catalog: Catalog
    public let configuration: HookBusConfiguration
    /// Per trigger, the parts of its invocations that do not depend on the event.
    private let fixed: [String: FixedParts]
    /// Per integration, what its instance puts in every run's environment.
    let instanceEnvironments: [String: [InvocationEntry]]

    private struct FixedParts: Sendable {
        /// Instance environment per hook of the trigger, without names that hook's params use.
        let instance: [Hook: [InvocationEntry]]
        let tail: [InvocationEntry]
        let timeout: Double
        let resultSpec: ResultSpec
        let policy: RunPolicy
    }

    /// `--token` and `--incmanurl`, the same for every run.
    private let fixedArguments: [InvocationEntry]

    /// What every run's environment ends with: a fixed `PATH`, the run folder as `HOME` and
    /// `TMPDIR`, `SHELL=/bin/sh`, and `LANG` only when `runner.locale` sets one. `SHELL` spares
    /// bash a look-up of its user in `passwd` at every start: a root HookBus's runs have uids of
    /// their own (`RunUIDs`) that no `passwd` names, and a look-up that finds nothing reads all
    /// of `passwd` and tries every other source `nsswitch.conf` lists (bash started about 30%
    /// slower here, `hookbus-bench sandbox`). By default runs are in the C
    /// locale: bytes pass through unchanged and Python 3.7+ reads and writes UTF-8 in it (PEP 538
    /// and 540). A locale is not free: where glibc has no locale archive (Debian's slim images,
    /// this machine), every start opens some fifteen locale files — half a millisecond of a bash
    /// start's one and a half.
    static func processEnvironment(_ configuration: HookBusConfiguration) -> [InvocationEntry] {
        [InvocationEntry("PATH", .plain(Self.safePath))]
            + (configuration.locale.map { [InvocationEntry("LANG", .plain($0))] } ?? [])
            + [InvocationEntry("HOME", .runDirectory), InvocationEntry("TMPDIR", .runDirectory), InvocationEntry("SHELL", .plain("/bin/sh"))]
    }

    /// Names a data attribute may not take over in a run's environment.
    static let reservedNames: Set<String> = ["PATH", "LANG", "HOME", "TMPDIR", "SHELL", "HOOKBUS_EVENT_ID", "HOOKBUS_HOOK", "HOOKBUS_TRIGGER",
                                             "HOOKBUS_WEBHOOK", "HOOKBUS_CONTENT_TYPE", "HOOKBUS_PAYLOAD_ENCODING", "token", "incmanurl"]

    public init(catalog: Catalog, configuration: HookBusConfiguration) {
        self.catalog = catalog
        self.configuration = configuration
        // Per integration, the environment its instance contributes (data attributes and
        // proxy_url): the same for every run, so computed once.
        var environments: [String: [InvocationEntry]] = [:]
        for integration in catalog.integrations {
            var entries: [InvocationEntry] = []
            if let instance = configuration.instances[integration.name] {
                for attribute in integration.definition.dataAttributes where !Self.reservedNames.contains(attribute.name) && !attribute.name.hasPrefix("HOOKBUS_HEADER_") {
                    switch instance.values[attribute.name] {
                    case let .plain(text): entries.append(InvocationEntry(attribute.name, .plain(text)))
                    case let .secret(secret): entries.append(InvocationEntry(attribute.name, .secret(secret)))
                    case nil: break
                    }
                }
            }
            if integration.definition.requireProxyConfig, let proxy = configuration.proxyURL {
                entries.append(InvocationEntry("proxy_url", .plain(proxy)))
            }
            environments[integration.name] = entries
        }
        instanceEnvironments = environments
        var fixed: [String: FixedParts] = [:]
        for trigger in catalog.triggers {
            let base = environments[trigger.integration.name] ?? []
            var perHook: [Hook: [InvocationEntry]] = [:]
            for hook in trigger.action.hooks {
                let paramNames = Set(hook.params.map(\.name))
                perHook[hook] = base.filter { !paramNames.contains($0.name) }
            }
            fixed[trigger.qualifiedName] = FixedParts(
                instance: perHook,
                tail: [
                    InvocationEntry("HOOKBUS_TRIGGER", .plain(trigger.name)),
                ] + Self.processEnvironment(configuration),
                timeout: configuration.timeout(integration: trigger.integration.name, action: trigger.name),
                resultSpec: ResultSpec(trigger.action),
                policy: configuration.runPolicy(integration: trigger.integration.name, action: trigger.name))
        }
        self.fixed = fixed
        fixedArguments = [InvocationEntry("token", .runToken), InvocationEntry("incmanurl", .plain(configuration.incidentSystemURL))]
    }

    /// No trigger listens to the event (it names none and none is on its hook): it is stored
    /// done, for the audit trail and replays, and the dispatcher never has to claim it.
    public func storesDone(_ event: Event) -> Bool {
        event.trigger == nil && catalog.triggers(for: event.hook).isEmpty
    }

    /// The decision for every trigger listening to the event's hook, in catalog order.
    /// - Throws: `EventError.unknownTrigger` when the event names a trigger that does not exist
    ///   for its hook, or a name two integrations share.
    public func route(_ event: Event) throws(EventError) -> [RouteDecision] {
        let candidates = catalog.triggers(for: event.hook)
        var target: Trigger?
        if let name = event.trigger {
            let named = catalog.triggers(named: name, for: event.hook)
            if named.isEmpty {
                let hint = Suggestion.hint(for: name, in: candidates.map(\.name))
                throw EventError(.unknownTrigger, "no trigger named '\(name)' listens to hook '\(event.hook.rawValue)'\(hint)")
            }
            if named.count > 1 {
                throw EventError(.unknownTrigger, "trigger name '\(name)' is ambiguous: use one of \(named.map { "'\($0.qualifiedName)'" }.joined(separator: ", "))")
            }
            target = named[0]
        }
        let endpoint = webhookEndpoint(of: event)
        let ruling = endpoint?.rules.map { WebhookRuleDecision.decide($0, for: event) }
        let shared = SharedParams(event: event)
        return candidates.map { trigger in
            func names(_ list: [String]) -> Bool { list.contains(trigger.name) || list.contains(trigger.qualifiedName) }
            if let target, target != trigger {
                return .skip(integration: trigger.integration.name, trigger: trigger.name, reason: .notTargeted(named: event.trigger ?? target.name))
            }
            if let endpoint, let allowed = endpoint.triggers, !names(allowed) {
                return .skip(integration: trigger.integration.name, trigger: trigger.name, reason: .endpointRestricted(endpoint: endpoint.name))
            }
            if let endpoint, let ruling {
                switch ruling {
                case .unmatched:
                    return .skip(integration: trigger.integration.name, trigger: trigger.name, reason: .filtered(endpoint: endpoint.name, rule: nil))
                case let .routed(rule, triggers) where triggers.isEmpty:
                    return .skip(integration: trigger.integration.name, trigger: trigger.name, reason: .filtered(endpoint: endpoint.name, rule: rule))
                case let .routed(rule, triggers) where !names(triggers):
                    return .skip(integration: trigger.integration.name, trigger: trigger.name, reason: .ruleRoutedElsewhere(endpoint: endpoint.name, rule: rule))
                case .routed:
                    break
                }
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

    /// The webhook endpoint whose trigger list and rules apply to the event: the one it came
    /// through (kept on replay), or `fire --webhook` names. A daemon's or a schedule's events
    /// came through none.
    private func webhookEndpoint(of event: Event) -> WebhookEndpoint? {
        guard event.hook == .webhook, event.source.kind != .daemon, event.source.kind != .schedule, let name = event.source.name else { return nil }
        return configuration.webhooks[name]
    }

    /// The parts of an invocation that are the same for every trigger of one event.
    private struct SharedParams {
        let params: [(name: String, value: String, oversized: Bool)]
        let stdin: String
        let orderingKey: String?
        let eventEntries: [InvocationEntry]

        init(event: Event) {
            var params: [(name: String, value: String, oversized: Bool)] = []
            var stdin = "{"
            for spec in event.hook.params {
                guard let param = event.params[spec.name] else { continue }
                // "--" + name + "=" + value must fit one argv string; "name=value" one env string.
                let oversized = spec.name.utf8.count + param.raw.utf8.count + 3 > Router.maximumStringBytes
                if !params.isEmpty { stdin += "," }
                params.append((spec.name, param.raw, oversized))
                stdin += JSONValue.quoted(spec.name) + ":" + (param.isText ? JSONValue.quoted(param.raw) : param.raw)
            }
            stdin += "}"
            self.params = params
            self.stdin = stdin
            orderingKey = event.orderingKey
            var entries = [InvocationEntry("HOOKBUS_EVENT_ID", .plain(event.id)), InvocationEntry("HOOKBUS_HOOK", .plain(event.hook.rawValue))]
            if let body = event.webhookBody {
                // What the request said beside its body: its endpoint, its content type, how
                // `payload` carries the bytes, and the headers the endpoint keeps.
                if let endpoint = event.source.name { entries.append(InvocationEntry("HOOKBUS_WEBHOOK", .plain(endpoint))) }
                if let contentType = body.contentType { entries.append(InvocationEntry("HOOKBUS_CONTENT_TYPE", .plain(contentType))) }
                entries.append(InvocationEntry("HOOKBUS_PAYLOAD_ENCODING", .plain(event.payloadEncoding.rawValue)))
                for header in body.headers { entries.append(InvocationEntry(header.environmentName, .plain(header.value))) }
            }
            eventEntries = entries
        }
    }

    private func invocation(for trigger: Trigger, event: Event, shared: SharedParams) -> Invocation {
        var arguments: [InvocationEntry] = []
        arguments.reserveCapacity(shared.params.count + 3)
        var files: [String: String] = [:]
        var oversized: [String] = []
        let dropText = event.hook.isCustomAction && !trigger.action.showModal
        for param in shared.params {
            if dropText && param.name == "text" { continue }
            if param.oversized {
                let file = "params/\(param.name).json"
                files[file] = param.value
                oversized.append(param.name)
            } else {
                arguments.append(InvocationEntry(param.name, .plain(param.value)))
            }
        }
        if event.hook.isCustomAction && !dropText && event.params["text"] == nil {
            // The button's modal was shown but left empty: scripts still get `--text=`.
            arguments.append(InvocationEntry("text", .plain("")))
        }
        arguments += fixedArguments
        let parts = fixed[trigger.qualifiedName]

        // Environment: instance values (minus any that a param of this event shadows), the
        // params, then HookBus's own. Reserved names were removed from instance values up front.
        let instance = parts?.instance[event.hook] ?? []
        var environment: [InvocationEntry] = []
        environment.reserveCapacity(instance.count + arguments.count + 8)
        environment += instance
        environment += files.isEmpty ? [] : oversized.map { InvocationEntry("HOOKBUS_FILE_\($0)", .runFile("params/\($0).json")) }
        environment += arguments
        environment += shared.eventEntries
        environment += parts?.tail ?? []
        return Invocation(
            eventID: event.id, hook: event.hook, integration: trigger.integration.name, trigger: trigger.name,
            scriptType: trigger.integration.script.type, code: trigger.action.code,
            arguments: arguments, environment: environment, stdin: shared.stdin, files: files,
            oversizedParams: oversized,
            timeoutSeconds: parts?.timeout ?? configuration.timeout(integration: trigger.integration.name, action: trigger.name),
            orderingKey: shared.orderingKey, resultSpec: parts?.resultSpec ?? ResultSpec(trigger.action),
            policy: parts?.policy ?? configuration.runPolicy(integration: trigger.integration.name, action: trigger.name))
    }
}
