import Foundation
import HookBus
import Testing

/// The audit trail through real processes: a server and `hookbus fire` writing one store at
/// once lose no run, and a store that refuses run records for a while makes `/healthz` say so
/// until the records are written.
@Suite(.serialized) struct AuditTrailEndToEndTests {
    static func setUp(_ scratch: Scratch) {
        scratch.write("hooks/int.yaml", "name: 'Ops'\nscript:\n  type: bash\nconfiguration:\n  data_attributes: {}\n")
        scratch.write("hooks/note.yaml", "integration: 'Ops'\nname: 'Note'\ntype: Trigger\nscript:\n  code: echo \"noted $HOOKBUS_EVENT_ID\"\nhook: [newIncident]\n")
        scratch.write("hookbus.yaml", "runner: {concurrency: 2, run_dir: runs}\n")
    }

    /// SQL on the server's store from another process (python3's sqlite3).
    static func sqlite(_ path: String, _ sql: String) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], timeout=10); c.executescript(sys.argv[2]); c.commit()", path, sql]
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    @Test func aServerAndConcurrentFiresOnOneStoreLoseNoRun() async throws {
        let scratch = Scratch()
        Self.setUp(scratch)
        let server = try ServerProcess(directory: scratch.path, arguments: ["--hooks", "hooks"])
        defer { server.stop() }
        scratch.write("incident.json", #"{"incidentsDetail": {"id": 7}}"#)
        // Eight `hookbus fire` processes and thirty requests to the server, all at once.
        let fires = Task.detached {
            try await withThrowingTaskGroup(of: CommandResult.self) { group in
                for _ in 0..<8 { group.addTask { try hookbus(["fire", "newIncident", "--params", "incident.json", "--hooks", "hooks"], in: scratch.path) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        for incident in 1...30 {
            let (status, _) = try await request("POST", server.base + "/api/v1/hooks/newIncident", body: #"{"incidentsDetail": {"id": \#(incident)}}"#)
            #expect(status == 202)
        }
        for fire in try await fires.value { #expect(fire.status == 0, "\(fire.stderr)") }
        var runs: [JSONValue] = []
        let all = try await eventually(within: .seconds(60)) {
            let (_, body) = try await request("GET", server.base + "/api/v1/runs?limit=1000")
            runs = body?["runs"]?.arrayValue ?? []
            return runs.count == 38
        }
        #expect(all, "\(runs.count) runs of 38")
        let ids = runs.compactMap { $0["run"]?.scalarText.flatMap { Int64($0) } }
        #expect(Set(ids).count == 38)
        // The server's runs share one salt; every fire process had another.
        let salts = Set(ids.map { ($0 >> 10) & 63 })
        #expect(salts.count >= 2, "\(salts)")
    }

    @Test func aStoreRefusingRunRecordsShowsDegradedUntilTheyAreWritten() async throws {
        let scratch = Scratch()
        Self.setUp(scratch)
        let server = try ServerProcess(directory: scratch.path, arguments: ["--hooks", "hooks"])
        defer { server.stop() }
        let database = scratch.path + "/data/hookbus.sqlite"
        #expect(try Self.sqlite(database, "CREATE TRIGGER refuse BEFORE INSERT ON runs BEGIN SELECT RAISE(ABORT, 'injected: runs refused'); END;") == 0)
        let (status, answer) = try await request("POST", server.base + "/api/v1/hooks/newIncident", body: #"{"incidentsDetail": {"id": 1}}"#)
        #expect(status == 202)
        let degraded = try await eventually(within: .seconds(30)) {
            let (_, health) = try await request("GET", server.base + "/healthz")
            return health?["status"] == .string("degraded") && health?["audit"]?["writing"] == .bool(false)
        }
        #expect(degraded)
        let (_, metrics) = try await fetchText(server.base + "/metrics")
        #expect((metric("hookbus_audit_write_failures_total", in: metrics) ?? 0) >= 1, "\(metrics)")
        #expect(server.log.contains("audit records could not be written"))

        #expect(try Self.sqlite(database, "DROP TRIGGER refuse;") == 0)
        let id = try #require(answer?["event"]?.stringValue)
        let written = try await eventually(within: .seconds(30)) {
            let (_, event) = try await request("GET", server.base + "/api/v1/events/\(id)")
            return event?["runs"]?.arrayValue.first?["outcome"] == .string("succeeded")
        }
        #expect(written)
        let (_, health) = try await request("GET", server.base + "/healthz")
        #expect(health?["status"] == .string("ok"), "\(String(describing: health))")
    }

    /// A stop does not wait for ever for records the store refuses: it gives up after its limit,
    /// says so, and the next start repeats the run whose record was lost (at-least-once).
    @Test func aStopDoesNotHangOnAStoreThatRefusesAndTheRunIsRepeatedAfter() async throws {
        let scratch = Scratch()
        Self.setUp(scratch)
        let first = try ServerProcess(directory: scratch.path, arguments: ["--hooks", "hooks"])
        let database = scratch.path + "/data/hookbus.sqlite"
        #expect(try Self.sqlite(database, "CREATE TRIGGER refuse BEFORE INSERT ON runs BEGIN SELECT RAISE(ABORT, 'injected: runs refused'); END;") == 0)
        let (status, answer) = try await request("POST", first.base + "/api/v1/hooks/newIncident", body: #"{"incidentsDetail": {"id": 3}}"#)
        #expect(status == 202)
        _ = try await eventually(within: .seconds(30)) { first.log.contains("audit records could not be written") }
        kill(first.process.processIdentifier, SIGTERM)
        let stopped = await eventually(within: .seconds(60)) { !first.process.isRunning }
        #expect(stopped, "the server did not stop")
        #expect(first.log.contains("stopping without them"), "\(first.log)")

        #expect(try Self.sqlite(database, "DROP TRIGGER refuse;") == 0)
        let second = try ServerProcess(directory: scratch.path, arguments: ["--hooks", "hooks"])
        defer { second.stop() }
        let id = try #require(answer?["event"]?.stringValue)
        let repeated = try await eventually(within: .seconds(30)) {
            let (_, event) = try await request("GET", second.base + "/api/v1/events/\(id)")
            return event?["state"] == .string("done") && event?["runs"]?.arrayValue.contains { $0["outcome"] == .string("succeeded") } == true
        }
        #expect(repeated)
    }
}
