import Foundation
import Yams

extension ConfigurationLoader {
    /// `webhooks:` — one entry per endpoint name:
    ///
    /// ```yaml
    /// webhooks:
    ///   github:
    ///     auth: {scheme: hmac, header: X-Hub-Signature-256, prefix: 'sha256=', secrets: [{env: GITHUB_SECRET}]}
    ///     triggers: ['Open incident from alert']
    ///   internal:
    ///     auth: {scheme: none}
    /// ```
    func readWebhooks(_ node: Node?, catalog: Catalog, into configuration: inout HookBusConfiguration, reader: inout NodeReader) {
        guard let node, let view = reader.mapping(node, key: "webhooks") else { return }
        let webhookTriggers = catalog.triggers(for: .webhook)
        for entry in view.entries {
            guard entry.key.range(of: #"^[A-Za-z0-9._-]+$"#, options: .regularExpression) != nil else {
                reader.sink.error("webhook name '\(entry.key)' may only contain letters, digits, '.', '_' and '-' (it is part of the URL)", at: reader.position(entry.keyNode))
                continue
            }
            guard let endpoint = reader.mapping(entry.value, key: "webhooks.\(entry.key)") else {
                reader.sink.error("webhook '\(entry.key)' needs 'auth' (use {scheme: none} to accept unauthenticated senders)", at: reader.position(entry.keyNode))
                continue
            }
            _ = reader.reportUnknownKeys(in: endpoint, known: ["auth", "triggers", "pass_headers", "max_body_bytes", "content_types", "rules"], context: "webhook '\(entry.key)'")
            guard let authNode = endpoint["auth"] else {
                reader.sink.error("webhook '\(entry.key)' needs 'auth' (use {scheme: none} to accept unauthenticated senders)", at: reader.position(entry.keyNode))
                continue
            }
            guard let authentication = readAuthentication(authNode, endpoint: entry.key, reader: &reader) else { continue }
            var triggers: [String]?
            if let triggersNode = endpoint["triggers"] {
                var names: [String] = []
                for element in reader.oneOrMany(triggersNode) {
                    guard let name = reader.string(element, key: "triggers") else { continue }
                    if !webhookTriggers.contains(where: { $0.name == name || $0.qualifiedName == name }) {
                        reader.sink.error("webhook '\(entry.key)' lists trigger '\(name)', which is not a loaded trigger with the 'webhook' hook\(Suggestion.hint(for: name, in: webhookTriggers.map(\.name)))", at: reader.position(element))
                    }
                    names.append(name)
                }
                triggers = names
            }
            var webhook = WebhookEndpoint(name: entry.key, authentication: authentication, triggers: triggers)
            readRequestHandling(endpoint, into: &webhook, reader: &reader)
            if let rulesNode = endpoint["rules"] {
                webhook.rules = readWebhookRules(rulesNode, endpoint: webhook, webhookTriggers: webhookTriggers, reader: &reader)
            }
            // Two kept headers must not share a variable (`X-A` and `X_A` are both HOOKBUS_HEADER_X_A).
            var variables: [String: String] = [:]
            for name in webhook.keptHeaders {
                let variable = KeptHeader(name: name, value: "").environmentName
                if let other = variables[variable] {
                    reader.sink.error("webhook '\(entry.key)' keeps headers '\(other)' and '\(name)', which would share the variable \(variable)", at: reader.position(entry.keyNode))
                }
                variables[variable] = name
            }
            configuration.webhooks[entry.key] = webhook
        }
    }

    /// `pass_headers`, `max_body_bytes` and `content_types` of an endpoint.
    private func readRequestHandling(_ view: MappingView, into webhook: inout WebhookEndpoint, reader: inout NodeReader) {
        if let node = view["pass_headers"] {
            for element in reader.oneOrMany(node) {
                guard let name = reader.string(element, key: "pass_headers") else { continue }
                if name.isEmpty || name.utf8.contains(where: { !Self.isTokenByte($0) }) {
                    reader.sink.error("'\(name)' is not a header name", at: reader.position(element))
                } else if webhook.credentialHeaders.contains(where: { $0.caseInsensitiveCompare(name) == .orderedSame }) {
                    reader.sink.error("header '\(name)' carries credentials: it is never passed to triggers", at: reader.position(element))
                } else {
                    webhook.passHeaders.append(name)
                }
            }
        }
        if let node = view["max_body_bytes"], let limit = positiveNumber(node, key: "max_body_bytes", reader: &reader) {
            if limit > Double(WebhookEndpoint.largestBody) {
                reader.sink.error("'max_body_bytes' is at most \(WebhookEndpoint.largestBody) (64 MiB): a body is held in memory while it is accepted", at: reader.position(node))
            } else {
                webhook.maxBodyBytes = Int(limit)
            }
        }
        if let node = view["content_types"] {
            var types: [String] = []
            for element in reader.oneOrMany(node) {
                guard let text = reader.string(element, key: "content_types") else { continue }
                let type = WebhookBody.mediaType(of: text)
                let parts = type.split(separator: "/", omittingEmptySubsequences: false)
                if text.contains(";") || parts.count != 2 || parts[0].isEmpty || parts[1].isEmpty || parts[0] == "*" {
                    reader.sink.error("'\(text)' is not a media type (write 'application/json', or 'text/*' for a family)", at: reader.position(element))
                } else {
                    types.append(type)
                }
            }
            webhook.contentTypes = types
        }
    }

