import Foundation
import HookBus
import Testing

@Suite(.serialized) struct ReplayTests {
    static func hooks(_ scratch: Scratch) {
        scratch.write("hooks/int.yaml", "name: 'Ops'\nscript:\n  type: bash\nconfiguration:\n  data_attributes:\n    mode:\n      label: Mode\n      type: text\n      required: false\n      default: ok\n")
        // Fails while $mode is 'fail' (set through the configuration), succeeds otherwise.
        scratch.write("hooks/t.yaml", "integration: 'Ops'\nname: 'Check'\ntype: Trigger\nscript:\n  code: |\n    [ \"$mode\" = fail ] && { echo \"downstream down\" >&2; exit 2; }\n    echo \"ok $HOOKBUS_EVENT_ID\"\nhook: [newIncident, webhook]\n")
    }

    static let good = #"{"id":"evt_a","hook":"newIncident","params":{"incidentsDetail":{"id":1}},"trigger":null,"receivedAt":"2026-11-20T08:00:00.000Z","source":{"kind":"hook"}}"#
    static let good2 = #"{"id":"evt_b","hook":"webhook","params":{"payload":{"x":[1,2]}},"receivedAt":"2026-11-20T08:01:00.000Z","source":{"kind":"webhook","name":"github"}}"#

    @Test func goodAndBadLines() throws {
        let scratch = Scratch()
        Self.hooks(scratch)
        scratch.write("events.jsonl", [Self.good, "{not json", #"{"hook":"newIncidnt","params":{}}"#, "", #"{"hook":"newIncident","params":{}}"#, Self.good2].joined(separator: "\n") + "\n")
        let result = try hookbus(["replay", "events.jsonl", "--hooks", "hooks"], in: scratch.path)
        #expect(result.status == 1, "bad lines make the exit non-zero")
        #expect(result.stderr.contains("events.jsonl:2: not a JSON object"))
        #expect(result.stderr.contains("events.jsonl:3: unknown hook 'newIncidnt' (did you mean 'newIncident'?)"))
        #expect(result.stderr.contains("events.jsonl:5: hook 'newIncident' needs param 'incidentsDetail'"))
        #expect(result.stderr.contains("replay: 5 read, 2 dispatched, 3 skipped; runs: 2 succeeded"), "\(result.stderr)")
        // Provenance: the runs are linked to the replayed events' ids and lines.
        let export = try hookbus(["audit", "export", "--hooks", "hooks"], in: scratch.path)
        let records = export.stdout.split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) }
        #expect(records.count == 2)
        #expect(records.first?["source"]?["replayOf"] == .string("evt_a"))
        #expect(records.first?["source"]?["origin"] == .string("events.jsonl:1"))
        #expect(records.last?["source"]?["origin"] == .string("events.jsonl:6"))

        let strict = try hookbus(["replay", "events.jsonl", "--strict", "--dry-run", "--hooks", "hooks"], in: scratch.path)
        #expect(strict.status == 1)
        #expect(strict.stderr.contains("stopped at the first bad line"))
        #expect(!strict.stdout.contains("events.jsonl:6"))
    }

