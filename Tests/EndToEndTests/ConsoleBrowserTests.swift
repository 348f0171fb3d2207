import Foundation
import HookBus
import Testing

/// The console in a real browser: a live `hookbus serve` with real bash triggers, driven by
/// headless Chromium through chromium-driver (`Tests/Browser/console_test.py`, python3-selenium,
/// all Debian packages that `Scripts/test` installs). The script's checks are the issue's: a
/// login refused without a token, events filtered, a failed run's stderr, a new event arriving
/// live, a re-drive with its new attempt, an action form refusing a bad field value. Screenshots
/// of every page go to `.build/console-screenshots/` (not committed) for a person to look at.
@Suite struct ConsoleBrowserTests {
    static let secrets = ["SENDER_TOKEN": "sender-console-0123456789abcdef", "ALICE_TOKEN": "alice-console-0123456789abcdef"]

    static let configuration = """
        server:
          tokens:
            - {name: soar, role: sender, secret: {env: SENDER_TOKEN}}
            - {name: alice, role: operator, secret: {env: ALICE_TOKEN}}

        """

    /// A failing trigger (with markup in its stderr, which the page must show as text), a
    /// succeeding one, and an action with a validated field.
    static func writeHooks(_ scratch: Scratch) {
        scratch.write("hooks/integration.yaml", """
            name: 'Console Demo'
            script:
              type: bash
              test_connection_code: |
                echo "connection ok"
            configuration:
              data_attributes: {}

            """)
        scratch.write("hooks/sync-ticket.yaml", """
            integration: 'Console Demo'
            name: 'Sync ticket'
            type: Trigger
            script:
              code: |
                echo "syncing the ticket of the incident"
                echo "connection refused by ticketing.example <b>port 443</b>" >&2
                exit 3
            hook: [updateIncident]

            """)
        scratch.write("hooks/notify.yaml", """
            integration: 'Console Demo'
            name: 'Notify'
            type: Trigger
            script:
              code: |
                echo "notified the on-call analyst"
            hook: [newIncident]

            """)
        scratch.write("hooks/look-up-ip.yaml", """
            integration: 'Console Demo'
            name: 'Look up IP'
            type: Enrichment
            script:
              code: |
                echo "looked up $ip"
            fields:
              - id: ip
                label: 'IP address'
                type: text
                required: true
                validator: ipaddress
                hint: 'One IPv4 address'

            """)
    }

    @Test func theConsoleWorksInHeadlessChromium() async throws {
        for program in ["/usr/bin/chromium", "/usr/bin/chromedriver", "/usr/bin/python3"] {
            #expect(FileManager.default.isExecutableFile(atPath: program), "\(program) is missing: Scripts/test installs chromium, chromium-driver and python3-selenium")
        }
        let scratch = Scratch()
        scratch.write("hookbus.yaml", Self.configuration)
        Self.writeHooks(scratch)
        let server = try ServerProcess(directory: scratch.path, arguments: ["--hooks", scratch.path + "/hooks"], environment: Self.secrets, openOnLoopback: false)
        defer { server.stop() }
        let sender = ["Authorization": "Bearer \(Self.secrets["SENDER_TOKEN"]!)"]
        let (failedStatus, failed) = try await request("POST", server.base + "/api/v1/hooks/updateIncident",
                                                       body: #"{"incidentsBeforeUpdate": {"id": 1742, "status": "open"}, "incidentsAfterUpdate": {"id": 1742, "status": "closed"}}"#,
                                                       headers: sender)
        let (goodStatus, good) = try await request("POST", server.base + "/api/v1/hooks/newIncident", body: #"{"incidentsDetail": {"id": 7, "name": "Phishing"}}"#, headers: sender)
        #expect(failedStatus == 202 && goodStatus == 202)
        let failedEvent = try #require(failed?["event"]?.stringValue)
        let goodEvent = try #require(good?["event"]?.stringValue)
        // The script starts from finished events: both have their run recorded.
        let operatorHeaders = ["Authorization": "Bearer \(Self.secrets["ALICE_TOKEN"]!)"]
        let finished = try await eventually(within: .seconds(30)) {
            for id in [failedEvent, goodEvent] {
                let (_, event) = try await request("GET", server.base + "/api/v1/events/\(id)", headers: operatorHeaders)
                guard event?["state"] == .string("done") else { return false }
            }
            return true
        }
        #expect(finished, "\(server.log)")

        let screenshots = packageRoot.appendingPathComponent(".build/console-screenshots").path
        let script = Process()
        script.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        script.arguments = [packageRoot.appendingPathComponent("Tests/Browser/console_test.py").path]
        script.environment = ProcessInfo.processInfo.environment.merging([
            "HOOKBUS_BASE": server.base, "OPERATOR_TOKEN": Self.secrets["ALICE_TOKEN"]!, "SENDER_TOKEN": Self.secrets["SENDER_TOKEN"]!,
            "FAILED_EVENT": failedEvent, "GOOD_EVENT": goodEvent, "SCREENSHOTS": screenshots, "NO_PROXY": "*", "no_proxy": "*",
        ]) { $1 }
        let output = Pipe()
        script.standardOutput = output
        script.standardError = output
        try script.run()
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        script.waitUntilExit()
        #expect(script.terminationStatus == 0, "the browser checks failed:\n\(printed)\nserver log:\n\(server.log)")

        // What the browser did is in the audit trail under the operator's name.
        let (_, runs) = try await request("GET", server.base + "/api/v1/runs?limit=100", headers: operatorHeaders)
        let byAlice = (runs?["runs"]?.arrayValue ?? []).filter { $0["requestedBy"] == .string("alice") }
        #expect(byAlice.contains { $0["trigger"] == .string("Sync ticket") && $0["attempt"] == .number("2") }, "\(byAlice)")
        #expect(byAlice.contains { $0["trigger"] == .string("Look up IP") && $0["outcome"] == .string("succeeded") }, "\(byAlice)")
        #expect(!server.log.contains(Self.secrets["ALICE_TOKEN"]!) && !server.log.contains(Self.secrets["SENDER_TOKEN"]!), "a token reached the log")
    }
}
