import Foundation
import HookBus
import Testing

/// The access policy in a real `hookbus serve`: named tokens, operator actions in the audit
/// trail under the token's name, a refusal to start with an unauthenticated route on an address
/// others reach, and the store-reading commands without unrelated secrets.
@Suite struct AccessEndToEndTests {
    static var hooks: String { packageRoot.appendingPathComponent("Hooks").path }
    static let integration = "HookBus IP Watchlist"

    static func configuration(webhook: String = "{scheme: token, header: X-Token, secrets: [{env: GITHUB_WEBHOOK_SECRET}]}") -> String {
        """
        server:
          tokens:
            - {name: soar-prod, role: sender, secret: {env: SENDER_TOKEN}}
            - {name: alice, role: operator, secret: {env: ALICE_TOKEN}}
        integrations: {'HookBus IP Watchlist': {settings: {watchlist: '203.0.113.0/24'}}}
        webhooks:
          github: {auth: \(webhook)}

        """
    }

    static let secrets = ["SENDER_TOKEN": "sender-0123456789abcdef", "ALICE_TOKEN": "alice-0123456789abcdef", "GITHUB_WEBHOOK_SECRET": "gh-0123456789abcdef"]

    @Test func operatorActionsOverHTTPAreInTheAuditTrailUnderTheTokensName() async throws {
        let scratch = Scratch()
        scratch.write("hookbus.yaml", Self.configuration())
        let server = try ServerProcess(directory: scratch.path, arguments: ["--hooks", Self.hooks], environment: Self.secrets)
        defer { server.stop() }
        let path = server.base + "/api/v1/integrations/HookBus%20IP%20Watchlist/actions/Check%20IPs/run"
        let body = #"{"fields": {"ips": "203.0.113.9"}}"#
        let (refused, error) = try await request("POST", path, body: body, headers: ["Authorization": "Bearer sender-0123456789abcdef"])
        #expect(refused == 403)
        #expect(error?["error"]?["code"] == .string("forbidden"))
        let (status, run) = try await request("POST", path, body: body, headers: ["Authorization": "Bearer alice-0123456789abcdef"])
        #expect(status == 200)
        #expect(run?["outcome"] == .string("succeeded"))
        #expect(run?["requestedBy"] == .string("alice"))
        // `hookbus audit` shows who; it reads the store and needs none of the secrets.
        let audit = try hookbus(["audit", "--hooks", Self.hooks], in: scratch.path)
        #expect(audit.status == 0, "\(audit.stderr)")
        #expect(audit.stdout.contains("HookBus IP Watchlist/Check IPs"), "\(audit.stdout)")
        #expect(audit.stdout.contains("by: alice"), "\(audit.stdout)")
        let json = try hookbus(["audit", "--json", "--hooks", Self.hooks], in: scratch.path)
        #expect(try JSONParser.parse(String(json.stdout.split(separator: "\n")[0]))["requestedBy"] == .string("alice"))
        let export = try hookbus(["audit", "export", "--hooks", Self.hooks], in: scratch.path)
        #expect(export.status == 0, "\(export.stderr)")
        let schedules = try hookbus(["schedule", "list", "--hooks", Self.hooks], in: scratch.path)
        #expect(schedules.status == 0, "\(schedules.stderr)")
        // A command that runs triggers needs the runs' secrets, not the server's tokens.
        let fire = try hookbus(["fire", "closeIncident", "--dry-run", "--params", "-", "--hooks", Self.hooks], in: scratch.path,
                               stdin: #"{"incidentsBeforeUpdate": {"id": 1}, "incidentsAfterUpdate": {"id": 1}}"#)
        #expect(fire.status == 0, "\(fire.stderr)")
        #expect(!fire.stderr.contains("SENDER_TOKEN"), "\(fire.stderr)")
    }

    /// A new server, as `hookbus serve` starts with no configuration: every route but /healthz
    /// is closed, and says what to configure.
    @Test func aServerWithoutTokensIsClosed() async throws {
        let scratch = Scratch()
        let server = try ServerProcess(directory: scratch.path, arguments: ["--hooks", Self.hooks], openOnLoopback: false)
        defer { server.stop() }
        let (hook, refusal) = try await request("POST", server.base + "/api/v1/hooks/closeIncident",
                                                body: #"{"incidentsBeforeUpdate": {"id": 1}, "incidentsAfterUpdate": {"id": 1}}"#)
        #expect(hook == 403)
        #expect(refusal?["error"]?["message"]?.stringValue?.contains("server.tokens") == true)
        let (runs, _) = try await request("GET", server.base + "/api/v1/runs")
        #expect(runs == 403)
        let (health, _) = try await request("GET", server.base + "/healthz")
        #expect(health == 200)
        #expect(server.log.contains("no sender token is configured: sender routes answer 403"), "\(server.log)")
    }

    @Test func theServerRefusesToListenBeyondLoopbackWithAnUnauthenticatedRoute() throws {
        let scratch = Scratch()
        scratch.write("hookbus.yaml", Self.configuration(webhook: "{scheme: none}"))
        let refused = try hookbus(["serve", "--host", "0.0.0.0", "--port", "0", "--hooks", Self.hooks], in: scratch.path, environment: Self.secrets)
        #expect(refused.status == 1)
        let lines = refused.stderr.split(separator: "\n")
        #expect(lines.last?.hasPrefix("hookbus: refusing to listen on 0.0.0.0: webhook 'github' has auth scheme none") == true, "\(refused.stderr)")
        let open = try hookbus(["serve", "--host", "0.0.0.0", "--port", "0", "--open-on-loopback", "--hooks", Self.hooks], in: scratch.path, environment: Self.secrets)
        #expect(open.status == 1)
        #expect(open.stderr.contains("refusing to listen on 0.0.0.0 with open_on_loopback"), "\(open.stderr)")
    }
}
