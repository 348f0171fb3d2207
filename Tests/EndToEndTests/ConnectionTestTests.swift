import Foundation
import HookBus
import Testing

/// `hookbus integration test` and `POST /api/v1/integrations/{name}/test` with a real script.
@Suite struct ConnectionTestTests {
    /// A connection test that needs a URL and a key, and prints the key it was given (which must
    /// come out masked).
    static func hooks(_ scratch: Scratch, settings: String) {
        scratch.write("hooks/int.yaml", """
            name: 'Ticketing'
            script:
              type: bash
              test_connection_code: |
                if [ -z "$api_url" ]; then echo "api_url is not set" >&2; exit 2; fi
                echo "reached $api_url with key $api_key (argv: $*)"
            configuration:
              data_attributes:
                api_url: {label: 'API URL', type: text, required: false}
                api_key: {label: 'Key', type: password, required: false}
            """)
        scratch.write("hookbus.yaml", settings)
    }

    @Test func fromTheCommandLine() throws {
        let scratch = Scratch()
        Self.hooks(scratch, settings: "integrations: {Ticketing: {settings: {api_url: 'http://tickets.example', api_key: {env: TICKET_KEY}}}}\n")
        let passed = try hookbus(["integration", "test", "Ticketing", "--hooks", "hooks"], in: scratch.path, environment: ["TICKET_KEY": "s3cret-key-value"])
        #expect(passed.status == 0, "\(passed.stderr)")
        #expect(passed.stdout.hasPrefix("✓ Ticketing: connection test passed"))
        #expect(passed.stdout.contains("reached http://tickets.example with key ••••••"))
        // The password is in the environment only, never in argv.
        #expect(passed.stdout.contains("(argv: --api_url=http://tickets.example)"))
        #expect(!passed.stdout.contains("s3cret"))

        let json = try hookbus(["integration", "test", "Ticketing", "--hooks", "hooks", "--json"], in: scratch.path, environment: ["TICKET_KEY": "s3cret-key-value"])
        let report = try JSONParser.parse(json.stdout)
        #expect(report["connected"] == .bool(true))
        #expect(report["exitCode"] == .number("0"))

        let unknown = try hookbus(["integration", "test", "Ticketng", "--hooks", "hooks"], in: scratch.path, environment: ["TICKET_KEY": "k"])
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains("no integration named 'Ticketng' (did you mean 'Ticketing'?)"))
    }

    @Test func aFailingTestShowsItsStderrAndWhereToFixIt() throws {
        let scratch = Scratch()
        Self.hooks(scratch, settings: "{}\n")
        let failed = try hookbus(["integration", "test", "Ticketing", "--hooks", "hooks"], in: scratch.path)
        #expect(failed.status == 1)
        #expect(failed.stderr.contains("✗ Ticketing: connection test failed (exit 2)"))
        #expect(failed.stderr.contains("api_url is not set"))
        #expect(failed.stderr.contains("integrations: 'Ticketing': settings:"))
    }

    @Test func overHTTP() async throws {
        let scratch = Scratch()
        Self.hooks(scratch, settings: "integrations: {Ticketing: {settings: {api_url: 'http://tickets.example', api_key: {env: TICKET_KEY}}}}\n")
        let server = try ServerProcess(directory: scratch.path, arguments: ["--hooks", "hooks"], environment: ["TICKET_KEY": "s3cret-key-value"])
        defer { server.stop() }
        let (status, report) = try await request("POST", server.base + "/api/v1/integrations/Ticketing/test")
        #expect(status == 200)
        #expect(report?["connected"] == .bool(true))
        #expect(report?["stdout"]?.stringValue?.contains("key ••••••") == true)
        let (missing, error) = try await request("POST", server.base + "/api/v1/integrations/Nope/test")
        #expect(missing == 404)
        #expect(error?["error"]?["code"] == .string("unknown_integration"))
        let (wrongMethod, _) = try await request("GET", server.base + "/api/v1/integrations/Ticketing/test")
        #expect(wrongMethod == 405)
    }
}
