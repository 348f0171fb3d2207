import Foundation
import HookBus
import Testing

/// A real server process on a loopback port, real bash triggers, a real SQLite file.
@Suite(.serialized) struct ServerEndToEndTests {
    /// The bash integration `Ops` and a configuration with two run slots and run folders under
    /// the scratch folder's `runs`.
    /// `sandboxWrite`: a folder the runs may write (they see only their own otherwise).
    static func opsIntegration(_ scratch: Scratch, sandboxWrite: String? = nil) {
        scratch.write("hooks/int.yaml", "name: 'Ops'\nscript:\n  type: bash\nconfiguration:\n  data_attributes: {}\n")
        scratch.write("hookbus.yaml", "runner: {concurrency: 2, grace: 1, run_dir: runs\(sandboxWrite.map { ", sandbox_write: ['\($0)']" } ?? "")}\n")
    }

    static func slowHooks(_ scratch: Scratch, sleep: String = "0.4") {
        opsIntegration(scratch)
        scratch.write("hooks/slow.yaml", "integration: 'Ops'\nname: 'Slow'\ntype: Trigger\nscript:\n  code: |\n    sleep \(sleep)\n    echo \"done $HOOKBUS_EVENT_ID\"\nhook: [newIncident, incidentCustomAction]\n")
    }

