import Foundation
import GRDB
import Testing
@testable import HookBus

/// The dispatch index leaves done events out (migration v5); SQLite uses such a partial index
/// only for a query that repeats its condition, so each dispatch query is checked to use it —
/// a reworded query would otherwise scan every event ever stored, silently.
@Suite struct StoreIndexTests {
    @Test func theDispatchQueriesUseThePartialIndex() throws {
        let folder = TempFolder()
        let store = try SQLiteStore(path: folder.url.appendingPathComponent("hookbus.sqlite").path)
        let database = try DatabaseQueue(path: store.path)
        try database.read { db in
            for sql in [SQLiteStore.claimSQL, SQLiteStore.recoverSQL, SQLiteStore.backlogSQL] {
                let plan = try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: sql.contains("?") ? [10] : []).map { $0["detail"] as String }.joined(separator: "; ")
                #expect(plan.contains("INDEX events_state"), "\(sql): \(plan)")
            }
            let definition = try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE name = 'events_state'")
            #expect(definition?.contains("WHERE state <> 'done'") == true)
        }
    }

    @Test func doneEventsStayOutOfTheIndexAndTheBacklogCountsTheRest() async throws {
        let folder = TempFolder()
        let store = try SQLiteStore(path: folder.url.appendingPathComponent("hookbus.sqlite").path)
        func event(_ number: Int) throws -> Event {
            try Event.fromHookBody(hook: "approveTask", body: Array(#"{"tasksDetail": {"id": \#(number)}}"#.utf8), source: EventSource(kind: .hook))
        }
        let settled = try (0..<5).map(event)
        let pending = try (5..<8).map(event)
        _ = try await store.accept(settled.map { ($0, nil) }, idempotencyWindow: 60, claimed: false, settled: Set(settled.map(\.id)))
        _ = try await store.accept(pending.map { ($0, nil) }, idempotencyWindow: 60, claimed: false)
        #expect(try await store.backlog() == 3)
        let claimed = try await store.claimPending(limit: 2)
        #expect(claimed.map(\.event.id) == pending.prefix(2).map(\.id))
        #expect(try await store.backlog() == 3)
        #expect(try await store.recoverInterrupted() == 2)
        let database = try DatabaseQueue(path: store.path)
        let indexed = try await database.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM events INDEXED BY events_state WHERE state <> 'done'") }
        #expect(indexed == 3)
    }
}
