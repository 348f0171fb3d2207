import Foundation
import Yams

extension ConfigurationLoader {
    /// `server.tokens` and `server.hook_token`:
    ///
    /// ```yaml
    /// server:
    ///   tokens:
    ///     - {name: soar-prod, role: sender, secret: {env: SOAR_HOOK_TOKEN}}
    ///     - {name: alice, role: operator, secret: {file: /etc/hookbus/alice.token}}
    ///     - {name: prometheus, role: metrics, secret: {file: /etc/hookbus/scrape.token}}
    ///   hook_token: {env: HOOKBUS_HOOK_TOKEN}   # kept: one sender token named hook_token
    /// ```
    ///
    /// Names are what the audit trail records as who acted, so they are unique; secrets are
    /// unique too (a request must name exactly one token) and not empty. A secret shorter than
    /// 16 bytes is allowed with a warning: a guessable token on an endpoint that runs code.
    func readTokens(_ server: MappingView, into configuration: inout HookBusConfiguration, reader: inout NodeReader) {
        var tokens: [(token: AccessToken, at: SourcePosition)] = []
        if let node = server["hook_token"], let secret = secret(node, key: "server.hook_token", serverOnly: true, reader: &reader) {
            tokens.append((AccessToken(name: "hook_token", role: .sender, secret: secret), reader.position(node)))
        }
        if let node = server["tokens"], let list = reader.sequence(node, key: "server.tokens") {
            for element in list {
                guard let entry = reader.mapping(element, key: "server.tokens") else { continue }
                _ = reader.reportUnknownKeys(in: entry, known: ["name", "role", "secret"], context: "server.tokens entry")
                let at = reader.position(element)
                guard let nameNode = entry["name"], let name = reader.string(nameNode, key: "server.tokens.name") else {
                    reader.sink.error("each server.tokens entry needs 'name' (what the audit trail records as who acted)", at: at)
                    continue
                }
                guard name.range(of: #"^[A-Za-z0-9._@-]{1,64}$"#, options: .regularExpression) != nil, name != Principal.anonymous.name else {
                    reader.sink.error("token name '\(name)' must be 1-64 letters, digits, '.', '_', '@' or '-', and not '\(Principal.anonymous.name)'", at: reader.position(nameNode))
                    continue
                }
                guard let roleNode = entry["role"] else {
                    reader.sink.error("token '\(name)' needs 'role': \(Role.listing)", at: at)
                    continue
                }
                guard let role: Role = reader.closed(roleNode, key: "server.tokens.role") else { continue }
                guard let secretNode = entry["secret"] else {
                    reader.sink.error("token '\(name)' needs 'secret' ({env: NAME} or {file: PATH})", at: at)
                    continue
                }
                guard let secret = secret(secretNode, key: "server.tokens.secret", serverOnly: true, reader: &reader) else { continue }
                tokens.append((AccessToken(name: name, role: role, secret: secret), reader.position(nameNode)))
            }
        }
        var names: Set<String> = []
        for (index, (token, at)) in tokens.enumerated() {
            if !names.insert(token.name).inserted {
                reader.sink.error("token name '\(token.name)' is used twice; the audit trail could not tell them apart", at: at)
            }
            guard token.secret.isResolved else { continue }
            let value = token.secret.reveal()
            if value.isEmpty {
                reader.sink.error("the secret of token '\(token.name)' (\(token.secret.origin)) is empty", at: at)
            } else if value.utf8.count < 16 {
                reader.sink.warning("the secret of token '\(token.name)' is \(value.utf8.count) bytes; use at least 16 random bytes (openssl rand -hex 32)", at: at)
            }
            for earlier in tokens[..<index] where earlier.token.secret.isResolved && earlier.token.secret.reveal() == value && !value.isEmpty {
                reader.sink.error("tokens '\(earlier.token.name)' and '\(token.name)' have the same secret; give each its own", at: at)
            }
        }
        configuration.accessTokens = tokens.map(\.token)
    }
}
