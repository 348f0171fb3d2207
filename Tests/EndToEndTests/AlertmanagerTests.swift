import Foundation
import HookBus
import Testing

/// A real Prometheus Alertmanager delivers an alert to a live HookBus webhook endpoint, and a
/// python trigger reads the alert's labels out of the payload: the path an on-call setup relies
/// on, with no sender faked. Debian's `prometheus-alertmanager` must be installed (Scripts/test
/// installs it); without it the test fails rather than skips, so CI cannot pass by not running it.
@Suite struct AlertmanagerTests {
    static let alertmanagerBinary = "/usr/bin/prometheus-alertmanager"
    static let webhookToken = "alertmanager-0123456789abcdef"
    static let operatorToken = "operator-0123456789abcdef"
    static let trigger = "Print alert labels"

    /// Token auth on the endpoint and an operator token to read the runs back; nothing is open on
    /// loopback, so the webhook's own scheme is what lets Alertmanager in.
    static func configure(_ scratch: Scratch) {
        scratch.write("hookbus.yaml", """
            server:
              tokens:
                - {name: e2e-operator, role: operator, secret: {env: OPERATOR_TOKEN}}
            webhooks:
              alertmanager:
                auth: {scheme: token, secrets: [{env: ALERTMANAGER_TOKEN}]}
                triggers: ['\(trigger)']

            """)
        scratch.write("hooks/alerts.yaml", "name: 'Alerts'\nscript:\n  type: python\nconfiguration:\n  data_attributes: {}\n")
        // The payload comes as --payload=<body>; parse_known_args skips the other params.
        scratch.write("hooks/print-labels.yaml", """
            integration: 'Alerts'
            name: '\(trigger)'
            type: Trigger
            script:
              code: |
                import argparse, json
                parser = argparse.ArgumentParser()
                parser.add_argument('--payload', required=True)
                args, _ = parser.parse_known_args()
                notification = json.loads(args.payload)
                for alert in notification['alerts']:
                    labels = alert['labels']
                    print(f"{alert['status']} alertname={labels['alertname']} severity={labels['severity']} instance={labels['instance']}")
            hook: [webhook]

            """)
    }

    @Test func anAlertFromAlertmanagerRunsAWebhookTriggerThatSeesItsLabels() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.alertmanagerBinary),
                     "\(Self.alertmanagerBinary) is missing: apt-get install prometheus-alertmanager (Scripts/test does)")
        let scratch = Scratch()
        Self.configure(scratch)
        let server = try ServerProcess(directory: scratch.path, arguments: ["--hooks", "hooks"],
                                       environment: ["ALERTMANAGER_TOKEN": Self.webhookToken, "OPERATOR_TOKEN": Self.operatorToken],
                                       openOnLoopback: false)
        defer { server.stop() }
        let webhook = server.base + "/api/v1/webhooks/alertmanager"
        let asOperator = ["Authorization": "Bearer \(Self.operatorToken)"]

        // Only the right token gets in: the run below is there because Alertmanager sent it.
        let (refused, refusal) = try await request("POST", webhook, body: "{}", headers: ["Authorization": "Bearer not-the-token"])
        #expect(refused == 401, "\(String(describing: refusal))")

        let alertmanager = try AlertmanagerProcess(directory: scratch.path, webhook: webhook, token: Self.webhookToken)
        defer { alertmanager.stop() }
        try #require(await alertmanager.becameReady(within: .seconds(20)), "Alertmanager did not become ready:\n\(alertmanager.log)")

        let instance = "e2e-\(UUID().uuidString.prefix(8))"
        let startsAt = ISO8601DateFormatter().string(from: Date())
        let alerts = #"[{"labels": {"alertname": "HookBusTest", "severity": "critical", "instance": "\#(instance)"}, "annotations": {"summary": "end-to-end test"}, "startsAt": "\#(startsAt)"}]"#
        let (posted, _) = try await request("POST", alertmanager.base + "/api/v2/alerts", body: alerts)
        try #require(posted == 200, "Alertmanager refused the alert:\n\(alertmanager.log)")

        var run: JSONValue?
        let ran = try await eventually(within: .seconds(30)) {
            let (_, body) = try await request("GET", server.base + "/api/v1/runs", headers: asOperator)
            run = body?["runs"]?.arrayValue.first { $0["outcome"] != .string("running") }
            return run != nil
        }
        try #require(ran, "no finished run of '\(Self.trigger)' within 30 s\nAlertmanager:\n\(alertmanager.log)\nHookBus:\n\(server.log)")
        #expect(run?["trigger"] == .string(Self.trigger))
        #expect(run?["outcome"] == .string("succeeded"), "\(String(describing: run))")
        #expect(run?["exitCode"] == .number("0"))
        let stdout = run?["stdout"]?.stringValue ?? ""
        #expect(stdout == "firing alertname=HookBusTest severity=critical instance=\(instance)\n", "\(String(describing: run))")

        // The event is the endpoint's, and its payload is Alertmanager's notification as sent.
        let id = try #require(run?["event"]?.stringValue)
        let (_, event) = try await request("GET", server.base + "/api/v1/events/\(id)", headers: asOperator)
        #expect(event?["event"]?["source"]?["name"] == .string("alertmanager"), "\(String(describing: event))")
        // Alertmanager ends its JSON with a newline: the body is kept exactly, as `payloadText`.
        let body = try #require(event?["event"]?["payloadText"]?.stringValue, "\(String(describing: event))")
        #expect(body.hasSuffix("\n"))
        #expect(try JSONParser.parse(body)["receiver"] == .string("hookbus"))
        // The bearer token Alertmanager sent is in neither the stored event nor the run.
        let (_, shown) = try await fetchText(server.base + "/api/v1/events/\(id)", headers: asOperator)
        #expect(!shown.contains(Self.webhookToken))
        let (_, all) = try await request("GET", server.base + "/api/v1/runs", headers: asOperator)
        #expect(all?["runs"]?.arrayValue.count == 1, "one notification, one run: \(String(describing: all))")
    }
}

