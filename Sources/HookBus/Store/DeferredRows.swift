import Foundation
import GRDB
import Logging

/// The SQL of deferred runs (`DeferredRun`) in the SQLite store: one place for the table, the
/// changes a run's end makes to it, how an event becomes done, and the claim.
enum DeferredRows {
    static let createSQL = """
        CREATE TABLE deferred_runs (
            id INTEGER PRIMARY KEY,
            event_id TEXT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
            integration TEXT NOT NULL,
            trigger TEXT NOT NULL,
            hold_key TEXT,
            kind TEXT NOT NULL,
            reason TEXT NOT NULL,
            due_at REAL NOT NULL,
            attempt INTEGER NOT NULL,
            tries INTEGER NOT NULL,
            previous_run INTEGER,
            requested_by TEXT,
            claimed INTEGER NOT NULL DEFAULT 0,
            run_id INTEGER,
            position INTEGER NOT NULL
        );
        CREATE INDEX deferred_event ON deferred_runs(event_id);
        CREATE INDEX deferred_due ON deferred_runs(due_at);
        CREATE INDEX deferred_hold ON deferred_runs(hold_key, position, id) WHERE hold_key IS NOT NULL;
        CREATE INDEX deferred_previous ON deferred_runs(previous_run) WHERE previous_run IS NOT NULL;
        """

    static func apply(_ change: DeferredChange, _ db: Database) throws {
        switch change {
        case let .insert(run):
            try db.cachedStatement(sql: """
                INSERT INTO deferred_runs (event_id, integration, trigger, hold_key, kind, reason, due_at, attempt, tries, previous_run, requested_by, position)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, (SELECT seq FROM events WHERE id = ?1))
                """).execute(arguments: [run.eventID, run.integration, run.trigger, run.holdKey, run.kind.rawValue, run.reason,
                                         run.dueAt.timeIntervalSince1970, run.attempt, run.tries, run.previousRun, run.requestedBy])
        case let .reschedule(run):
            try db.cachedStatement(sql: """
                UPDATE deferred_runs SET kind = ?, reason = ?, due_at = ?, attempt = ?, tries = ?, previous_run = ?, claimed = 0, run_id = NULL WHERE id = ?
                """).execute(arguments: [run.kind.rawValue, run.reason, run.dueAt.timeIntervalSince1970, run.attempt, run.tries, run.previousRun, run.id])
        case let .release(id, eventID):
            try db.cachedStatement(sql: "DELETE FROM deferred_runs WHERE id = ?").execute(arguments: [id])
            // The last deferred run of an event that is only waiting for them ends it.
            try db.cachedStatement(sql: """
                UPDATE events SET state = 'done', completed_at = ? WHERE id = ? AND state = 'waiting'
                AND NOT EXISTS (SELECT 1 FROM deferred_runs WHERE event_id = ?)
                """).execute(arguments: [Date().timeIntervalSince1970, eventID, eventID])
        }
    }

    /// Done, or `waiting` while the event has deferred runs.
    static func eventDone(_ eventID: String, at: Double, _ db: Database) throws {
        try db.cachedStatement(sql: """
            UPDATE events SET state = CASE WHEN EXISTS (SELECT 1 FROM deferred_runs WHERE event_id = ?1) THEN 'waiting' ELSE 'done' END,
            completed_at = ?2 WHERE id = ?1
            """).execute(arguments: [eventID, at])
    }

    /// After a restart: runs claimed by the dead process wait again, linked to the run that was
    /// started for them (now interrupted), to be repeated as the same try.
    static func recover(_ db: Database) throws {
        try db.execute(sql: """
            UPDATE deferred_runs SET claimed = 0, previous_run = COALESCE(run_id, previous_run),
            attempt = attempt + (run_id IS NOT NULL), run_id = NULL WHERE claimed = 1
            """)
    }

    /// In arrival order (the position is the event's `seq`: a retry written after a later run
    /// began to wait still goes before it); only a hold key's first row (claimed or not) may be
    /// taken. Rows of
    /// integrations at their limit now (`blocked`) are not even read, so that a long queue of
    /// one integration does not hide the runs of the others behind it.
    static func claim(now: Date, limit: Int, eventIDs: Set<String>?, blocked: Set<String>, admit: (DeferredRun) -> Bool,
                      _ db: Database) throws -> [(run: DeferredRun, event: StoredEvent)] {
        var sql = """
            SELECT d.*, e.record, e.state AS event_state, e.attempt AS event_attempt FROM deferred_runs d JOIN events e ON e.id = d.event_id
            WHERE d.claimed = 0 AND d.due_at <= ?
            AND (d.hold_key IS NULL OR NOT EXISTS (SELECT 1 FROM deferred_runs h WHERE h.hold_key = d.hold_key
                 AND (h.position < d.position OR (h.position = d.position AND h.id < d.id))))
            """
        var arguments: StatementArguments = [now.timeIntervalSince1970]
        if let eventIDs {
            sql += " AND d.event_id IN (\(Array(repeating: "?", count: eventIDs.count).joined(separator: ",")))"
            _ = arguments.append(contentsOf: StatementArguments(Array(eventIDs)))
        }
        if !blocked.isEmpty {
            sql += " AND d.integration NOT IN (\(Array(repeating: "?", count: blocked.count).joined(separator: ",")))"
            _ = arguments.append(contentsOf: StatementArguments(Array(blocked)))
        }
        sql += " ORDER BY d.position, d.id LIMIT ?"
        _ = arguments.append(contentsOf: [limit * 2])
        let rows = try Row.fetchAll(db, sql: sql, arguments: arguments)
        var claimed: [(run: DeferredRun, event: StoredEvent)] = []
        let mark = try db.cachedStatement(sql: "UPDATE deferred_runs SET claimed = 1 WHERE id = ?")
        for row in rows where claimed.count < limit {
            var run = deferredRun(row)
            let event: Event
            do { event = try Event.fromRecord(row["record"]) } catch {
                // Its event cannot be read (as in the event claim): dropped and said so.
                SQLiteStore.logger.error("a deferred run's event cannot be read; the run is dropped", metadata: ["event": "\(run.eventID)", "error": "\(error.message)"])
                try apply(.release(id: run.id, eventID: run.eventID), db)
                continue
            }
            guard admit(run) else { continue }
            try mark.execute(arguments: [run.id])
            run.claimed = true
            claimed.append((run, StoredEvent(event: event, state: StoredEvent.State(rawValue: row["event_state"]) ?? .waiting, attempt: row["event_attempt"])))
        }
        return claimed
    }

    static func list(eventID: String?, limit: Int, _ db: Database) throws -> [DeferredRun] {
        if let eventID {
            return try Row.fetchAll(db, sql: "SELECT * FROM deferred_runs WHERE event_id = ? ORDER BY position, id", arguments: [eventID]).map(deferredRun)
        }
        return try Row.fetchAll(db, sql: "SELECT * FROM deferred_runs ORDER BY position, id LIMIT ?", arguments: [limit]).map(deferredRun)
    }

    static func deferredRun(_ row: Row) -> DeferredRun {
        var run = DeferredRun(id: row["id"], eventID: row["event_id"], integration: row["integration"], trigger: row["trigger"], holdKey: row["hold_key"],
                    kind: DeferredRun.Kind(rawValue: row["kind"]) ?? .retry, reason: row["reason"], dueAt: Date(timeIntervalSince1970: row["due_at"]),
                    attempt: row["attempt"], tries: row["tries"], previousRun: row["previous_run"], requestedBy: row["requested_by"],
                    claimed: (row["claimed"] as Int) != 0)
        run.position = row["position"]
        return run
    }
}
