import Foundation
import GRDB
import Testing
@testable import HookBus

/// Migration v6 rebuilds both tables to drop AUTOINCREMENT: a database written by an earlier
/// version keeps every event and run, their links, and its indexes.
@Suite struct StoreMigrationTests {
    @Test func aVersion5DatabaseKeepsItsRowsAndLosesOnlyAutoincrement() async throws {
        let folder = TempFolder()
        let path = folder.url.appendingPathComponent("hookbus.sqlite").path
        func event(_ number: Int, id: String? = nil) throws -> Event {
            try Event.fromHookBody(hook: "approveTask", body: Array(#"{"tasksDetail": {"id": \#(number)}}"#.utf8), source: EventSource(kind: .hook), id: id)
        }
        let pending = try event(2, id: "evt_b")
        let old = try DatabaseQueue(path: path)
        try SQLiteStore.migrator.migrate(old, upTo: "v5: the dispatch index holds only events not yet done")
        try await old.write { db in
            for (seq, id, state) in [(1, "evt_a", "done"), (2, "evt_b", "pending"), (7, "evt_c", "running")] {
                try db.execute(sql: """
                    INSERT INTO events (seq, id, hook, source_kind, received_at, record, idempotency_key, state)
                    VALUES (?, ?, 'approveTask', 'hook', 1000, ?, ?, ?)
                    """, arguments: [seq, id, id == pending.id ? pending.recordJSON : "{}", id == pending.id ? "key-b" : nil, state])
            }
            try db.execute(sql: """
                INSERT INTO runs (id, event_id, attempt, integration, trigger, outcome, started_at, stdout, results)
                VALUES (40, 'evt_a', 1, 'Demo', 'Close', 'succeeded', 1001, 'out', '[1]'), (41, 'evt_c', 1, 'Demo', 'Close', 'running', 1002, NULL, NULL)
                """)
        }
        try await old.close()

        let store = try SQLiteStore(path: path)
        let database = try DatabaseQueue(path: store.path)
        try await database.read { db in
            let events = try Row.fetchAll(db, sql: "SELECT seq, id, idempotency_key, state FROM events ORDER BY seq")
                .map { "\($0[0] as Int) \($0[1] as String) \(($0[2] as String?) ?? "-") \($0[3] as String)" }
            #expect(events == ["1 evt_a - done", "2 evt_b key-b pending", "7 evt_c - running"])
            let runs = try Row.fetchAll(db, sql: "SELECT id, event_id, stdout, results FROM runs ORDER BY id")
                .map { "\($0[0] as Int) \($0[1] as String) \(($0[2] as String?) ?? "-") \(($0[3] as String?) ?? "-")" }
            #expect(runs == ["40 evt_a out [1]", "41 evt_c - -"])
            let tables = try String.fetchAll(db, sql: "SELECT sql FROM sqlite_master WHERE type = 'table' AND name IN ('events', 'runs')")
            #expect(tables.count == 2)
            #expect(tables.allSatisfy { !$0.uppercased().contains("AUTOINCREMENT") && !$0.contains("_rebuilt") })
            let indexes = Set(try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'"))
            #expect(indexes == ["events_idempotency", "events_state", "events_received", "runs_event", "runs_trigger", "runs_outcome",
                                "deferred_event", "deferred_due", "deferred_hold", "deferred_previous", "events_subject",
                                "events_hook", "events_source", "events_endpoint"])
            #expect(try Row.fetchAll(db, sql: "PRAGMA foreign_key_check").isEmpty)
        }
        // New events follow the largest seq, and the dispatcher finds the pending ones in order.
        let new = try event(9)
        _ = try await store.accept([(new, nil)], idempotencyWindow: 60, claimed: false)
        #expect(try await database.read { try Int.fetchOne($0, sql: "SELECT seq FROM events WHERE id = ?", arguments: [new.id]) } == 8)
        #expect(try await store.claimPending(limit: 10).map(\.event.id) == ["evt_b", new.id])
        // The runs still belong to their events: deleting an event deletes its runs.
        try await database.write { db in
            try db.execute(sql: "PRAGMA foreign_keys = ON")
            try db.execute(sql: "DELETE FROM events WHERE id = 'evt_a'")
            #expect(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM runs") == 1)
        }
    }
}
