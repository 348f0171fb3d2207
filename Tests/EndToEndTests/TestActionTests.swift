import Foundation
import HookBus
import Testing

/// "Test Action" from the command line and over HTTP, with the shipped perl action.
@Suite struct TestActionTests {
    static let integration = "HookBus IP Watchlist"
    static let action = "Check IPs"

    static func scratch() -> Scratch {
        let scratch = Scratch()
        scratch.write("hookbus.yaml", "integrations: {'HookBus IP Watchlist': {settings: {watchlist: '203.0.113.0/24, 198.51.100.23'}}}\n")
        return scratch
    }

    static var hooks: String { packageRoot.appendingPathComponent("Hooks").path }

    @Test func fieldsArriveTheTableIsShownAndTheRunIsRecorded() throws {
        let scratch = Self.scratch()
        let result = try hookbus(["action", "run", Self.integration, Self.action, "--field", "ips=203.0.113.5, 192.0.2.1", "--hooks", Self.hooks], in: scratch.path)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("✓ HookBus IP Watchlist / Check IPs: succeeded") == true)
        #expect(lines.contains("IP           Listed  Matching entry"))
        #expect(lines.contains("203.0.113.5  true    203.0.113.0/24"))
        #expect(lines.contains("192.0.2.1    false"))

        let json = try hookbus(["action", "run", Self.integration, Self.action, "--field", "ips=198.51.100.23", "--hooks", Self.hooks, "--json"], in: scratch.path)
        let report = try JSONParser.parse(json.stdout)
        #expect(report["outcome"] == .string("succeeded"))
        #expect(report["results"]?["output"]?["[].match | join(, )"] == .string("198.51.100.23"))
        let event = try #require(report["event"]?.stringValue)
        // In the audit trail, with its invocation and results, under the hook 'action'.
        let audit = try hookbus(["audit", "--event", event, "--json", "--hooks", Self.hooks], in: scratch.path)
        let run = try JSONParser.parse(try #require(audit.stdout.split(separator: "\n").first.map(String.init)))
        #expect(run["hook"] == .string("action"))
        #expect(run["trigger"] == .string("Check IPs"))
        #expect(run["results"]?["table"]?["rows"]?.jsonText == #"[["198.51.100.23","true","198.51.100.23"]]"#)
        #expect(run["invocation"]?["argv"]?.jsonText == #"["--ips=198.51.100.23"]"#)
        // Not an event of the bus: nothing to export.
        let export = try hookbus(["audit", "export", "--hooks", Self.hooks], in: scratch.path)
        #expect(export.stdout.isEmpty)
    }

    @Test func badFieldValuesAreRefusedBeforeAnythingRuns() throws {
        let scratch = Self.scratch()
        let bad = try hookbus(["action", "run", Self.integration, Self.action, "--field", "ips=203.0.113.5,not-an-ip", "--field", "ipz=1", "--hooks", Self.hooks], in: scratch.path)
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("unknown field 'ipz' (did you mean 'ips'?)"))
        #expect(bad.stderr.contains("field 'ips': 'not-an-ip' is not a valid ipaddress"))
        let missing = try hookbus(["action", "run", Self.integration, Self.action, "--hooks", Self.hooks], in: scratch.path)
        #expect(missing.stderr.contains("field 'ips': a value is required"))
        let unknown = try hookbus(["action", "run", Self.integration, "Check IP", "--hooks", Self.hooks], in: scratch.path)
        #expect(unknown.stderr.contains("has no action named 'Check IP' (did you mean 'Check IPs'?)"))
        let audit = try hookbus(["audit", "--json", "--hooks", Self.hooks], in: scratch.path)
        #expect(audit.stdout.isEmpty, "nothing ran, nothing was recorded")
    }

    @Test func overHTTP() async throws {
        let scratch = Self.scratch()
        let server = try ServerProcess(directory: scratch.path, arguments: ["--hooks", Self.hooks])
        defer { server.stop() }
        let url = server.base + "/api/v1/integrations/HookBus%20IP%20Watchlist/actions/Check%20IPs/run"
        let (status, report) = try await request("POST", url, body: #"{"fields": {"ips": "203.0.113.77"}}"#)
        #expect(status == 200)
        #expect(report?["outcome"] == .string("succeeded"))
        #expect(report?["results"]?["table"]?["rows"]?.jsonText == #"[["203.0.113.77","true","203.0.113.0/24"]]"#)
        let (invalid, error) = try await request("POST", url, body: #"{"fields": {"ips": "999.1.1.1"}}"#)
        #expect(invalid == 422)
        #expect(error?["error"]?["code"] == .string("invalid_fields"))
        let (missing, _) = try await request("POST", server.base + "/api/v1/integrations/HookBus%20IP%20Watchlist/actions/Nope/run", body: "{}")
        #expect(missing == 404)
    }
}
