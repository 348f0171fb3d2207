import Foundation
import GRDB
import Testing
@testable import HookBus

/// The audit trail is never lost quietly: a write the store refuses is retried until it
/// succeeds, and counted meanwhile; run ids of two stores on one file never collide.
@Suite struct AuditTrailTests {
    /// Runs SQL on the file from another process (python3's sqlite3): a real second writer.
    func sqlite(_ path: String, _ sql: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], timeout=10); c.executescript(sys.argv[2]); c.commit()", path, sql]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }

    /// A stored event for runs to belong to (runs reference their event).
    func storedEvent(_ store: SQLiteStore) async throws -> String {
        let event = try Event.fromHookBody(hook: "newIncident", body: Array(#"{"incidentsDetail": {"id": 1}}"#.utf8), source: EventSource(kind: .cli))
        _ = try await store.accept([(event, nil)], idempotencyWindow: 0, claimed: true, settled: [])
        return event.id
    }

    func waitUntil(_ condition: () async throws -> Bool) async rethrows -> Bool {
        let deadline = ContinuousClock.now + .seconds(20)
        while try await !condition() {
            if ContinuousClock.now > deadline { return false }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return true
    }

    @Test func aRefusedWriteIsRetriedCountedAndWrittenOnceTheStoreTakesIt() async throws {
        let folder = TempFolder()
        let path = folder.url.appendingPathComponent("hookbus.sqlite").path
        let store = try SQLiteStore(path: path)
        let eventID = try await storedEvent(store)
        // The store refuses every run record for a while.
        try sqlite(path, "CREATE TRIGGER refuse BEFORE INSERT ON runs BEGIN SELECT RAISE(ABORT, 'injected: runs refused'); END;")
        let id = try await store.runStarted(eventID: eventID, attempt: 1, integration: "I", trigger: "T", invocation: nil, previousRun: nil, requestedBy: nil, at: Date())
        try await store.runEnded(id: id, result: RunResult(outcome: .succeeded, exitCode: 0, startedAt: Date(), endedAt: Date()), keepOutput: true)
        #expect(await waitUntil { store.auditHealth.snapshot.failures >= 2 })
        #expect(store.auditHealth.snapshot.failing)
        #expect(store.auditHealth.snapshot.lastError?.contains("injected: runs refused") == true)
        #expect(try await store.runs(RunFilter(limit: 10)).isEmpty)

        try sqlite(path, "DROP TRIGGER refuse;")
        try await store.flush()
        let runs = try await store.runs(RunFilter(limit: 10))
        #expect(runs.map(\.id) == [id])
        #expect(runs.first?.outcome == "succeeded")
        #expect(!store.auditHealth.snapshot.failing)
    }

    @Test func twoStoresOnOneFileHaveTheirOwnSaltAndTheirRunsAllArrive() async throws {
        let folder = TempFolder()
        let path = folder.url.appendingPathComponent("hookbus.sqlite").path
        let first = try SQLiteStore(path: path)
        let second = try SQLiteStore(path: path)
        let eventID = try await storedEvent(first)
        let now = Date()
        var ids: [Int64] = []
        // The same millisecond for both: only the salt tells their ids apart.
        for _ in 0..<500 {
            ids.append(try await first.runStarted(eventID: eventID, attempt: 1, integration: "I", trigger: "T", invocation: nil, previousRun: nil, requestedBy: nil, at: now))
            ids.append(try await second.runStarted(eventID: eventID, attempt: 1, integration: "I", trigger: "T", invocation: nil, previousRun: nil, requestedBy: nil, at: now))
        }
        #expect(Set(ids).count == ids.count)
        #expect(Set(ids.map { ($0 >> 10) & 63 }).count == 2)
        try await first.flush()
        try await second.flush()
        #expect(try await first.runs(RunFilter(limit: 10_000)).count == 1000)
        #expect(first.auditHealth.snapshot.failures == 0 && second.auditHealth.snapshot.failures == 0)
    }

    /// A record the store can never take (its event does not exist) is given up after the
    /// retry limit, logged and counted as lost; the records around it are written.
    @Test func aRecordTheStoreNeverTakesIsGivenUpLoudlyAndTheOthersAreWritten() async throws {
        let folder = TempFolder()
        let store = try SQLiteStore(path: folder.url.appendingPathComponent("hookbus.sqlite").path, auditGiveUp: .milliseconds(300))
        let eventID = try await storedEvent(store)
        let good = try await store.runStarted(eventID: eventID, attempt: 1, integration: "I", trigger: "T", invocation: nil, previousRun: nil, requestedBy: nil, at: Date())
        _ = try await store.runStarted(eventID: "evt_missing", attempt: 1, integration: "I", trigger: "T", invocation: nil, previousRun: nil, requestedBy: nil, at: Date())
        let after = try await store.runStarted(eventID: eventID, attempt: 1, integration: "I", trigger: "U", invocation: nil, previousRun: nil, requestedBy: nil, at: Date())
        try await store.flush()
        #expect(Set(try await store.runs(RunFilter(limit: 10)).map(\.id)) == [good, after])
        #expect(store.auditHealth.snapshot.lost == 1)
        #expect(store.auditHealth.snapshot.failures >= 4)
    }

    @Test func aSaltOfAProcessThatIsGoneIsTakenBack() throws {
        let folder = TempFolder()
        let path = folder.url.appendingPathComponent("hookbus.sqlite").path
        _ = try SQLiteStore(path: path)
        // A process that has ended holds every salt.
        let ended = Process()
        ended.executableURL = URL(fileURLWithPath: "/bin/true")
        try ended.run()
        ended.waitUntilExit()
        let values = (0..<64).map { "(\($0), \(ended.processIdentifier), 0)" }.joined(separator: ",")
        try sqlite(path, "DELETE FROM run_id_salts; INSERT INTO run_id_salts (salt, pid, claimed_at) VALUES \(values);")
        #expect(throws: Never.self) { _ = try SQLiteStore(path: path) }
        // While a live process holds every salt, a store cannot be opened, and says why.
        let live = (0..<64).map { "(\($0), \(getpid()), 0)" }.joined(separator: ",")
        try sqlite(path, "DELETE FROM run_id_salts; INSERT INTO run_id_salts (salt, pid, claimed_at) VALUES \(live);")
        #expect { _ = try SQLiteStore(path: path) } throws: { "\($0)".contains("no run-id salt is free") }
    }
}
