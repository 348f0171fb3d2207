import Foundation
import HookBus
import Testing

/// Retries, dead letters, limits and why runs wait, on a real server process (killed with
/// `kill -9` where it matters), the real CLI, real bash triggers and a real SQLite file.
@Suite(.serialized) struct RetryEndToEndTests {
    /// Integration `Ops` (bash): `Flaky` on updateIncident counts its tries per incident title
    /// in `state/`, logs `title try`, and fails until the title's `succeed-at` file's count;
    /// `Gate` on newIncident waits for the file `state/gate`. Integration `Paced` (bash,
    /// `max_concurrency: 1` unless `pacedLimits` says otherwise): `PacedGate` on webhooks logs
    /// its start and end and waits for the gate too.
    static func hooks(_ scratch: Scratch, config: String, pacedLimits: String = "max_concurrency: 1") {
        let state = scratch.state
        scratch.write("hooks/ops.yaml", "name: 'Ops'\nscript:\n  type: bash\nconfiguration:\n  data_attributes: {}\n")
        scratch.write("hooks/paced.yaml", "name: 'Paced'\nscript:\n  type: bash\nconfiguration:\n  data_attributes: {}\n")
        scratch.write("hooks/flaky.yaml", """
            integration: 'Ops'
            name: 'Flaky'
            type: Trigger
            script:
              code: |
                title=$(printf '%s' "$incidentsAfterUpdate" | sed -n 's/.*"title": *"\\([^"]*\\)".*/\\1/p')
                n=$(( $(cat "\(state)/$title.count" 2>/dev/null || echo 0) + 1 ))
                echo $n > "\(state)/$title.count"
                echo "$title $n" >> "\(state)/log"
                need=$(cat "\(state)/$title.succeed-at" 2>/dev/null || echo 1)
                [ "$n" = "$(cat "\(state)/$title.sleep-at" 2>/dev/null)" ] && sleep 30
                [ "$n" -ge "$need" ] || { echo "incident system down" >&2; exit 1; }
            hook: [updateIncident]
            """)
        scratch.write("hooks/gate.yaml", """
            integration: 'Ops'
            name: 'Gate'
            type: Trigger
            script:
              code: |
                while [ ! -e "\(state)/gate" ]; do sleep 0.05; done
            hook: [newIncident]
            """)
        scratch.write("hooks/paced-gate.yaml", """
            integration: 'Paced'
            name: 'PacedGate'
            type: Trigger
            script:
              code: |
                echo "start $(date +%s.%N)" >> "\(state)/paced"
                while [ ! -e "\(state)/gate" ]; do sleep 0.05; done
                sleep 0.1
                echo "end $(date +%s.%N)" >> "\(state)/paced"
            hook: [webhook]
            """)
        scratch.write("hookbus.yaml", """
            runner: {concurrency: 2, grace: 1, run_dir: runs, timeout: 60, sandbox_write: ['\(state)']}
            webhooks: {load: {auth: {scheme: none}, triggers: ['Paced/PacedGate']}}
            integrations: {'Paced': {\(pacedLimits)}}
            \(config)
            """)
    }

    static func event(_ server: ServerProcess, _ id: String) async throws -> JSONValue? {
        try await request("GET", server.base + "/api/v1/events/\(id)").1
    }

    static func post(_ server: ServerProcess, _ path: String, _ body: String) async throws -> String {
        let (status, answer) = try await request("POST", server.base + path, body: body)
        #expect(status == 202, "\(path): \(answer.map(\.jsonText) ?? "")")
        return try #require(answer?["event"]?.stringValue)
    }

