import Foundation
import HookBus
import Logging
import PostgresNIO

/// The SQL of deferred runs (`DeferredRun`) in the PostgreSQL store, as `DeferredRows` is for
/// SQLite: the changes a run's end makes, the claim, the listing. Claimed rows carry their
/// node (`owner`), so a dead node's claims wait again after a sweep; only the owner releases
/// or reschedules a row.
///
/// `position` is the event's `seq` (arrival order across the store, what `claim` orders by);
/// `hold_position` is its place among the events about its subject (`subject_position`,
/// commit order per subject across nodes), which is what rows of one hold key are ordered by.
enum PostgresDeferredRows {
    static func apply(_ change: DeferredChange, node: String, _ connection: PostgresConnection, logger: Logger) async throws {
        switch change {
        case let .insert(run):
            try await connection.query("""
                INSERT INTO deferred_runs (event_id, integration, trigger, hold_key, kind, reason, due_at, attempt, tries, previous_run, requested_by, position, hold_position)
                SELECT \(run.eventID), \(run.integration), \(run.trigger), \(run.holdKey), \(run.kind.rawValue), \(PostgresText.storable(run.reason)), \(run.dueAt.timeIntervalSince1970),
                    \(run.attempt), \(run.tries), \(run.previousRun), \(run.requestedBy), e.seq, COALESCE(e.subject_position, e.seq)
                FROM events e WHERE e.id = \(run.eventID)
                """, logger: logger)
        case let .reschedule(run):
            try await connection.query("""
                UPDATE deferred_runs SET kind = \(run.kind.rawValue), reason = \(PostgresText.storable(run.reason)), due_at = \(run.dueAt.timeIntervalSince1970), attempt = \(run.attempt),
                    tries = \(run.tries), previous_run = \(run.previousRun), claimed = false, owner = NULL, run_id = NULL
                WHERE id = \(run.id) AND owner = \(node)
                """, logger: logger)
        case let .release(id, eventID):
            try await connection.query("DELETE FROM deferred_runs WHERE id = \(id) AND owner = \(node)", logger: logger)
            // The last deferred run of an event that is only waiting for them ends it.
            let now = Date().timeIntervalSince1970
            try await connection.query("""
                UPDATE events SET state = 'done', completed_at = \(now) WHERE id = \(eventID) AND state = 'waiting'
                AND NOT EXISTS (SELECT 1 FROM deferred_runs WHERE event_id = \(eventID))
                """, logger: logger)
        }
    }

    /// Due rows in arrival order, only a hold key's first row (claimed or not), passing over
    /// `blocked` integrations; `admit` decides in order, and the rows it admits are claimed by
    /// `node` in the same transaction. `SKIP LOCKED`: nodes claiming at once take different rows.
    /// A node whose lease is gone (no row) claims nothing, as with events.
    static func claim(now: Date, limit: Int, eventIDs: Set<String>?, blocked: Set<String>, admit: @Sendable (DeferredRun) -> Bool, node: String,
                      _ connection: PostgresConnection, logger: Logger) async throws -> [(run: DeferredRun, unreadable: Bool, event: StoredEvent?)] {
        let ids = eventIDs.map(Array.init)
        let blockedList = Array(blocked)
        let rows = try await connection.query("""
            SELECT \(unescaped: columns), e.record, e.state, e.attempt FROM deferred_runs d JOIN events e ON e.id = d.event_id
            WHERE NOT d.claimed AND d.due_at <= \(now.timeIntervalSince1970)
            AND (d.hold_key IS NULL OR NOT EXISTS (SELECT 1 FROM deferred_runs h WHERE h.hold_key = d.hold_key
                 AND (h.hold_position < d.hold_position OR (h.hold_position = d.hold_position AND h.id < d.id))))
            AND (\(ids)::TEXT[] IS NULL OR d.event_id = ANY(\(ids)::TEXT[]))
            AND NOT (d.integration = ANY(\(blockedList)::TEXT[]))
            AND EXISTS (SELECT 1 FROM nodes n WHERE n.id = \(node))
            ORDER BY d.position, d.id LIMIT \(limit * 2)
            FOR UPDATE OF d SKIP LOCKED
            """, logger: logger)
        var candidates: [(DeferredRun, String, String, Int64)] = []
        for try await row in rows {
            let run = try deferredRun(row)
            let cells = row.makeRandomAccess()
            let record = try cells[columnCount].decode(String.self)
            let state = try cells[columnCount + 1].decode(String.self)
            let attempt = try cells[columnCount + 2].decode(Int64.self)
            candidates.append((run, record, state, attempt))
        }
        var claimed: [(run: DeferredRun, unreadable: Bool, event: StoredEvent?)] = []
        for (candidate, record, state, attempt) in candidates where claimed.count < limit {
            var run = candidate
            let event: Event
            do { event = try Event.fromRecord(record) } catch {
                logger.error("a deferred run's event cannot be read; the run is dropped", metadata: ["event": "\(run.eventID)", "error": "\(error.message)"])
                try await connection.query("DELETE FROM deferred_runs WHERE id = \(run.id)", logger: logger)
                continue
            }
            guard admit(run) else { continue }
            try await connection.query("UPDATE deferred_runs SET claimed = true, owner = \(node) WHERE id = \(run.id)", logger: logger)
            run.claimed = true
            claimed.append((run, false, StoredEvent(event: event, state: StoredEvent.State(rawValue: state) ?? .waiting, attempt: Int(attempt))))
        }
        return claimed
    }

    static func list(eventID: String?, limit: Int, _ client: PostgresClient, logger: Logger) async throws -> [DeferredRun] {
        let query: PostgresQuery = eventID.map { "SELECT \(unescaped: columns) FROM deferred_runs d WHERE d.event_id = \($0) ORDER BY d.position, d.id" }
            ?? "SELECT \(unescaped: columns) FROM deferred_runs d ORDER BY d.position, d.id LIMIT \(limit)"
        var runs: [DeferredRun] = []
        for try await row in try await client.query(query, logger: logger) { runs.append(try deferredRun(row)) }
        return runs
    }

    static let columns = "d.id, d.event_id, d.integration, d.trigger, d.hold_key, d.kind, d.reason, d.due_at, d.attempt, d.tries, d.previous_run, d.requested_by, d.claimed, d.position"
    static let columnCount = 14

    static func deferredRun(_ row: PostgresRow) throws -> DeferredRun {
        let (id, eventID, integration, trigger, holdKey, kind, reason, dueAt, attempt, tries, previousRun, requestedBy, claimed, position) =
            try row.decode((Int64, String, String, String, String?, String, String, Double, Int64, Int64, Int64?, String?, Bool, Int64).self)
        var run = DeferredRun(id: id, eventID: eventID, integration: integration, trigger: trigger, holdKey: holdKey, kind: DeferredRun.Kind(rawValue: kind) ?? .retry,
                              reason: reason, dueAt: Date(timeIntervalSince1970: dueAt), attempt: Int(attempt), tries: Int(tries), previousRun: previousRun,
                              requestedBy: requestedBy, claimed: claimed)
        run.position = position
        return run
    }
}
