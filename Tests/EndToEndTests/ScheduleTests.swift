import Foundation
import HookBus
import Testing

/// Scheduled actions in a real server: they stop on their condition and on expiry, skip or force
/// over a run still going, survive a restart, and record their end as an event triggers see.
@Suite struct ScheduleTests {
    static let code = """
        n=$(cat "$state_file" 2>/dev/null || echo 0); n=$((n + 1)); echo $n > "$state_file"
        if [ "$n" -ge "$done_after" ]; then s=finished; else s=running; fi
        sleep "$pause"
        echo "{\\"scan\\": {\\"status\\": \\"$s\\"}, \\"n\\": $n}"
        """

    static func action(_ name: String, extra: String = "") -> String {
        """
        integration: 'Ops'
        name: '\(name)'
        type: Scheduled
        script:
          code: |
        \(code.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
        fields:
          - {id: state_file, label: State, type: text, required: true}
          - {id: done_after, label: Done after, type: number, required: true}
          - {id: pause, label: Pause, type: number, required: false, default: '0'}
          - {id: every, label: Every, type: text, required: true}
          - {id: expire, label: Expire, type: text, required: true}
          - {id: wanted, label: Wanted, type: tag, required: true}
        exit_condition:
          - path: 'scan.status'
            string: 'input.wanted'
        scheduled:
          - every: 'input.every'
            expire: 'input.expire'
        \(extra)
        """
    }

    static func setUp(_ scratch: Scratch) {
        scratch.write("hooks/int.yaml", "name: 'Ops'\nscript:\n  type: bash\nconfiguration:\n  data_attributes: {}\n")
        scratch.write("hooks/wait.yaml", action("Wait for scan"))
        scratch.write("hooks/force.yaml", action("Wait for scan, forced", extra: "re-execution: 'force'"))
        scratch.write("hooks/seen.yaml", "integration: 'Ops'\nname: 'Seen'\ntype: Trigger\nscript:\n  code: 'echo \"$payload\"'\nhook: [webhook]\n")
        scratch.write("hookbus.yaml", "runner: {grace: 1, sandbox_write: ['\(scratch.state)']}\n")
    }

