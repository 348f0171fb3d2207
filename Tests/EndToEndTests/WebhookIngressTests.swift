import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HookBus
import Testing

/// The webhook ingress through a real server: bodies of every content type reach a bash trigger
/// byte for byte (the trigger itself dumps what it got with `od`), survive export → import,
/// and endpoints' rules route or filter events before anything runs.
@Suite(.serialized) struct WebhookIngressTests {
    /// A bash trigger that prints, as hex from `od`, the payload it got in argv and in the
    /// environment (decoded first when HookBus says it is base64), then what else the request said.
    static let dumpTrigger = #"""
        integration: 'Ops'
        name: 'Dump'
        type: Trigger
        script:
          code: |
            for argument in "$@"; do
              case "$argument" in --payload=*) from_argv="${argument#--payload=}" ;; esac
            done
            hex() { if [ "$HOOKBUS_PAYLOAD_ENCODING" = base64 ]; then base64 -d; else cat; fi | od -An -v -tx1 | tr -d ' \n'; }
            echo "argv=$(printf '%s' "$from_argv" | hex)"
            echo "env=$(printf '%s' "$payload" | hex)"
            echo "type=$HOOKBUS_CONTENT_TYPE encoding=$HOOKBUS_PAYLOAD_ENCODING endpoint=$HOOKBUS_WEBHOOK"
            echo "event=$HOOKBUS_HEADER_X_GITHUB_EVENT form=$payloadForm"
        hook: [webhook]
        """#

    static func setUp(_ scratch: Scratch) {
        scratch.write("hooks/int.yaml", "name: 'Ops'\nscript:\n  type: bash\nconfiguration:\n  data_attributes: {}\n")
        scratch.write("hooks/dump.yaml", dumpTrigger)
        scratch.write("hooks/other.yaml", "integration: 'Ops'\nname: 'Other'\ntype: Trigger\nscript:\n  code: echo other\nhook: [webhook]\n")
        scratch.write("hookbus.yaml", """
            runner: {concurrency: 2, run_dir: runs}
            webhooks:
              any:
                auth: {scheme: none}
                pass_headers: [X-GitHub-Event]
                triggers: [Dump]
              small:
                auth: {scheme: none}
                max_body_bytes: 16
                content_types: [application/json, text/*]
                triggers: [Dump]
              guarded:
                auth: {scheme: token, secrets: [{env: GUARD_TOKEN}]}
                max_body_bytes: 16
              github:
                auth: {scheme: none}
                rules:
                  - name: opened issues
                    when:
                      all:
                        - {header: X-GitHub-Event, equals: issues}
                        - {json: action, equals: opened}
                    triggers: [Dump]
                  - name: pushes
                    when: {header: X-GitHub-Event, equals: push}
                    triggers: []
                  - name: the rest
                    when: {not: {header: X-GitHub-Event, exists: false}}
                    triggers: [Other]
            """)
    }

    /// Posts `bytes` exactly as they are with curl, with the content type when given and none at
    /// all otherwise (URLSession would add a form type to a body without one).
    static func post(_ url: String, _ bytes: [UInt8], contentType: String?, headers: [String: String] = [:]) async throws -> (Int, JSONValue?) {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("body-\(UUID().uuidString)")
        try Data(bytes).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        var arguments = ["-s", "--noproxy", "*", "-o", "-", "-w", "\n%{http_code}", "-X", "POST", "--data-binary", "@" + file.path,
                         "-H", "Content-Type: \(contentType ?? "")"]
        for (name, value) in headers { arguments += ["-H", "\(name): \(value)"] }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = arguments + [url]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        let newline = text.lastIndex(of: "\n") ?? text.startIndex
        return (Int(text[text.index(after: newline)...]) ?? 0, try? JSONParser.parse(String(text[..<newline])))
    }

    /// The event once its runs are done.
    static func finished(_ id: String, on server: ServerProcess) async throws -> JSONValue? {
        var event: JSONValue?
        _ = try await eventually(within: .seconds(30)) {
            let (_, body) = try await request("GET", server.base + "/api/v1/events/\(id)")
            event = body
            return body?["state"] == .string("done")
        }
        return event
    }

    /// What the `Dump` run of the event printed.
    static func dumped(_ event: JSONValue) -> String {
        (event["runs"]?.arrayValue ?? []).first { $0["trigger"] == .string("Dump") }?["stdout"]?.stringValue ?? ""
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    static let bodies: [(contentType: String?, bytes: [UInt8])] = [
        ("application/json", Array("{\n  \"title\": \"test\",\n\t\"n\": 1\n}".utf8)),
        ("application/x-www-form-urlencoded", Array("title=Disk+full&host=db%2D1&host=db-2".utf8)),
        ("multipart/form-data; boundary=b0und", Array("--b0und\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nDisk full\r\n--b0und--\r\n".utf8)),
        ("application/xml", Array("<?xml version=\"1.0\"?>\r\n<alert severity=\"high\">disk &amp; cpu</alert>\n".utf8)),
        ("text/plain; charset=utf-8", Array("line one\r\nline two\n\ttabbed, é\n".utf8)),
        ("application/octet-stream", [0x00, 0xFF, 0x0A, 0x0D, 0x80, 0x41, 0x00]),
        (nil, Array("no content type at all\n".utf8)),
    ]

    @Test func everyContentTypeReachesTheTriggerByteForByteAndSurvivesExportAndImport() async throws {
        let scratch = Scratch()
        Self.setUp(scratch)
        let server = try ServerProcess(directory: scratch.path, arguments: ["--hooks", "hooks"], environment: ["GUARD_TOKEN": "guard-token"])
        defer { server.stop() }
        var firstRuns: [String: String] = [:]
        for (contentType, bytes) in Self.bodies {
            let (status, answer) = try await Self.post(server.base + "/api/v1/webhooks/any", bytes, contentType: contentType, headers: ["X-GitHub-Event": "issues"])
            #expect(status == 202, "\(contentType ?? "none"): \(String(describing: answer))")
            let id = try #require(answer?["event"]?.stringValue)
            let event = try #require(try await Self.finished(id, on: server))
            let stdout = Self.dumped(event)
            let expected = Self.hex(bytes)
            #expect(stdout.contains("argv=\(expected)\n"), "\(contentType ?? "none"): \(stdout)")
            #expect(stdout.contains("env=\(expected)\n"), "\(contentType ?? "none"): \(stdout)")
            #expect(stdout.contains("type=\(contentType ?? "") encoding=\(bytes.contains(0) ? "base64" : "text") endpoint=any"), "\(stdout)")
            #expect(stdout.contains("event=issues"), "\(stdout)")
            if contentType?.hasPrefix("application/x-www-form-urlencoded") == true {
                #expect(stdout.contains(#"form={"host":["db-1","db-2"],"title":"Disk full"}"#), "\(stdout)")
            }
            firstRuns[expected] = stdout
        }

        // Export → import: the same bytes reach the trigger again.
        let export = try hookbus(["audit", "export", "--hooks", "hooks"], in: scratch.path)
        #expect(export.status == 0, "\(export.stderr)")
        let lines = export.stdout.split(separator: "\n")
        #expect(lines.count == Self.bodies.count)
        let (importStatus, imported) = try await Self.post(server.base + "/api/v1/events", Array(export.stdout.utf8), contentType: "application/x-ndjson")
        #expect(importStatus == 200 || importStatus == 202, "\(String(describing: imported))")
        let ids = (imported?["results"]?.arrayValue ?? []).compactMap { $0["event"]?.stringValue }
        #expect(ids.count == Self.bodies.count, "\(String(describing: imported))")
        for id in ids {
            let event = try #require(try await Self.finished(id, on: server))
            let stdout = Self.dumped(event)
            let argv = stdout.split(separator: "\n").first.map { String($0.dropFirst("argv=".count)) } ?? ""
            #expect(firstRuns[argv] == stdout, "replayed run differs: \(stdout)")
        }
    }

    @Test func endpointLimitsAreAnsweredPrecisely() async throws {
        let scratch = Scratch()
        Self.setUp(scratch)
        let server = try ServerProcess(directory: scratch.path, arguments: ["--hooks", "hooks"], environment: ["GUARD_TOKEN": "guard-token"])
        defer { server.stop() }
        let (tooLarge, body413) = try await Self.post(server.base + "/api/v1/webhooks/small", Array(String(repeating: "x", count: 17).utf8), contentType: "text/plain")
        #expect(tooLarge == 413 && body413?["error"]?["code"] == .string("too_large"))
        let (wrongType, body415) = try await Self.post(server.base + "/api/v1/webhooks/small", Array("<a/>".utf8), contentType: "application/xml")
        #expect(wrongType == 415 && body415?["error"]?["code"] == .string("unsupported_media_type"))
        let (badJSON, body400) = try await Self.post(server.base + "/api/v1/webhooks/small", Array("{oops".utf8), contentType: "application/json")
        #expect(badJSON == 400 && body400?["error"]?["code"] == .string("malformed_json"), "\(String(describing: body400))")
        let (fits, _) = try await Self.post(server.base + "/api/v1/webhooks/small", Array("text fits".utf8), contentType: "text/markdown")
        #expect(fits == 202)
        // A token endpoint judges the token before reading the body: a chunked body (no length
        // to refuse on) from a client without the token is answered 401, not read to its limit.
        let big = Array(String(repeating: "z", count: 100_000).utf8)
        let (stranger, _) = try await Self.post(server.base + "/api/v1/webhooks/guarded", big, contentType: "text/plain",
                                                headers: ["Transfer-Encoding": "chunked", "Authorization": "Bearer wrong"])
        #expect(stranger == 401)
        let (known, body) = try await Self.post(server.base + "/api/v1/webhooks/guarded", big, contentType: "text/plain",
                                                headers: ["Transfer-Encoding": "chunked", "Authorization": "Bearer guard-token"])
        #expect(known == 413 && body?["error"]?["code"] == .string("too_large"), "\(String(describing: body))")
        // A one-line JSON body is shown by the API as it was sent: key order, escapes, number forms.
        let exact = #"{"b":"caf\u00e9 \/x","a":1.50}"#
        let (status, answer) = try await Self.post(server.base + "/api/v1/webhooks/any", Array(exact.utf8), contentType: "application/json")
        #expect(status == 202)
        let (_, shown) = try await fetchText(server.base + "/api/v1/events/" + (answer?["event"]?.stringValue ?? "?"))
        #expect(shown.contains(#""params":{"payload":"# + exact + "}"), "\(shown)")
    }

    @Test func rulesRouteOrFilterBeforeAnythingRuns() async throws {
        let scratch = Scratch()
        Self.setUp(scratch)
        let server = try ServerProcess(directory: scratch.path, arguments: ["--hooks", "hooks"], environment: ["GUARD_TOKEN": "guard-token"])
        defer { server.stop() }
        func send(_ json: String, event: String?) async throws -> [String: JSONValue] {
            let (status, answer) = try await Self.post(server.base + "/api/v1/webhooks/github", Array(json.utf8), contentType: "application/json",
                                                       headers: event.map { ["X-GitHub-Event": $0] } ?? [:])
            #expect(status == 202)
            let id = try #require(answer?["event"]?.stringValue)
            let stored = try #require(try await Self.finished(id, on: server))
            var byTrigger: [String: JSONValue] = [:]
            for run in stored["runs"]?.arrayValue ?? [] { byTrigger[run["trigger"]?.stringValue ?? "?"] = run }
            return byTrigger
        }
        let opened = try await send(#"{"action":"opened"}"#, event: "issues")
        #expect(opened["Dump"]?["outcome"] == .string("succeeded"))
        #expect(opened["Other"]?["outcome"] == .string("skipped"))
        let push = try await send(#"{"ref":"main"}"#, event: "push")
        #expect(push.values.allSatisfy { $0["outcome"] == .string("skipped") })
        #expect(push["Dump"]?["reason"] == .string("filtered: rule 'pushes' of webhook 'github' routes to no trigger"), "\(push)")
        let closed = try await send(#"{"action":"closed"}"#, event: "issues")
        #expect(closed["Other"]?["outcome"] == .string("succeeded") && closed["Dump"]?["outcome"] == .string("skipped"))
        let none = try await send("{}", event: nil)
        #expect(none["Dump"]?["reason"] == .string("filtered: no rule of webhook 'github' matched"), "\(none)")
        let (_, metrics) = try await fetchText(server.base + "/metrics")
        #expect(metric(#"hookbus_webhook_filtered_total{endpoint="github"}"#, in: metrics) == 2, "\(metrics)")
    }

    @Test func fireDryRunShowsTheRulesDecision() throws {
        let scratch = Scratch()
        Self.setUp(scratch)
        scratch.write("push.json", #"{"ref": "main"}"#)
        let push = try hookbus(["fire", "webhook", "--hooks", "hooks", "--webhook", "github", "--body", "push.json", "--content-type", "application/json",
                                "--header", "X-GitHub-Event: push", "--dry-run"], in: scratch.path)
        #expect(push.status == 0, "\(push.stderr)")
        #expect(push.stdout.contains("skip Ops/Dump: filtered: rule 'pushes' of webhook 'github' routes to no trigger"), "\(push.stdout)")
        scratch.write("issue.txt", "payload=%7B%22action%22%3A%22opened%22%7D")
        let opened = try hookbus(["fire", "webhook", "--hooks", "hooks", "--webhook", "github", "--body", "issue.txt",
                                  "--content-type", "application/x-www-form-urlencoded", "--header", "X-GitHub-Event: issues", "--dry-run"], in: scratch.path)
        #expect(opened.stdout.contains("run  Ops/Dump") && opened.stdout.contains(#"payloadJSON={"action":"opened"}"#), "\(opened.stdout)")
        let typo = try hookbus(["fire", "webhook", "--hooks", "hooks", "--webhook", "githb", "--dry-run"], in: scratch.path)
        #expect(typo.status != 0 && typo.stderr.contains("no webhook endpoint named 'githb' is configured (did you mean 'github'?)"), "\(typo.stderr)")
    }
}