    @Test func reDriveFailedRunsLinksThemToTheEarlierAttempts() throws {
        let scratch = Scratch()
        Self.hooks(scratch)
        scratch.write("events.jsonl", Self.good + "\n")
        scratch.write("fail.yaml", "integrations: {'Ops': {settings: {mode: fail}}}\n")
        let failing = try hookbus(["replay", "events.jsonl", "--hooks", "hooks", "--config", "fail.yaml"], in: scratch.path)
        #expect(failing.status == 1)
        #expect(failing.stderr.contains("runs: 1 failed"))
        let exported = try hookbus(["audit", "export", "--failed", "--hooks", "hooks"], in: scratch.path)
        #expect(exported.stdout.split(separator: "\n").count == 1)
        // The downstream system is back: re-drive everything that failed.
        let redrive = try hookbus(["replay", "--failed", "--hooks", "hooks"], in: scratch.path)
        #expect(redrive.status == 0, "\(redrive.stderr)")
        #expect(redrive.stderr.contains("runs: 1 succeeded"))
        let audit = try hookbus(["audit", "--json", "--hooks", "hooks"], in: scratch.path)
        let runs = audit.stdout.split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) }
        let failed = try #require(runs.first { $0["outcome"] == .string("failed") })
        let succeeded = try #require(runs.first { $0["outcome"] == .string("succeeded") })
        #expect(succeeded["previousRun"] == failed["run"])
        #expect(succeeded["attempt"] == .number("2"))
        #expect(failed["stderr"] == .string("downstream down\n"))
        // Nothing left to re-drive.
        let again = try hookbus(["audit", "export", "--failed", "--hooks", "hooks"], in: scratch.path)
        #expect(again.stdout.isEmpty)
    }

    @Test func replayToALiveServerThroughBusyAndRestartingPeriodsAcceptsEachEventOnce() async throws {
        let scratch = Scratch()
        Self.hooks(scratch)
        // Runs wait for the gate file: until it exists nothing leaves the backlog, so the server
        // stays full (503) and the replay cannot finish before the restart.
        let gate = scratch.state + "/gate"  // (runs see it through runner.sandbox_read)
        scratch.write("hooks/t.yaml", "integration: 'Ops'\nname: 'Check'\ntype: Trigger\nscript:\n  code: |\n    while [ ! -e '\(gate)' ]; do sleep 0.05; done\n    echo \"ok $HOOKBUS_EVENT_ID\"\nhook: [newIncident]\n")
        var lines: [String] = []
        for index in 0..<60 {
            lines.append(#"{"id":"evt_to_\#(index)","hook":"newIncident","params":{"incidentsDetail":{"id":\#(index)}},"receivedAt":"2026-11-20T08:00:00.000Z"}"#)
        }
        scratch.write("events.jsonl", lines.joined(separator: "\n") + "\n")
        // A tiny backlog limit makes the server answer 503 while it catches up.
        scratch.write("hookbus.yaml", "server: {backlog_limit: 5}\nrunner: {concurrency: 2, sandbox_read: ['\(scratch.state)']}\n")
        let server = try ServerProcess(directory: scratch.path, arguments: ["--hooks", "hooks"])
        let base = server.base
        let port = server.port
        let replay = Task.detached { try hookbus(["replay", "events.jsonl", "--to", base, "--concurrency", "4", "--batch", "5"], in: scratch.path) }
        // Busy: the backlog is full and the server has refused the replay at least once.
        let busy = try await eventually(within: .seconds(60)) {
            let (_, text) = try await fetchText(base + "/metrics")
            return metric(#"hookbus_events_rejected_total{reason="backlog_full"}"#, in: text) ?? 0 > 0
        }
        try #require(busy, "the server never answered the replay 503: \(server.log)")
        // Restart the server on the same port in the middle of the replay.
        server.kill9()
        let storedByFirst = try hookbus(["audit", "export", "--hooks", "hooks"], in: scratch.path).stdout.split(separator: "\n").count
        #expect(storedByFirst > 0 && storedByFirst < 60, "\(storedByFirst) events stored before the restart")
        FileManager.default.createFile(atPath: gate, contents: nil)
        var second: ServerProcess?
        // The port may take a moment to be free again.
        _ = await eventually(within: .seconds(30)) {
            second = try? ServerProcess(directory: scratch.path, arguments: ["--hooks", "hooks", "--port", String(port)])
            return second != nil
        }
        defer { second?.stop() }
        let restarted = try #require(second, "the server did not start again on port \(port)")
        let result = try await replay.value
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("replay: 60 read"), "\(result.stderr)")
        // The second server accepted what the first had not stored, and nothing twice.
        let (_, metrics) = try await fetchText(restarted.base + "/metrics")
        #expect(metric("hookbus_events_accepted_total", in: metrics) == 60 - storedByFirst, "\(metrics)")
        // Every event accepted exactly once: 60 events stored, each with one succeeded run.
        var succeeded: [JSONValue] = []
        _ = try await eventually(within: .seconds(60)) {
            let (_, runs) = try await request("GET", restarted.base + "/api/v1/runs?outcome=succeeded&limit=1000")
            succeeded = try #require(runs?["runs"]?.arrayValue)
            return succeeded.count >= 60
        }
        #expect(succeeded.count == 60)
        #expect(Set(succeeded.compactMap { $0["event"]?.stringValue }).count == 60)
        let export = try hookbus(["audit", "export", "--hooks", "hooks"], in: scratch.path)
        let stored = export.stdout.split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) }
        #expect(stored.count == 60)
        #expect(Set(stored.compactMap { $0["params"]?["incidentsDetail"]?["id"] }).count == 60)
        // Stored as replays of the recorded events, each with its file and line.
        #expect(Set(stored.compactMap { $0["source"]?["replayOf"]?.stringValue }) == Set((0..<60).map { "evt_to_\($0)" }))
        #expect(stored.allSatisfy { $0["source"]?["origin"]?.stringValue?.hasPrefix("events.jsonl:") == true })
    }
}
