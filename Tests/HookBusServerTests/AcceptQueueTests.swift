import Foundation
import Synchronization
import GRDB
import HookBus
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import HookBusServer

/// The group commit on its own thread, against a real SQLite file: every concurrent accept is
/// answered with its own stored event, repeated keys with the original, and the thread that
/// ended after a quiet second is started again by the next accept.
@Suite struct AcceptQueueTests {
    func makeStore() throws -> (SQLiteStore, URL) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hookbus-accept-test-\(UUID().uuidString)")
        return (try SQLiteStore(path: folder.appendingPathComponent("hookbus.sqlite").path), folder)
    }

    func event(_ number: Int) throws -> Event {
        try Event.fromHookBody(hook: "approveTask", body: Array(#"{"tasksDetail": {"id": \#(number), "status": "approved"}}"#.utf8), source: EventSource(kind: .hook))
    }

    @Test func concurrentAcceptsAreEachStoredOnceAndAnsweredWithTheirOwnID() async throws {
        let (store, folder) = try makeStore()
        defer { try? FileManager.default.removeItem(at: folder) }
        let commits = Counter()
        let queue = AcceptQueue(store: store, idempotencyWindow: 3600) { new, _ in commits.add(new) }
        let events = try (0..<300).map(event)
        let results = try await withThrowingTaskGroup(of: (String, AcceptResult).self) { group in
            for (index, event) in events.enumerated() {
                // Every third request repeats the key of the one before it.
                let key = index % 3 == 2 ? "key-\(index - 1)" : "key-\(index)"
                group.addTask { (event.id, try await queue.accept(event, idempotencyKey: key)) }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        #expect(results.count == 300)
        let stored = try await store.events(since: nil, onlyFailed: false, limit: 1000)
        #expect(stored.count == 200)
        #expect(commits.value == 200)
        for (id, result) in results where !result.duplicate {
            #expect(result.eventID == id)
            #expect(try await store.event(id: id) != nil)
        }
        // A duplicate names the event stored under its key, whichever of the pair came first.
        for (_, result) in results where result.duplicate {
            #expect(stored.contains { $0.event.id == result.eventID })
        }
        #expect(results.values.count(where: \.duplicate) == 100)
    }

    @Test func anAcceptAfterTheWriterEndedIsStored() async throws {
        let (store, folder) = try makeStore()
        defer { try? FileManager.default.removeItem(at: folder) }
        let queue = AcceptQueue(store: store, idempotencyWindow: 3600) { _, _ in }
        let first = try await queue.accept(try event(1), idempotencyKey: nil)
        #expect(queue.writer.started == 1)
        // The writer ends after a second without work: wait until it has (30 s is generous).
        let ended = await eventually(within: .seconds(30)) { !queue.writer.running }
        try #require(ended, "the writer thread is still running after 30 s without work")
        // Answered through `enqueue`, so an accept that nobody writes fails here instead of hanging.
        let answer = Answer()
        queue.enqueue(try event(2), idempotencyKey: nil, settled: false) { result in answer.result.withLock { $0 = result } }
        let answered = await eventually(within: .seconds(30)) { answer.result.withLock { $0 != nil } }
        try #require(answered, "an accept after the writer ended was not answered within 30 s")
        let second = try #require(answer.result.withLock { $0 }).get()
        #expect(queue.writer.started == 2, "the accept started a new writer thread")
        #expect(first.eventID != second.eventID)
        #expect(try await store.event(id: second.eventID) != nil)
    }
}

/// Polls `condition` every 10 ms until it holds (true) or `limit` has passed (false).
func eventually(within limit: Duration, _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + limit
    while !condition() {
        if ContinuousClock.now >= deadline { return false }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return true
}

private final class Answer: Sendable {
    let result = Mutex<Result<AcceptResult, any Error>?>(nil)
}

private final class Counter: Sendable {
    private let count = Mutex(0)
    func add(_ value: Int) { count.withLock { $0 += value } }
    var value: Int { count.withLock { $0 } }
}

/// A store that refuses writes (here: a trigger in the database that aborts every insert, as a
/// full disk or a broken file would fail them) costs the sender a 503 and nothing else: nothing
/// is stored, and once the store writes again so does the server.
@Suite struct StoreFailureTests {
    @Test func aFailingStoreAnswers503AndTheServerRecovers() async throws {
        let fixture = try ServerFixture()
        let database = try DatabaseQueue(path: fixture.store.path)
        try await database.write { try $0.execute(sql: "CREATE TRIGGER refuse BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'disk says no'); END") }
        try await fixture.application.test(.router) { client in
            try await client.execute(uri: "/api/v1/hooks/updateIncident", method: .post, headers: json, body: ByteBuffer(string: update)) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(response.headers[.retryAfter] == "1")
                #expect(errorCode(response) == "store_unavailable")
            }
            #expect(try await fixture.storedCount() == 0)
            #expect(fixture.state.metrics.render().contains(#"hookbus_events_rejected_total{reason="store_error"} 1"#))
            try await database.write { try $0.execute(sql: "DROP TRIGGER refuse") }
            try await client.execute(uri: "/api/v1/hooks/updateIncident", method: .post, headers: json, body: ByteBuffer(string: update)) { response in
                #expect(response.status == .accepted)
            }
            #expect(try await fixture.storedCount() == 1)
        }
    }
}