    @Test func synchronousModeReturnsTheRunsOutput() async throws {
        let scratch = Scratch()
        Self.slowHooks(scratch, sleep: "0")
        let server = try ServerProcess(directory: scratch.path, arguments: ["--hooks", "hooks"])
        defer { server.stop() }
        let (status, body) = try await request("POST", server.base + "/api/v1/hooks/incidentCustomAction?wait=10",
                                               body: #"{"incidentsDetail": {"id": 5}, "trigger": "Slow", "text": "hi"}"#)
        #expect(status == 200)
        let runs = body?["runs"]?.arrayValue ?? []
        #expect(runs.count == 1)
        #expect(runs.first?["outcome"] == .string("succeeded"))
        #expect(runs.first?["stdout"]?.stringValue?.hasPrefix("done evt_") == true)
    }

    @Test func everyAcceptedEventRunsOnceEvenAcrossAKill9() async throws {
        let scratch = Scratch()
        // Incidents 1 to 3 run at once; the others wait for a gate that opens only after the
        // kill, so that the kill surely finds runs going on (however slow the machine).
        let gate = scratch.state + "/gate"
        Self.opsIntegration(scratch, sandboxWrite: scratch.state)
        scratch.write("hooks/slow.yaml", """
            integration: 'Ops'
            name: 'Slow'
            type: Trigger
            script:
              code: |
                id=$(printf '%s' "$incidentsDetail" | sed -E 's/.*"id": *([0-9]+).*/\\1/')
                [ "$id" -le 3 ] || while [ ! -e '\(gate)' ]; do sleep 0.05; done
                echo "done $HOOKBUS_EVENT_ID"
            hook: [newIncident]
            """)
        var accepted: [String] = []
        let first = try ServerProcess(directory: scratch.path, arguments: ["--hooks", "hooks"])
        for incident in 1...12 {
            let (status, body) = try await request("POST", first.base + "/api/v1/hooks/newIncident", body: #"{"incidentsDetail": {"id": \#(incident)}}"#)
            #expect(status == 202)
            accepted.append(try #require(body?["event"]?.stringValue))
        }
        // Let a few runs finish and others start, then crash the server mid-way.
        for _ in 0..<100 {
            let (_, runs) = try await request("GET", first.base + "/api/v1/runs?outcome=succeeded")
            if (runs?["runs"]?.arrayValue.count ?? 0) >= 3 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        first.kill9()
        FileManager.default.createFile(atPath: gate, contents: nil)

        let second = try ServerProcess(directory: scratch.path, arguments: ["--hooks", "hooks"])
        defer { second.stop() }
        var interrupted = 0
        for id in accepted {
            var event: JSONValue?
            for _ in 0..<400 {
                let (status, body) = try await request("GET", second.base + "/api/v1/events/\(id)")
                #expect(status == 200, "accepted event \(id) is missing")
                if body?["state"] == .string("done") { event = body; break }
                try await Task.sleep(for: .milliseconds(50))
            }
            let runs = try #require(event?["runs"]?.arrayValue, "event \(id) never finished")
            let succeeded = runs.filter { $0["outcome"] == .string("succeeded") }
            #expect(succeeded.count == 1, "event \(id): \(runs)")
            let interruptedRuns = runs.filter { $0["outcome"] == .string("interrupted") }
            interrupted += interruptedRuns.count
            // Only what the crash interrupted was repeated, and the repeat links to it.
            #expect(runs.count == 1 + interruptedRuns.count)
            for run in interruptedRuns {
                #expect(succeeded.first?["previousRun"] == run["run"])
                #expect(succeeded.first?["attempt"] == .number("2"))
            }
        }
        #expect(interrupted >= 1, "the kill should have interrupted a run")
        // The killed server's run folders (code, params) were removed when the second started.
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path + "/runs") == [], "\(second.log)")
    }

    @Test func aRunOrphanedByAKill9IsEndedOnTheNextStart() async throws {
        let scratch = Scratch()
        let marker = scratch.state + "/started-once"
        let escaped = scratch.state + "/escaped.pid"
        Self.opsIntegration(scratch, sandboxWrite: scratch.state)
        // The first attempt would sleep far past the test, with a child that leaves the run's
        // folder and process group; the repeat finds the marker and ends at once.
        scratch.write("hooks/stuck.yaml", """
            integration: 'Ops'
            name: 'Stuck'
            type: Trigger
            script:
              code: |
                if [ -e '\(marker)' ]; then echo repeated; exit 0; fi
                (cd / && exec setsid sleep 300) &
                echo $! > '\(escaped)'
                touch '\(marker)'
                sleep 300
            hook: [newIncident]

            """)
        let first = try ServerProcess(directory: scratch.path, arguments: ["--hooks", "hooks"])
        let (status, body) = try await request("POST", first.base + "/api/v1/hooks/newIncident", body: #"{"incidentsDetail": {"id": 1}}"#)
        #expect(status == 202)
        let id = try #require(body?["event"]?.stringValue)
        for _ in 0..<200 where !FileManager.default.fileExists(atPath: marker) { try await Task.sleep(for: .milliseconds(50)) }
        try await Task.sleep(for: .milliseconds(100))
        let runs = try #require(realpath(scratch.path + "/runs", nil).map { pointer in defer { free(pointer) }; return String(cString: pointer) })
        let inFolder = processes(workingUnder: runs)
        #expect(inFolder.count == 2, "bash and its sleep work in the run folder")
        let elsewhere = try #require(pid_t(String(contentsOfFile: escaped, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(getpgid(elsewhere) == elsewhere && !inFolder.contains(elsewhere), "a child in a session of its own, outside the folder")
        let orphans = inFolder + [elsewhere]
        defer { for pid in orphans where isAlive(pid) { kill(pid, SIGKILL) } }  // should the test fail
        first.kill9()
        #expect(orphans.allSatisfy(isAlive), "a SIGKILL of the server does not reach its runs")

        let second = try ServerProcess(directory: scratch.path, arguments: ["--hooks", "hooks"])
        defer { second.stop() }
        for _ in 0..<40 where orphans.contains(where: isAlive) { try await Task.sleep(for: .milliseconds(50)) }
        #expect(!orphans.contains(where: isAlive), "the orphaned run is ended on the next start\n\(second.log)")
        #expect(second.log.contains("ended \(orphans.count) processes"), "\(second.log)")
        var event: JSONValue?
        for _ in 0..<200 {
            let (_, body) = try await request("GET", second.base + "/api/v1/events/\(id)")
            if body?["state"] == .string("done") { event = body; break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let recorded = try #require(event?["runs"]?.arrayValue, "the event was repeated and finished")
        #expect(recorded.map { $0["outcome"] } == [.string("interrupted"), .string("succeeded")] || recorded.map { $0["outcome"] } == [.string("succeeded"), .string("interrupted")], "\(recorded)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: runs) == [])
    }

    /// Processes (by id) whose working directory is `folder` or below it.
    func processes(workingUnder folder: String) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry in
            guard let pid = pid_t(entry), let cwd = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(entry)/cwd") else { return nil }
            return cwd.hasPrefix(folder + "/") ? pid : nil
        }
    }

    /// Running, not a zombie (a container's first process may never reap what it inherits).
    func isAlive(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return false }
        return !stat[close...].hasPrefix(") Z")
    }

    @Test func sighupReloadsTheDefinitionsAndABrokenSetKeepsTheLastGoodOne() async throws {
        let scratch = Scratch()
        Self.opsIntegration(scratch)
        func echo(_ word: String) -> String {
            "integration: 'Ops'\nname: 'Echo'\ntype: Trigger\nscript:\n  code: |\n    echo \(word)\nhook: [incidentCustomAction]\n"
        }
        scratch.write("hooks/echo.yaml", echo("one"))
        let server = try ServerProcess(directory: scratch.path, arguments: ["--hooks", "hooks"])
        defer { server.stop() }
        func press() async throws -> String? {
            let (status, body) = try await request("POST", server.base + "/api/v1/hooks/incidentCustomAction?wait=10",
                                                   body: #"{"incidentsDetail": {"id": 5}, "trigger": "Echo", "text": "hi"}"#)
            #expect(status == 200)
            return body?["runs"]?.arrayValue.first?["stdout"]?.stringValue?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        func awaitLog(_ text: String, count: Int) async throws {
            for _ in 0..<100 where server.log.components(separatedBy: text).count - 1 < count { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(try await press() == "one")

        scratch.write("hooks/echo.yaml", echo("two"))
        kill(server.process.processIdentifier, SIGHUP)
        try await awaitLog("definitions reloaded", count: 1)
        #expect(try await press() == "two", "\(server.log)")

        // A broken file: the reload is refused with the file's position, the last good set stays.
        scratch.write("hooks/broken.yaml", "integration: 'Ops'\nname: [unclosed\n")
        kill(server.process.processIdentifier, SIGHUP)
        try await awaitLog("reload refused", count: 1)
        #expect(server.log.contains("reload refused"), "\(server.log)")
        #expect(server.log.contains("broken.yaml:3:1: error: YAML syntax error"), "the error names the file and its position\n\(server.log)")
        #expect(try await press() == "two")
        #expect(server.process.isRunning)
    }

    @Test func sigtermLetsRunningTriggersFinish() async throws {
        let scratch = Scratch()
        Self.slowHooks(scratch, sleep: "0.5")
        let server = try ServerProcess(directory: scratch.path, arguments: ["--hooks", "hooks"])
        let (_, body) = try await request("POST", server.base + "/api/v1/hooks/newIncident", body: #"{"incidentsDetail": {"id": 1}}"#)
        let id = try #require(body?["event"]?.stringValue)
        try await Task.sleep(for: .milliseconds(200))
        server.stop()
        let audit = try hookbus(["audit", "--json", "--hooks", "hooks"], in: scratch.path)
        #expect(audit.stdout.contains("\"outcome\":\"succeeded\""), "\(audit.stdout)\(server.log)")
        #expect(audit.stdout.contains(id))
    }
}
