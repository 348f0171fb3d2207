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

    /// A record the store can never take (its event does not exist: a broken key) is given up
    /// at once, logged and counted as lost; the records around it are written.
    @Test func aRecordTheStoreNeverTakesIsGivenUpLoudlyAndTheOthersAreWritten() async throws {
        let folder = TempFolder()
        let store = try SQLiteStore(path: folder.url.appendingPathComponent("hookbus.sqlite").path)
        let eventID = try await storedEvent(store)
        let good = try await store.runStarted(eventID: eventID, attempt: 1, integration: "I", trigger: "T", invocation: nil, previousRun: nil, requestedBy: nil, at: Date())
        _ = try await store.runStarted(eventID: "evt_missing", attempt: 1, integration: "I", trigger: "T", invocation: nil, previousRun: nil, requestedBy: nil, at: Date())
        let after = try await store.runStarted(eventID: eventID, attempt: 1, integration: "I", trigger: "U", invocation: nil, previousRun: nil, requestedBy: nil, at: Date())
        // Whoever waits for the records hears that one was given up.
        await #expect(throws: AuditRecordsLost.self) { try await store.flush() }
        #expect(Set(try await store.runs(RunFilter(limit: 10)).map(\.id)) == [good, after])
        #expect(store.auditHealth.snapshot.lost == 1)
        #expect(store.auditHealth.snapshot.failures >= 4)
    }

    /// Salts are leases the kernel holds for a process: another process (python3, locking bytes
    /// of the salts file as a HookBus would) holding them all keeps a store from opening, with a
    /// reason; once it has ended — however it ended — they are free again.
    @Test func saltsAreLeasesThatEndWithTheProcessHoldingThem() async throws {
        let folder = TempFolder()
        let path = folder.url.appendingPathComponent("hookbus.sqlite").path
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        holder.arguments = ["-c", """
            import fcntl, os, sys, time
            fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
            for salt in range(64): fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, salt, 0)
            print('held', flush=True)
            time.sleep(60)
            """, path + "-salts"]
        let output = Pipe()
        holder.standardOutput = output
        try holder.run()
        defer { if holder.isRunning { holder.terminate() } }
        #expect(String(decoding: output.fileHandleForReading.availableData, as: UTF8.self).hasPrefix("held"))
        #expect { _ = try SQLiteStore(path: path) } throws: { "\($0)".contains("all 64 run-id salts of this database are held") }
        kill(holder.processIdentifier, SIGKILL)
        holder.waitUntilExit()
        let store = try SQLiteStore(path: path)
        let eventID = try await storedEvent(store)
        #expect(try await store.runStarted(eventID: eventID, attempt: 1, integration: "I", trigger: "T", invocation: nil, previousRun: nil, requestedBy: nil, at: Date()) > 0)
    }

    @Test func aThousandIdsInOneMillisecondDoNotSpillIntoTheNextSalt() {
        let ids = RunIDs(salt: 5)
        let now = Date()
        let made = (0..<3000).map { _ in ids.next(now: now) }
        #expect(Set(made).count == 3000)
        #expect(made.allSatisfy { ($0 >> 10) & 63 == 5 })
    }
}