    /// An RFC 9110 token character (what a header name is made of).
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): return true
        default: return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    private func readAuthentication(_ node: Node, endpoint: String, reader: inout NodeReader) -> WebhookEndpoint.Authentication? {
        guard let auth = reader.mapping(node, key: "webhooks.\(endpoint).auth") else { return nil }
        guard let schemeNode = auth["scheme"], let scheme = reader.string(schemeNode, key: "auth.scheme") else {
            reader.sink.error("webhook '\(endpoint)' auth needs 'scheme': none, token or hmac", at: reader.position(node))
            return nil
        }
        func secrets() -> [Secret] {
            let list = auth["secrets"].map { reader.oneOrMany($0) } ?? auth["secret"].map { [$0] } ?? []
            if list.isEmpty {
                reader.sink.error("webhook '\(endpoint)' auth needs 'secrets' (a list of {env: NAME} or {file: PATH})", at: reader.position(node))
            }
            return list.compactMap { secret($0, key: "webhooks.\(endpoint).auth.secrets", serverOnly: true, reader: &reader) }
        }
        switch scheme {
        case "none":
            _ = reader.reportUnknownKeys(in: auth, known: ["scheme"], context: "auth")
            return WebhookEndpoint.Authentication.none
        case "token":
            _ = reader.reportUnknownKeys(in: auth, known: ["scheme", "header", "query", "secrets", "secret"], context: "auth")
            let header = auth["header"].flatMap { reader.string($0, key: "auth.header") }
            let query = auth["query"].flatMap { reader.string($0, key: "auth.query") }
            let list = secrets()
            return .token(header: header ?? (query == nil ? "Authorization" : nil), query: query, secrets: list)
        case "hmac":
            _ = reader.reportUnknownKeys(in: auth, known: ["scheme", "algorithm", "header", "prefix", "encoding", "secrets", "secret", "separator", "timestamp_header", "timestamp_field", "tolerance", "template"], context: "auth")
            guard let headerNode = auth["header"], let header = reader.string(headerNode, key: "auth.header") else {
                reader.sink.error("webhook '\(endpoint)' hmac auth needs 'header' (the signature header, e.g. X-Hub-Signature-256)", at: reader.position(node))
                return nil
            }
            var scheme = WebhookEndpoint.HMACScheme(header: header, secrets: secrets())
            if let node = auth["algorithm"], let text = reader.string(node, key: "auth.algorithm") {
                guard let algorithm = WebhookEndpoint.Algorithm(rawValue: text.lowercased()) else {
                    reader.sink.error("unknown HMAC algorithm '\(text)'; expected sha1, sha256 or sha512", at: reader.position(node))
                    return nil
                }
                scheme.algorithm = algorithm
            }
            if let node = auth["encoding"], let text = reader.string(node, key: "auth.encoding") {
                guard let encoding = WebhookEndpoint.Encoding(rawValue: text.lowercased()) else {
                    reader.sink.error("unknown signature encoding '\(text)'; expected hex or base64", at: reader.position(node))
                    return nil
                }
                scheme.encoding = encoding
            }
            scheme.prefix = auth["prefix"].flatMap { reader.string($0, key: "auth.prefix") } ?? ""
            scheme.separator = auth["separator"].flatMap { reader.string($0, key: "auth.separator") }
            scheme.timestampHeader = auth["timestamp_header"].flatMap { reader.string($0, key: "auth.timestamp_header") }
            scheme.timestampField = auth["timestamp_field"].flatMap { reader.string($0, key: "auth.timestamp_field") }
            if let tolerance = auth["tolerance"].flatMap({ positiveNumber($0, key: "auth.tolerance", reader: &reader) }) { scheme.toleranceSeconds = tolerance }
            if let templateNode = auth["template"], let template = reader.string(templateNode, key: "auth.template") {
                if !template.contains("{body}") {
                    reader.sink.error("'auth.template' must contain {body}", at: reader.position(templateNode))
                }
                if template.contains("{timestamp}"), scheme.timestampHeader == nil, scheme.timestampField == nil {
                    reader.sink.error("'auth.template' uses {timestamp} but neither 'timestamp_header' nor 'timestamp_field' says where it comes from", at: reader.position(templateNode))
                }
                scheme.template = template
            }
            if scheme.timestampHeader != nil || scheme.timestampField != nil, !scheme.template.contains("{timestamp}") {
                // A timestamp the sender does not sign can be rewritten by anyone: it would
                // protect against neither stale nor replayed requests.
                reader.sink.error("webhook '\(endpoint)' takes a timestamp but its 'template' does not sign it: add {timestamp} (Slack: 'v0:{timestamp}:{body}', Stripe: '{timestamp}.{body}')", at: reader.position(auth["template"] ?? node))
            }
            return .hmac(scheme)
        default:
            reader.sink.error("unknown auth scheme '\(scheme)'; expected none, token or hmac\(Suggestion.hint(for: scheme, in: ["none", "token", "hmac"]))", at: reader.position(schemeNode))
            return nil
        }
    }
}
