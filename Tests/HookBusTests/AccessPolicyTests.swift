import Foundation
import Testing
@testable import HookBus

/// The access policy on plain values (an `Authorization` field's text), and `server.tokens` as
/// `hookbus.yaml` writes it, with its errors at their line and column.
@Suite struct AccessPolicyTests {
    static let tokens = [
        AccessToken(name: "soar-prod", role: .sender, secret: Secret("sender-secret-0123456789", origin: "test")),
        AccessToken(name: "alice", role: .operator, secret: Secret("alice-secret-0123456789", origin: "test")),
        AccessToken(name: "prometheus", role: .metrics, secret: Secret("scrape-secret-0123456789", origin: "test")),
    ]

    @Test(arguments: [
        // (authorization, role, expected: a principal's name or a denial's code)
        (nil, Role.sender, "missing_credentials"),
        ("Bearer sender-secret-0123456789", .sender, "soar-prod"),
        ("bearer sender-secret-0123456789", .sender, "soar-prod"),
        ("Bearer sender-secret-012345678", .sender, "unknown_token"),
        ("Bearer sender-secret-0123456789x", .sender, "unknown_token"),
        ("Basic c2VuZGVy", .sender, "malformed_credentials"),
        ("Bearer ", .sender, "malformed_credentials"),
        ("sender-secret-0123456789", .sender, "malformed_credentials"),
        ("Bearer alice-secret-0123456789", .sender, "wrong_role"),
        ("Bearer alice-secret-0123456789", .operator, "alice"),
        ("Bearer sender-secret-0123456789", .operator, "wrong_role"),
        ("Bearer alice-secret-0123456789", .metrics, "alice"),
        ("Bearer scrape-secret-0123456789", .metrics, "prometheus"),
        ("Bearer scrape-secret-0123456789", .operator, "wrong_role"),
    ] as [(String?, Role, String)])
    func authorizesByTokenAndRole(_ authorization: String?, _ role: Role, _ expected: String) {
        let policy = AccessPolicy(tokens: Self.tokens, openOnLoopback: false, host: "127.0.0.1")
        switch policy.authorize(authorization, for: role) {
        case let .success(principal): #expect(principal.name == expected)
        case let .failure(denial): #expect(denial.code.rawValue == expected, "\(denial.message)")
        }
    }

    @Test func openOnLoopbackOpensOnlyRolesWithoutATokenAndOnlyOnLoopback() {
        let senderOnly = [Self.tokens[0]]
        for host in ["127.0.0.1", "127.8.9.10", "::1"] {
            let policy = AccessPolicy(tokens: senderOnly, openOnLoopback: true, host: host)
            #expect(policy.openRoles == [.operator, .metrics], "\(host)")
            #expect(policy.authorize(nil, for: .operator) == .success(.anonymous))
            #expect(policy.authorize(nil, for: .sender).failureCode == .missingCredentials)
            // A token sent to an open route still names who acted; a wrong one is refused.
            #expect(policy.authorize("Bearer sender-secret-0123456789", for: .operator) == .success(Principal(name: "soar-prod", role: .sender)))
            #expect(policy.authorize("Bearer guess", for: .operator).failureCode == .unknownToken)
        }
        // A name is not taken on trust, not even `localhost`: what it resolves to is the resolver's.
        for host in ["0.0.0.0", "10.0.0.5", "127.0.0.1.example.com", "::", "hookbus.internal", "localhost"] {
            let policy = AccessPolicy(tokens: senderOnly, openOnLoopback: true, host: host)
            #expect(policy.openRoles.isEmpty, "\(host)")
            #expect(policy.authorize(nil, for: .operator).failureCode == .roleNotConfigured)
        }
        // Not asked for: closed, even on loopback.
        #expect(AccessPolicy(tokens: [], openOnLoopback: false, host: "127.0.0.1").authorize(nil, for: .sender).failureCode == .roleNotConfigured)
    }

    /// An open route trusts the machine, not every page its browser shows: an anonymous request
    /// must be addressed to loopback and not come, by the browser's word, from another site.
    @Test(arguments: [
        (RequestSite(), "anonymous"),
        (RequestSite(host: "127.0.0.1:8080"), "anonymous"),
        (RequestSite(host: "localhost:8080", origin: "http://localhost:3000", fetchSite: "same-origin"), "anonymous"),
        (RequestSite(host: "[::1]:8080"), "anonymous"),
        (RequestSite(host: "attacker.example:8080"), "not_local"),
        (RequestSite(host: "127.0.0.1.nip.io"), "not_local"),
        (RequestSite(host: "127.0.0.1:8080", origin: "https://attacker.example"), "not_local"),
        (RequestSite(host: "127.0.0.1:8080", fetchSite: "cross-site"), "not_local"),
        (RequestSite(host: "127.0.0.1:8080", origin: "null"), "anonymous"),
    ] as [(RequestSite, String)])
    func anonymousRequestsMustBeAddressedToLoopback(_ site: RequestSite, _ expected: String) {
        let policy = AccessPolicy(tokens: [Self.tokens[1]], openOnLoopback: true, host: "127.0.0.1")
        switch policy.authorize(nil, for: .sender, site: site) {
        case let .success(principal): #expect(principal.name == expected)
        case let .failure(denial): #expect(denial.code.rawValue == expected)
        }
        // A token does not depend on where the request says it goes.
        #expect(policy.authorize("Bearer alice-secret-0123456789", for: .operator, site: site) == .success(Principal(name: "alice", role: .operator)))
    }