    /// The first column of the first row of `sql` on the store, read by another process
    /// (python3's sqlite3), as text; empty when there is no row.
    /// Off the test process's cooperative threads (other tests block them with processes they
    /// wait for), so that a poll is not held up by them.
    static func query(_ path: String, _ sql: String) async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try querySync(path, sql) }) }
        }
    }

    static func querySync(_ path: String, _ sql: String) throws -> String {
        let process = Process()
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", "import sqlite3, sys; r = sqlite3.connect(sys.argv[1], timeout=10).execute(sys.argv[2]).fetchone(); print('' if r is None else r[0])", path, sql]
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func log(_ scratch: Scratch) -> [String] {
        ((try? String(contentsOfFile: scratch.path + "/state/log", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    @Test func aKill9DuringABackoffLosesAndRepeatsNothing() async throws {
        let scratch = Scratch()
        // A backoff long enough that the test sees it before it ends, however busy the machine
        // (a whole suite on two cores has kept the check below from its answer for over 12 s).
        Self.hooks(scratch, config: "retry: {on: [failed], attempts: 3, delay: 25, jitter: 0}")
        scratch.write("state/k.succeed-at", "2\n")
        let first = try ServerProcess(directory: scratch.path, arguments: ["--hooks", "hooks"])
        let id = try await Self.post(first, "/api/v1/hooks/updateIncident", #"{"incidentsBeforeUpdate": {"id": 1}, "incidentsAfterUpdate": {"id": 1, "title": "k"}}"#)
        // The failed try and its retry are on disk together (read by another process, not over
        // HTTP, whose answers a busy test process may delay past the backoff).
        let database = scratch.path + "/data/hookbus.sqlite"
        let onDisk = "SELECT e.state || ' ' || d.kind || ' ' || r.outcome FROM events e JOIN deferred_runs d ON d.event_id = e.id JOIN runs r ON r.id = d.previous_run WHERE e.id = '\(id)'"
        #expect(try await eventually(within: .seconds(24)) { try await Self.query(database, onDisk) == "waiting retry failed" }, "\(first.log)")
        first.kill9()
        #expect(Self.log(scratch) == ["k 1"], "the retry is not due yet")

        let second = try ServerProcess(directory: scratch.path, arguments: ["--hooks", "hooks"])
        defer { second.stop() }
        var done: JSONValue?
        #expect(try await eventually(within: .seconds(40)) {
            done = try await Self.event(second, id)
            return done?["state"] == .string("done")
        }, "\(second.log)")
        let runs = try #require(done?["runs"]?.arrayValue)
        try #require(runs.map { $0["outcome"] } == [.string("failed"), .string("succeeded")], "\(runs)")
        #expect(runs[1]["previousRun"] == runs[0]["run"])
        #expect(runs[1]["attempt"] == .number("2"))
        #expect(Self.log(scratch) == ["k 1", "k 2"], "the retry ran once")
        // Not before it was due (25 s after the failed try ended).
        let failedEnd = try #require(runs[0]["endedAt"]?.stringValue.flatMap { TimeExpression.parse($0) })
        let retryStart = try #require(runs[1]["startedAt"]?.stringValue.flatMap { TimeExpression.parse($0) })
        #expect(retryStart.timeIntervalSince(failedEnd) >= 24.9)
    }

    @Test func aKill9WhileARetryRunsRepeatsItOnceLinkedToTheInterruptedRun() async throws {
        let scratch = Scratch()
        Self.hooks(scratch, config: "retry: {on: [failed], attempts: 4, delay: 0.3, jitter: 0}")
        scratch.write("state/s.succeed-at", "3\n")
        scratch.write("state/s.sleep-at", "2\n")
        let first = try ServerProcess(directory: scratch.path, arguments: ["--hooks", "hooks"])
        let id = try await Self.post(first, "/api/v1/hooks/updateIncident", #"{"incidentsBeforeUpdate": {"id": 4}, "incidentsAfterUpdate": {"id": 4, "title": "s"}}"#)
        // The retry (try 2) is running, and its start is on disk.
        let database = scratch.path + "/data/hookbus.sqlite"
        #expect(try await eventually(within: .seconds(20)) {
            try await Self.query(database, "SELECT COUNT(*) FROM runs WHERE event_id = '\(id)' AND outcome = 'running' AND previous_run IS NOT NULL") == "1"
                && Self.log(scratch) == ["s 1", "s 2"]
        }, "\(first.log)")
        first.kill9()

        let second = try ServerProcess(directory: scratch.path, arguments: ["--hooks", "hooks"])
        defer { second.stop() }
        var done: JSONValue?
        #expect(try await eventually(within: .seconds(20)) {
            done = try await Self.event(second, id)
            return done?["state"] == .string("done")
        }, "\(second.log)")
        let runs = try #require(done?["runs"]?.arrayValue)
        try #require(runs.map { $0["outcome"] } == [.string("failed"), .string("interrupted"), .string("succeeded")], "\(runs)")
        #expect(runs.map { $0["attempt"] } == [.number("1"), .number("2"), .number("3")])
        #expect(runs[1]["previousRun"] == runs[0]["run"] && runs[2]["previousRun"] == runs[1]["run"])
        #expect(Self.log(scratch) == ["s 1", "s 2", "s 3"], "repeated once")
        // Nothing is left for a re-drive: the interrupted try was repeated.
        second.stop()
        #expect(try hookbus(["audit", "export", "--failed", "--hooks", "hooks"], in: scratch.path).stdout.isEmpty)
    }

    @Test func aDeadLetterIsListedCountedAndReDrivenByReplayFailed() async throws {
        let scratch = Scratch()
        Self.hooks(scratch, config: "retry: {on: [failed], attempts: 2, delay: 0.2}")
        scratch.write("state/d.succeed-at", "99\n")
        let server = try ServerProcess(directory: scratch.path, arguments: ["--hooks", "hooks"])
        let id = try await Self.post(server, "/api/v1/hooks/updateIncident", #"{"incidentsBeforeUpdate": {"id": 2}, "incidentsAfterUpdate": {"id": 2, "title": "d"}}"#)
        #expect(try await eventually(within: .seconds(20)) { try await Self.event(server, id)?["state"] == .string("done") })
        let (status, dead) = try await request("GET", server.base + "/api/v1/runs?outcome=dead")
        #expect(status == 200)
        let letter = try #require(dead?["runs"]?.arrayValue.first)
        #expect(letter["event"] == .string(id) && letter["exitCode"] == .number("1") && letter["attempt"] == .number("2"))
        #expect(letter["reason"]?.stringValue?.hasPrefix("dead letter: failed (exit 1) on try 2 of 2") == true, "\(letter)")
        let (_, metrics) = try await fetchText(server.base + "/metrics")
        #expect(metric(#"hookbus_runs_dead_total{trigger="Flaky"}"#, in: metrics) == 1)
        #expect(metric(#"hookbus_run_retries_total{trigger="Flaky"}"#, in: metrics) == 1)
        #expect(server.log.contains("run dead"))
        server.stop()

        let listed = try hookbus(["audit", "--outcome", "dead", "--json", "--hooks", "hooks"], in: scratch.path)
        #expect(listed.stdout.split(separator: "\n").count == 1 && listed.stdout.contains(id))
        // The incident system is back: the dead letter is re-driven and the new run links to it.
        scratch.write("state/d.succeed-at", "1\n")
        let redrive = try hookbus(["replay", "--failed", "--hooks", "hooks"], in: scratch.path)
        #expect(redrive.status == 0, "\(redrive.stderr)")
        #expect(redrive.stderr.contains("runs: 1 succeeded"), "\(redrive.stderr)")
        let audit = try hookbus(["audit", "--event", id, "--json", "--hooks", "hooks"], in: scratch.path)
        let runs = audit.stdout.split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) }
        #expect(runs.map { $0["outcome"] } == [.string("failed"), .string("dead"), .string("succeeded")])
        #expect(runs.last?["previousRun"] == letter["run"])
        #expect(try hookbus(["audit", "export", "--failed", "--hooks", "hooks"], in: scratch.path).stdout.isEmpty)
    }

    @Test func fireRunsItsRetriesAndSaysWhatItWaitsFor() throws {
        let scratch = Scratch()
        Self.hooks(scratch, config: "retry: {on: [failed], attempts: 3, delay: 0.2}")
        scratch.write("state/f.succeed-at", "3\n")
        scratch.write("update.json", #"{"incidentsBeforeUpdate": {"id": 3}, "incidentsAfterUpdate": {"id": 3, "title": "f"}}"#)
        let fired = try hookbus(["fire", "updateIncident", "--params", "update.json", "--hooks", "hooks"], in: scratch.path)
        #expect(fired.status == 0, "succeeded on its third try: \(fired.stdout) \(fired.stderr)")
        let outcomes = fired.stdout.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }.filter { ["failed", "succeeded"].contains($0) }
        #expect(outcomes == ["failed", "failed", "succeeded"], "\(fired.stdout)")
        #expect(fired.stdout.contains("retry: try 2 of 3 due at"))
        #expect(fired.stderr.contains("Ops/Flaky waits: retry: try 3 of 3 due at"), "\(fired.stderr)")
        #expect(Self.log(scratch) == ["f 1", "f 2", "f 3"])
    }

    @Test func everyReasonToWaitIsShownAndCounted() async throws {
        let scratch = Scratch()
        Self.hooks(scratch, config: "retry: {on: [failed, error], attempts: 3, delay: 60, jitter: 0}")
        scratch.write("hooks/ps.yaml", "name: 'Shell'\nscript:\n  type: powershell\nconfiguration:\n  data_attributes: {}\n")
        scratch.write("hooks/ps-trigger.yaml", "integration: 'Shell'\nname: 'PS'\ntype: Trigger\nscript:\n  code: Write-Output 'hi'\nhook: [closeIncident]\n")
        let server = try ServerProcess(directory: scratch.path, arguments: ["--hooks", "hooks"])
        defer { server.stop() }
        func reasons(_ id: String, state: String) async throws -> [JSONValue] {
            var event: JSONValue?
            _ = try await eventually(within: .seconds(20)) {
                event = try await Self.event(server, id)
                return event?["state"] == .string(state) && !(event?["waiting"]?.arrayValue.isEmpty ?? true)
            }
            #expect(event?["state"] == .string(state), "\(event.map(\.jsonText) ?? "")")
            return event?["waiting"]?.arrayValue ?? []
        }

        // Paced holds one run at once: the second webhook waits on disk for its slot.
        let paced1 = try await Self.post(server, "/api/v1/webhooks/load", "{}")
        #expect(try await eventually(within: .seconds(20)) { FileManager.default.fileExists(atPath: scratch.path + "/state/paced") })
        let paced2 = try await Self.post(server, "/api/v1/webhooks/load", "{}")
        let limit = try #require(try await reasons(paced2, state: "waiting").first)
        #expect(limit["kind"] == .string("limit"))
        #expect(limit["reason"]?.stringValue?.contains("max_concurrency 1") == true, "\(limit)")

        // Incident 1 takes the other slot; its next update waits behind it, incident 2 for a slot.
        let gate1 = try await Self.post(server, "/api/v1/hooks/newIncident", #"{"incidentsDetail": {"id": 1}}"#)
        #expect(try await eventually(within: .seconds(20)) { try await Self.event(server, gate1)?["runs"]?.arrayValue.count == 1 })
        let behind = try await Self.post(server, "/api/v1/hooks/newIncident", #"{"incidentsDetail": {"id": 1}}"#)
        let order = try #require(try await reasons(behind, state: "running").first)
        #expect(order["kind"] == .string("order"))
        #expect(order["reason"]?.stringValue?.hasPrefix("queued behind run ") == true && order["reason"]?.stringValue?.contains("of incident:1, which is running") == true, "\(order)")
        let other = try await Self.post(server, "/api/v1/hooks/newIncident", #"{"incidentsDetail": {"id": 2}}"#)
        let slot = try #require(try await reasons(other, state: "running").first)
        #expect(slot["kind"] == .string("slot"))
        #expect(slot["reason"]?.stringValue?.hasPrefix("waiting for a run slot: all 2 are in use") == true, "\(slot)")

        // Past what the dispatcher takes into memory, events wait on disk, in the backlog.
        var last = ""
        for incident in 3...202 { last = try await Self.post(server, "/api/v1/hooks/newIncident", #"{"incidentsDetail": {"id": \#(incident)}}"#) }
        let backlog = try #require(try await reasons(last, state: "pending").first)
        #expect(backlog["kind"] == .string("backlog"))
        #expect(backlog["reason"]?.stringValue?.hasPrefix("stored, waiting for the dispatcher: ") == true, "\(backlog)")
        let (_, busy) = try await fetchText(server.base + "/metrics")
        #expect(metric(#"hookbus_runs_waiting{reason="limit"}"#, in: busy) == 1)
        #expect((metric(#"hookbus_runs_waiting{reason="slot"}"#, in: busy) ?? 0) >= 2)
        #expect((metric("hookbus_backlog_events", in: busy) ?? 0) >= 1)

        // Open the gate: everything runs, the limited webhook after the first.
        scratch.write("state/gate", "")
        #expect(try await eventually(within: .seconds(60)) { try await Self.event(server, last)?["state"] == .string("done") })
        #expect(try await eventually(within: .seconds(20)) { try await Self.event(server, paced2)?["state"] == .string("done") })
        #expect(try await Self.event(server, paced1)?["state"] == .string("done"))

        // A failed try waits for its retry; the incident's next update waits behind it.
        scratch.write("state/r.succeed-at", "2\n")
        let failing = try await Self.post(server, "/api/v1/hooks/updateIncident", #"{"incidentsBeforeUpdate": {"id": 50}, "incidentsAfterUpdate": {"id": 50, "title": "r"}}"#)
        let retry = try #require(try await reasons(failing, state: "waiting").first)
        #expect(retry["kind"] == .string("retry") && retry["attempt"] == .number("2"))
        #expect(retry["reason"]?.stringValue?.contains("after try 1 failed (exit 1)") == true, "\(retry)")
        let held = try await Self.post(server, "/api/v1/hooks/updateIncident", #"{"incidentsBeforeUpdate": {"id": 50}, "incidentsAfterUpdate": {"id": 50, "title": "s"}}"#)
        let heldReason = try #require(try await reasons(held, state: "waiting").first)
        #expect(heldReason["kind"] == .string("order"))
        #expect(heldReason["reason"]?.stringValue?.contains("of incident:50 in Ops, which waits for its retry (order: strict)") == true, "\(heldReason)")
        #expect(Self.log(scratch) == ["r 1"], "the held update did not run")

        // An interpreter that is missing: the default policy retries it, and says why.
        if Interpreters(configured: [:]).path(for: .powershell) == nil {
            let missing = try await Self.post(server, "/api/v1/hooks/closeIncident", #"{"incidentsBeforeUpdate": {"id": 60}, "incidentsAfterUpdate": {"id": 60}}"#)
            let interpreter = try #require(try await reasons(missing, state: "waiting").first)
            #expect(interpreter["kind"] == .string("retry"))
            #expect(interpreter["reason"]?.stringValue?.contains("could not start (interpreter pwsh not found)") == true, "\(interpreter)")
        }
        let (_, later) = try await fetchText(server.base + "/metrics")
        #expect((metric(#"hookbus_runs_waiting{reason="retry"}"#, in: later) ?? 0) >= 1)
        #expect(metric(#"hookbus_runs_waiting{reason="order"}"#, in: later) == 1)

        // `hookbus audit` lists what waits, with why.
        let audit = try hookbus(["audit", "--outcome", "waiting", "--hooks", "hooks"], in: scratch.path)
        #expect(audit.stdout.contains("waiting  retry") && audit.stdout.contains("waiting  order"), "\(audit.stdout)")
        #expect(audit.stdout.contains("reason: queued behind run "))
    }

    @Test func maxConcurrencyHoldsUnderLoadAndEveryEventRuns() async throws {
        let scratch = Scratch()
        Self.hooks(scratch, config: "", pacedLimits: "max_concurrency: 2")
        scratch.write("hookbus.yaml", (try String(contentsOfFile: scratch.path + "/hookbus.yaml", encoding: .utf8)).replacingOccurrences(of: "concurrency: 2,", with: "concurrency: 6,"))
        scratch.write("state/gate", "")
        let server = try ServerProcess(directory: scratch.path, arguments: ["--hooks", "hooks"])
        defer { server.stop() }
        var ids: [String] = []
        for index in 0..<20 { ids.append(try await Self.post(server, "/api/v1/webhooks/load", #"{"n": \#(index)}"#)) }
        for id in ids {
            #expect(try await eventually(within: .seconds(60)) { try await Self.event(server, id)?["state"] == .string("done") }, "\(id)")
        }
        let marks = try String(contentsOfFile: scratch.path + "/state/paced", encoding: .utf8).split(separator: "\n")
            .map { line in (line.hasPrefix("start"), Double(line.split(separator: " ")[1])!) }.sorted { $0.1 < $1.1 }
        #expect(marks.filter(\.0).count == 20)
        var running = 0
        var most = 0
        for mark in marks {
            running += mark.0 ? 1 : -1
            most = max(most, running)
        }
        #expect(most == 2, "max_concurrency 2 with six run slots")
    }
}