    static func start(_ server: ServerProcess, _ action: String, _ fields: String) async throws -> String {
        let (status, body) = try await request("POST", server.base + "/api/v1/schedules", body: #"{"integration": "Ops", "action": "\#(action)", "fields": \#(fields)}"#)
        #expect(status == 201, "\(String(describing: body))")
        return try #require(body?["schedule"]?.stringValue)
    }

    static func waitUntilEnded(_ server: ServerProcess, _ id: String, seconds: Int = 20) async throws -> JSONValue {
        for _ in 0..<(seconds * 20) {
            let (_, body) = try await request("GET", server.base + "/api/v1/schedules/\(id)")
            if body?["state"] == .string("ended") { return try #require(body) }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("schedule \(id) did not end")
        return .null
    }

    static func count(_ scratch: Scratch, _ file: String) -> Int {
        Int((try? String(contentsOfFile: scratch.state + "/" + file, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
    }

    @Test func stopsWhenItsConditionHoldsAcrossARestartAndTriggersSeeTheEnd() async throws {
        let scratch = Scratch()
        Self.setUp(scratch)
        let state = scratch.state + "/scan.count"
        let first = try ServerProcess(directory: scratch.path, arguments: ["--hooks", "hooks"])
        let id = try await Self.start(first, "Wait for scan", #"{"state_file": "\#(state)", "done_after": "3", "every": "1s", "expire": "1h", "wanted": "finished, failed"}"#)
        for _ in 0..<100 where Self.count(scratch, "scan.count") < 1 { try await Task.sleep(for: .milliseconds(50)) }
        first.stop()
        // Restarted, the server carries on with the stored schedule.
        let second = try ServerProcess(directory: scratch.path, arguments: ["--hooks", "hooks"])
        defer { second.stop() }
        let ended = try await Self.waitUntilEnded(second, id)
        #expect(ended["endedReason"] == .string("condition met"))
        #expect(ended["lastResult"]?["scan"]?["status"] == .string("finished"))
        // Three runs counted, and at most one more for each run the stop interrupted (if it had
        // counted before it was ended, it counted again when run after the restart).
        let (_, interrupted) = try await request("GET", second.base + "/api/v1/runs?outcome=interrupted")
        let repeated = interrupted?["runs"]?.arrayValue.count ?? 0
        let counted = Self.count(scratch, "scan.count")
        #expect(counted >= 3 && counted <= 3 + repeated, "\(counted) counted, \(repeated) interrupted")
        let endEvent = try #require(ended["endEvent"]?.stringValue)
        var seen: JSONValue?
        for _ in 0..<200 {
            let (_, event) = try await request("GET", second.base + "/api/v1/events/\(endEvent)")
            if event?["state"] == .string("done") { seen = event; break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let stdout = seen?["runs"]?.arrayValue.first?["stdout"]?.stringValue ?? ""
        #expect(stdout.contains(#""reason":"condition met""#) && stdout.contains(id), "\(stdout)")
    }

    @Test func stopsWhenItExpiresAndCanBeStartedFromTheCommandLine() async throws {
        let scratch = Scratch()
        Self.setUp(scratch)
        let server = try ServerProcess(directory: scratch.path, arguments: ["--hooks", "hooks"])
        defer { server.stop() }
        let started = try hookbus(["schedule", "start", "Ops", "Wait for scan", "--hooks", "hooks", "--json",
                                   "--field", "state_file=\(scratch.state)/expire.count", "--field", "done_after=1000",
                                   "--field", "every=1s", "--field", "expire=2s", "--field", "wanted=finished"], in: scratch.path)
        #expect(started.status == 0, "\(started.stderr)")
        let id = try #require(try JSONParser.parse(started.stdout)["schedule"]?.stringValue)
        let ended = try await Self.waitUntilEnded(server, id)
        #expect(ended["endedReason"] == .string("expired"))
        #expect(Self.count(scratch, "expire.count") >= 1)
        let listed = try hookbus(["schedule", "list", "--hooks", "hooks"], in: scratch.path)
        #expect(listed.stdout.contains("\(id)  ended (expired)"))
        // Bad values are refused before anything is stored.
        let bad = try hookbus(["schedule", "start", "Ops", "Wait for scan", "--hooks", "hooks", "--field", "done_after=soon"], in: scratch.path)
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("field 'done_after': 'soon' is not a number"))
    }

    @Test func aTickIsSkippedWhileARunGoesOnUnlessForced() async throws {
        let scratch = Scratch()
        Self.setUp(scratch)
        let server = try ServerProcess(directory: scratch.path, arguments: ["--hooks", "hooks"])
        defer { server.stop() }
        let fields = { (file: String) in #"{"state_file": "\#(scratch.state)/\#(file)", "done_after": "1000", "pause": "3", "every": "1s", "expire": "4s", "wanted": "finished"}"# }
        let skipping = try await Self.start(server, "Wait for scan", fields("skip.count"))
        let forcing = try await Self.start(server, "Wait for scan, forced", fields("force.count"))
        _ = try await Self.waitUntilEnded(server, skipping)
        _ = try await Self.waitUntilEnded(server, forcing)
        // Runs take 3 s, ticks come every second for 4 s.
        #expect(Self.count(scratch, "skip.count") <= 2, "skipped ticks while a run went on")
        #expect(Self.count(scratch, "force.count") >= 3, "each tick ended the run before it")
        try await Task.sleep(for: .seconds(2))
        let (_, killed) = try await request("GET", server.base + "/api/v1/runs?trigger=Wait%20for%20scan,%20forced&outcome=killed")
        let reasons = killed?["runs"]?.arrayValue.compactMap { $0["reason"]?.stringValue } ?? []
        #expect(!reasons.isEmpty && reasons.allSatisfy { $0.contains("re-execution: force") }, "\(reasons)")
        let (_, skippedKilled) = try await request("GET", server.base + "/api/v1/runs?trigger=Wait%20for%20scan&outcome=killed")
        #expect(skippedKilled?["runs"]?.arrayValue.isEmpty == true)
    }
}