/// `prometheus-alertmanager` as a child process whose only receiver is a HookBus webhook.
final class AlertmanagerProcess: @unchecked Sendable {
    let process = Process()
    let logPath: String
    private(set) var port: Int?

    /// - `group_wait: 0s` sends the first notification as soon as the alert arrives; the long
    ///   `group_interval` and `repeat_interval` keep it from being sent again during the test.
    /// - `--cluster.listen-address=` turns clustering off: otherwise it binds 0.0.0.0:9094, which
    ///   a second instance on the machine cannot, and holds the first notification until the
    ///   gossip has settled.
    /// - `--web.listen-address=127.0.0.1:0` lets the kernel pick the port, read back from the log
    ///   line "Listening on": no race for a port chosen in advance.
    /// - `--storage.path` keeps its notification log and silences in the scratch folder.
    init(directory: String, webhook: String, token: String) throws {
        let folder = directory + "/alertmanager"
        try FileManager.default.createDirectory(atPath: folder + "/data", withIntermediateDirectories: true)
        try Data("""
            route:
              receiver: hookbus
              group_wait: 0s
              group_interval: 5m
              repeat_interval: 4h
            receivers:
              - name: hookbus
                webhook_configs:
                  - url: '\(webhook)'
                    send_resolved: false
                    http_config:
                      authorization: {type: Bearer, credentials: '\(token)'}

            """.utf8).write(to: URL(fileURLWithPath: folder + "/alertmanager.yml"))
        logPath = folder + "/alertmanager.log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: AlertmanagerTests.alertmanagerBinary)
        process.arguments = ["--config.file=\(folder)/alertmanager.yml", "--storage.path=\(folder)/data",
                             "--web.listen-address=127.0.0.1:0", "--cluster.listen-address="]
        process.currentDirectoryURL = URL(fileURLWithPath: folder)
        let log = FileHandle(forWritingAtPath: logPath)
        process.standardOutput = log
        process.standardError = log
        try process.run()
    }

    var base: String { "http://127.0.0.1:\(port ?? 0)" }
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Whether it logged its port and `/-/ready` answered 200 within `limit`; false at once if
    /// it exits (a bad configuration), with the reason in `log`.
    func becameReady(within limit: Duration) async -> Bool {
        let settled = await eventually(within: limit) {
            guard process.isRunning else { return true }
            return await isReady()
        }
        return settled && process.isRunning
    }

    private func isReady() async -> Bool {
        if port == nil, let match = log.firstMatch(of: /msg="Listening on" address=127\.0\.0\.1:([0-9]+)/) {
            port = Int(match.1)
        }
        guard port != nil else { return false }
        return (try? await fetchText(base + "/-/ready"))?.0 == 200
    }

    /// SIGTERM, then SIGKILL if it is still running after 10 s.
    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        for _ in 0..<200 where process.isRunning { usleep(50_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}
