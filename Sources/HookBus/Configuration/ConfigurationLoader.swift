public import Foundation
import Yams

/// The result of reading `hookbus.yaml`: the configuration, when it has no errors, and every
/// problem found, as `path:line:column` diagnostics like the definition files'.
public struct ConfigurationLoadResult: Sendable {
    public let configuration: HookBusConfiguration?
    public let diagnostics: [Diagnostic]
}

/// Reads and validates `hookbus.yaml` against the loaded catalog.
///
/// Secrets are never written inline: a password attribute, a token or a signing key is written
/// `{env: NAME}` (an environment variable) or `{file: /path}` (a file's content, trailing newline
/// removed), so the configuration file itself can be committed and shared.
public struct ConfigurationLoader: Sendable {
    public var environment: [String: String]
    public var limits: YAMLLimits
    /// Which `{env:}` and `{file:}` secrets are read; the others become `Secret.unresolved`
    /// placeholders, still checked for their form. A command needs only the secrets it uses in
    /// its environment.
    public var secrets: SecretScope

    /// Which secrets of the configuration a command reads.
    public enum SecretScope: Sendable {
        /// Every secret: `hookbus serve`, `hookbus validate`.
        case all
        /// Those runs need (integration settings, the incident system's token), not the ones only
        /// the server uses (`server.tokens`, `hook_token`, webhook secrets): `fire`, `action
        /// run`, `replay`, `integration test`, `schedule start`.
        case runs
        /// None: commands that only read the store (`audit`, `audit export`, `schedule list`).
        case none
    }

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, limits: YAMLLimits = .default, secrets: SecretScope = .all) {
        self.environment = environment
        self.limits = limits
        self.secrets = secrets
    }

    static let topKeys = ["data_dir", "incident_system", "proxy_url", "interpreters", "runner", "retry", "audit", "server", "integrations", "webhooks", "daemons", "store"]

    /// Loads `path`; nil `path` means no file: defaults, still checked against the catalog.
    public func load(path: String?, catalog: Catalog) -> ConfigurationLoadResult {
        var configuration = HookBusConfiguration()
        guard let path else {
            var reader = NodeReader(file: "(defaults)")
            applyInstances(nil, catalog: catalog, into: &configuration, reader: &reader, anchor: .file)
            return ConfigurationLoadResult(configuration: reader.sink.hasErrors ? nil : configuration, diagnostics: reader.sink.diagnostics)
        }
        let document = YAMLDocument.load(url: URL(fileURLWithPath: path), displayPath: path, limits: limits)
        if !document.diagnostics.isEmpty { return ConfigurationLoadResult(configuration: nil, diagnostics: document.diagnostics) }
        var reader = NodeReader(file: path)
        var root: MappingView?
        if let node = document.root, !NodeReader.isNull(node) {
            root = reader.mapping(node, key: "configuration")
        }
        if let root {
            _ = reader.reportUnknownKeys(in: root, known: Self.topKeys, context: "configuration")
            if let node = root["data_dir"], let text = reader.string(node, key: "data_dir") { configuration.dataDirectory = text }
            if let node = root["proxy_url"], let text = reader.string(node, key: "proxy_url") {
                if !ValueValidation.isURL(text) { reader.sink.error("'proxy_url' must be an http(s) URL, not '\(text)'", at: reader.position(node)) }
                configuration.proxyURL = text
            }
            readIncidentSystem(root["incident_system"], into: &configuration, reader: &reader)
            readInterpreters(root["interpreters"], into: &configuration, reader: &reader)
            readRunner(root["runner"], into: &configuration, reader: &reader)
            if let node = root["retry"], let policy = retryPolicy(node, key: "retry", over: .default, reader: &reader) {
                configuration.retryPolicy = policy
            }
            readAudit(root["audit"], into: &configuration, reader: &reader)
            readServer(root["server"], into: &configuration, reader: &reader)
            readWebhooks(root["webhooks"], catalog: catalog, into: &configuration, reader: &reader)
            readDaemons(root["daemons"], catalog: catalog, into: &configuration, reader: &reader)
            readStore(root["store"], into: &configuration, reader: &reader)
        }
        applyInstances(root?["integrations"], catalog: catalog, into: &configuration, reader: &reader,
                       anchor: root.map { reader.position($0.keyNode("integrations") ?? $0.node) } ?? SourcePosition(line: 1, column: 1))
        return ConfigurationLoadResult(configuration: reader.sink.hasErrors ? nil : configuration, diagnostics: reader.sink.diagnostics)
    }

    // MARK: Sections

    private func readIncidentSystem(_ node: Node?, into configuration: inout HookBusConfiguration, reader: inout NodeReader) {
        guard let node, let view = reader.mapping(node, key: "incident_system") else { return }
        _ = reader.reportUnknownKeys(in: view, known: ["url", "token", "jwt"], context: "incident_system")
        if let urlNode = view["url"], let url = reader.string(urlNode, key: "incident_system.url") {
            if !url.isEmpty, !ValueValidation.isURL(url) {
                reader.sink.error("'incident_system.url' must be an http(s) URL, not '\(url)'", at: reader.position(urlNode))
            }
            configuration.incidentSystemURL = url
        }
        if view.has("token"), view.has("jwt") {
            reader.sink.error("give either 'incident_system.token' or 'incident_system.jwt', not both", at: reader.position(view.keyNode("jwt")!))
        }
        if let tokenNode = view["token"], let secret = secret(tokenNode, key: "incident_system.token", reader: &reader) {
            configuration.token = .staticToken(secret)
        }
        if let jwtNode = view["jwt"], let jwt = reader.mapping(jwtNode, key: "incident_system.jwt") {
            _ = reader.reportUnknownKeys(in: jwt, known: ["key", "lifetime", "issuer"], context: "incident_system.jwt")
            guard let keyNode = jwt["key"] else {
                reader.sink.error("'incident_system.jwt' needs 'key' ({env: NAME} or {file: PATH})", at: reader.position(jwtNode))
                return
            }
            let lifetime = jwt["lifetime"].flatMap { positiveNumber($0, key: "incident_system.jwt.lifetime", reader: &reader) } ?? 300
            let issuer = jwt["issuer"].flatMap { reader.string($0, key: "incident_system.jwt.issuer") } ?? "hookbus"
            if let key = secret(keyNode, key: "incident_system.jwt.key", reader: &reader) {
                configuration.token = .jwt(key: key, lifetimeSeconds: Int(lifetime), issuer: issuer)
            }
        }
    }

    private func readInterpreters(_ node: Node?, into configuration: inout HookBusConfiguration, reader: inout NodeReader) {
        guard let node, let view = reader.mapping(node, key: "interpreters") else { return }
        for entry in view.entries {
            guard let type: ScriptType = reader.closed(entry.keyNode, key: "interpreters") else { continue }
            guard let path = reader.string(entry.value, key: "interpreters.\(entry.key)"), !path.isEmpty else { continue }
            if !path.hasPrefix("/") {
                reader.sink.error("interpreter path for '\(entry.key)' must be absolute (resolved once at start, never looked up per run), not '\(path)'", at: reader.position(entry.value))
                continue
            }
            configuration.interpreters[type] = path
        }
    }

    private func readRunner(_ node: Node?, into configuration: inout HookBusConfiguration, reader: inout NodeReader) {
        guard let node, let view = reader.mapping(node, key: "runner") else { return }
        _ = reader.reportUnknownKeys(in: view, known: ["concurrency", "timeout", "grace", "output_limit", "run_dir", "locale", "sandbox", "sandbox_user", "run_uids", "private_tmp", "sandbox_read", "sandbox_write", "limits"], context: "runner")
        readSandboxSettings(view, into: &configuration, reader: &reader)
        if let n = view["concurrency"].flatMap({ positiveNumber($0, key: "runner.concurrency", reader: &reader) }) { configuration.concurrency = Int(n) }
        if let n = view["timeout"].flatMap({ positiveNumber($0, key: "runner.timeout", reader: &reader) }) { configuration.timeoutSeconds = n }
        if let n = view["grace"].flatMap({ positiveNumber($0, key: "runner.grace", reader: &reader) }) { configuration.graceSeconds = n }
        if let n = view["output_limit"].flatMap({ positiveNumber($0, key: "runner.output_limit", reader: &reader) }) { configuration.outputLimitBytes = Int(n) }
        if let node = view["run_dir"], let text = reader.string(node, key: "runner.run_dir") { configuration.runDirectory = text }
        if let node = view["locale"], let text = reader.string(node, key: "runner.locale") { configuration.locale = text }
    }

    private func readAudit(_ node: Node?, into configuration: inout HookBusConfiguration, reader: inout NodeReader) {
        guard let node, let view = reader.mapping(node, key: "audit") else { return }
        _ = reader.reportUnknownKeys(in: view, known: ["verbosity", "retention_days", "retention_runs"], context: "audit")
        if let verbosityNode = view["verbosity"], let text = reader.string(verbosityNode, key: "audit.verbosity") {
            if let verbosity = HookBusConfiguration.AuditVerbosity(rawValue: text.lowercased()) {
                configuration.auditVerbosity = verbosity
            } else {
                reader.sink.error("'audit.verbosity' must be 'all' or 'errors', not '\(text)'", at: reader.position(verbosityNode))
            }
        }
        configuration.retentionDays = view["retention_days"].flatMap { positiveNumber($0, key: "audit.retention_days", reader: &reader) }
        configuration.retentionRuns = view["retention_runs"].flatMap { positiveNumber($0, key: "audit.retention_runs", reader: &reader) }.map { Int($0) }
    }

    private func readServer(_ node: Node?, into configuration: inout HookBusConfiguration, reader: inout NodeReader) {
        guard let node, let view = reader.mapping(node, key: "server") else { return }
        _ = reader.reportUnknownKeys(in: view, known: ["host", "port", "hook_token", "tokens", "open_on_loopback", "fast_path", "max_body_bytes", "backlog_limit", "idempotency_window"], context: "server")
        if let hostNode = view["host"], let host = reader.string(hostNode, key: "server.host") {
            if !ValueValidation.isIP(host) && !ValueValidation.isHost(host) {
                reader.sink.error("'server.host' must be an IP address or host name, not '\(host)'", at: reader.position(hostNode))
            }
            configuration.host = host
        }
        if let portNode = view["port"], let port = reader.string(portNode, key: "server.port") {
            if let value = Int(port), (0...65535).contains(value) { configuration.port = value } else {
                reader.sink.error("'server.port' must be a port number (0-65535), not '\(port)'", at: reader.position(portNode))
            }
        }
        readTokens(view, into: &configuration, reader: &reader)
        if let node = view["open_on_loopback"], let open = reader.bool(node, key: "server.open_on_loopback") { configuration.openOnLoopback = open }
        if let node = view["fast_path"], let on = reader.bool(node, key: "server.fast_path") { configuration.fastPath = on }
        if let n = view["max_body_bytes"].flatMap({ positiveNumber($0, key: "server.max_body_bytes", reader: &reader) }) { configuration.maxBodyBytes = Int(n) }
        if let n = view["backlog_limit"].flatMap({ positiveNumber($0, key: "server.backlog_limit", reader: &reader) }) { configuration.backlogLimit = Int(n) }
        if let n = view["idempotency_window"].flatMap({ positiveNumber($0, key: "server.idempotency_window", reader: &reader) }) { configuration.idempotencyWindowSeconds = n }
    }

    /// The instance of every integration in the catalog: configured values, defaults applied,
    /// `required`, validators and list values enforced.
    private func applyInstances(_ node: Node?, catalog: Catalog, into configuration: inout HookBusConfiguration, reader: inout NodeReader, anchor: SourcePosition) {
        var configured: [String: (view: MappingView, keyNode: Node)] = [:]
        if let node, let view = reader.mapping(node, key: "integrations") {
            for entry in view.entries {
                guard catalog.integration(named: entry.key) != nil else {
                    reader.sink.error("no integration named '\(entry.key)' is loaded\(Suggestion.hint(for: entry.key, in: catalog.integrations.map(\.name)))", at: reader.position(entry.keyNode))
                    continue
                }
                guard let settings = reader.mapping(entry.value, key: entry.key) else { continue }
                configured[entry.key] = (settings, entry.keyNode)
            }
        }
        for integration in catalog.integrations {
            var instance = HookBusConfiguration.Instance()
            let section = configured[integration.name]
            var settings: MappingView?
            if let section {
                _ = reader.reportUnknownKeys(in: section.view, known: ["settings", "timeout", "action_timeouts", "retry", "action_retry", "order", "max_concurrency", "max_per_minute",
                                                                                "network", "limits", "action_limits", "sandbox_read", "sandbox_write"],
                                             context: "integration '\(integration.name)'")
                readDeliverySettings(section.view, integration: integration, global: configuration.retryPolicy, into: &instance, reader: &reader)
                readRunPolicy(section.view, integration: integration, global: configuration.limits, into: &instance, reader: &reader)
                settings = section.view["settings"].flatMap { reader.mapping($0, key: "settings") }
                instance.timeoutSeconds = section.view["timeout"].flatMap { positiveNumber($0, key: "timeout", reader: &reader) }
                if let node = section.view["action_timeouts"] {
                    for entry in actionEntries(node, key: "action_timeouts", of: integration, reader: &reader) {
                        if let seconds = positiveNumber(entry.value, key: entry.key, reader: &reader) { instance.actionTimeouts[entry.key] = seconds }
                    }
                }
            }
            let attributeNames = integration.definition.dataAttributes.map(\.name)
            if let settings {
                for entry in settings.entries where !attributeNames.contains(entry.key) {
                    reader.sink.error("integration '\(integration.name)' has no setting '\(entry.key)'\(Suggestion.hint(for: entry.key, in: attributeNames))", at: reader.position(entry.keyNode))
                }
            }
            for attribute in integration.definition.dataAttributes {
                let at = settings?.keyNode(attribute.name).map { reader.position($0) } ?? section.map { reader.position($0.keyNode) } ?? anchor
                var value: HookBusConfiguration.InstanceValue?
                if let node = settings?[attribute.name], !NodeReader.isNull(node) {
                    if attribute.isSecret {
                        value = secret(node, key: attribute.name, reader: &reader).map { .secret($0) }
                    } else if case .mapping = node {
                        value = secret(node, key: attribute.name, reader: &reader).map { .plain($0.reveal()) }
                    } else if let text = reader.string(node, key: attribute.name) {
                        value = .plain(text)
                    }
                } else if let defaultValue = attribute.defaultValue {
                    value = attribute.isSecret ? .secret(Secret(defaultValue, origin: "default")) : .plain(defaultValue)
                }
                guard let value else {
                    if attribute.required {
                        reader.sink.error("integration '\(integration.name)' needs setting '\(attribute.name)' (\(attribute.label)); add it under integrations: '\(integration.name)': settings:", at: at)
                    }
                    continue
                }
                if case let .secret(secret) = value, !secret.isResolved {
                    instance.values[attribute.name] = value  // not read: nothing to validate
                    continue
                }
                let text: String
                switch value {
                case let .plain(plain): text = plain
                case let .secret(secret): text = secret.reveal()
                }
                if let validator = attribute.validator, !text.isEmpty, !ValueValidation.isValid(text, validator) {
                    let shown = attribute.isSecret ? Secret.mask : "'\(text)'"
                    reader.sink.error("setting '\(attribute.name)' of integration '\(integration.name)' is \(shown), which fails its validator '\(validator.rawValue)'", at: at)
                }
                if attribute.type == .list, !attribute.values.isEmpty, !attribute.values.contains(where: { $0.key == text }) {
                    reader.sink.error("setting '\(attribute.name)' of integration '\(integration.name)' must be one of \(attribute.values.map { "'\($0.key)'" }.joined(separator: ", ")), not '\(text)'\(Suggestion.hint(for: text, in: attribute.values.map(\.key)))", at: at)
                }
                if attribute.type == .number, !text.isEmpty, Double(text) == nil {
                    reader.sink.error("setting '\(attribute.name)' of integration '\(integration.name)' must be a number, not '\(text)'", at: at)
                }
                instance.values[attribute.name] = value
            }
            configuration.instances[integration.name] = instance
        }
    }

    // MARK: Values

    /// A secret written as `{env: NAME}` or `{file: PATH}`; inline text is refused.
    /// - Parameter serverOnly: only the server uses it (an access token, a webhook secret).
    /// - Parameter everyCommand: every command needs it, whatever it was told about secrets
    ///   (the store's URL: `hookbus audit` reads the trail too).
    func secret(_ node: Node, key: String, serverOnly: Bool = false, everyCommand: Bool = false, reader: inout NodeReader) -> Secret? {
        let reads: Bool
        switch secrets {
        case .all: reads = true
        case .runs: reads = !serverOnly
        case .none: reads = everyCommand
        }
        guard case .mapping = node, let view = reader.mapping(node, key: key) else {
            if case .scalar = node {
                reader.sink.error("'\(key)' is a secret: write it as {env: NAME} or {file: PATH}, not inline", at: reader.position(node))
            } else {
                reader.sink.error("'\(key)' must be {env: NAME} or {file: PATH}", at: reader.position(node))
            }
            return nil
        }
        if let envNode = view["env"], let name = reader.string(envNode, key: "\(key).env") {
            guard reads else { return .unresolved(origin: "env:\(name)") }
            guard let value = environment[name] else {
                reader.sink.error("environment variable '\(name)' for '\(key)' is not set", at: reader.position(envNode))
                return nil
            }
            return Secret(value, origin: "env:\(name)")
        }
        if let fileNode = view["file"], let path = reader.string(fileNode, key: "\(key).file") {
            guard reads else { return .unresolved(origin: "file:\(path)") }
            guard let handle = FileHandle(forReadingAtPath: path), let data = try? handle.read(upToCount: 1 << 20) else {
                reader.sink.error("cannot read secret file '\(path)' for '\(key)'", at: reader.position(fileNode))
                return nil
            }
            try? handle.close()
            var text = String(decoding: data, as: UTF8.self)
            // By scalars: "\r\n" is one Character, which `hasSuffix("\n")` does not see.
            while let last = text.unicodeScalars.last, last == "\n" || last == "\r" { text.unicodeScalars.removeLast() }
            return Secret(text, origin: "file:\(path)")
        }
        reader.sink.error("'\(key)' must be {env: NAME} or {file: PATH}", at: reader.position(node))
        return nil
    }

    func positiveNumber(_ node: Node, key: String, reader: inout NodeReader) -> Double? {
        guard let value = reader.number(node, key: key) else { return nil }
        guard value > 0 else {
            reader.sink.error("'\(key)' must be greater than 0", at: reader.position(node))
            return nil
        }
        return value
    }
}