    func load(_ server: String, environment: [String: String] = [:], secrets: ConfigurationLoader.SecretScope = .all) -> (HookBusConfiguration?, [String]) {
        let folder = TempFolder()
        folder.write("hooks/int.yaml", integrationYAML(attributes: "{}"))
        let catalog = DefinitionLoader().load([folder.url.appendingPathComponent("hooks").path]).catalog
        let path = folder.write("hookbus.yaml", "server:\n" + server)
        let result = ConfigurationLoader(environment: environment, secrets: secrets).load(path: path, catalog: catalog)
        return (result.configuration, result.diagnostics.map { $0.description.replacingOccurrences(of: folder.path + "/", with: "") })
    }

    @Test func tokensAreReadWithTheirRolesAndTheHookTokenIsASenderToken() throws {
        let (configuration, messages) = load("""
              hook_token: {env: HOOK}
              tokens:
                - {name: alice, role: operator, secret: {env: ALICE}}
                - name: prometheus
                  role: metrics
                  secret: {env: SCRAPE}
              open_on_loopback: true
              fast_path: false
            """, environment: ["HOOK": "h-0123456789abcdef", "ALICE": "a-0123456789abcdef", "SCRAPE": "s-0123456789abcdef"])
        #expect(messages.isEmpty, "\(messages)")
        let tokens = try #require(configuration?.accessTokens)
        #expect(tokens.map(\.name) == ["hook_token", "alice", "prometheus"])
        #expect(tokens.map(\.role) == [.sender, .operator, .metrics])
        #expect(configuration?.openOnLoopback == true)
        #expect(configuration?.fastPath == false)
    }

    @Test func tokenMistakesAreReportedAtTheirLineAndColumn() {
        let (configuration, messages) = load("""
              tokens:
                - {name: alice, role: operater, secret: {env: A}}
                - {name: bob, role: operator, secret: 'inline-secret'}
                - {name: carol, role: sender, secret: {env: C}}
                - {name: carol, role: sender, secret: {env: D}}
                - {name: dave, role: sender, secret: {env: C}}
                - {name: 'bad name', role: sender, secret: {env: C}}
                - {name: erin, role: sender, secret: {env: SHORT}}
                - {role: sender, secret: {env: C}}
            """, environment: ["A": "a-0123456789abcdef", "C": "c-0123456789abcdef", "D": "d-0123456789abcdef", "SHORT": "abc"])
        #expect(configuration == nil)
        #expect(messages.contains("hookbus.yaml:3:27: error: unknown role 'operater' (did you mean 'operator'?)"), "\(messages)")
        #expect(messages.contains("hookbus.yaml:4:43: error: 'server.tokens.secret' is a secret: write it as {env: NAME} or {file: PATH}, not inline"), "\(messages)")
        #expect(messages.contains("hookbus.yaml:6:14: error: token name 'carol' is used twice; the audit trail could not tell them apart"), "\(messages)")
        #expect(messages.contains("hookbus.yaml:7:14: error: tokens 'carol' and 'dave' have the same secret; give each its own"), "\(messages)")
        #expect(messages.contains { $0.hasPrefix("hookbus.yaml:8:14: error: token name 'bad name' must be") }, "\(messages)")
        #expect(messages.contains { $0.hasPrefix("hookbus.yaml:9:14: warning: the secret of token 'erin' is 3 bytes") }, "\(messages)")
        #expect(messages.contains { $0.hasPrefix("hookbus.yaml:10:7: error: each server.tokens entry needs 'name'") }, "\(messages)")
    }

    /// A command needs the secrets it uses: `audit`, `audit export` and `schedule list` read only
    /// the store and need none; commands that run triggers need the runs' but not the server's
    /// (access tokens, webhook secrets).
    @Test func eachCommandReadsOnlyTheSecretsItUses() throws {
        let yaml = """
              tokens:
                - {name: alice, role: operator, secret: {env: NOT_SET}}
                - {name: bob, role: sender, secret: {file: /nonexistent/bob.token}}
            incident_system:
              token: {env: SOAR_TOKEN_NOT_SET}
            webhooks:
              github: {auth: {scheme: hmac, header: X-Hub-Signature-256, secrets: [{env: GH_NOT_SET}]}}
            """
        let (refused, messages) = load(yaml)
        #expect(refused == nil)
        #expect(messages.count == 4, "\(messages)")
        let (configuration, none) = load(yaml, secrets: .none)
        #expect(none.isEmpty, "\(none)")
        let tokens = try #require(configuration?.accessTokens)
        #expect(tokens.allSatisfy { !$0.secret.isResolved && $0.secret.reveal().isEmpty })
        #expect(tokens.map(\.secret.origin) == ["env:NOT_SET", "file:/nonexistent/bob.token"])
        let (_, runs) = load(yaml, secrets: .runs)
        #expect(runs == ["hookbus.yaml:6:16: error: environment variable 'SOAR_TOKEN_NOT_SET' for 'incident_system.token' is not set"], "\(runs)")
    }

    @Test func aSecretFileWithCRLFEndsBeforeIt() throws {
        let folder = TempFolder()
        let file = folder.write("alice.token", "alice-0123456789abcdef\r\n")
        let (configuration, messages) = load("  tokens: [{name: alice, role: operator, secret: {file: \(file)}}]\n")
        #expect(messages.isEmpty, "\(messages)")
        #expect(configuration?.accessTokens.first?.secret.reveal() == "alice-0123456789abcdef")
    }
}

extension Result where Failure == AccessDenial {
    var failureCode: AccessDenial.Code? {
        if case let .failure(denial) = self { return denial.code }
        return nil
    }
}
