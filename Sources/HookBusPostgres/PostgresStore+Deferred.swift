public import Foundation
public import HookBus
import PostgresNIO

extension PostgresStore {
    /// Due deferred runs, claimed by this node (`PostgresDeferredRows.claim`).
    public func claimDeferred(now: Date, limit: Int, eventIDs: Set<String>?, blocked: Set<String>,
                              admit: @escaping @Sendable (DeferredRun) -> Bool) async throws -> [(run: DeferredRun, event: StoredEvent)] {
        let me = node.id
        let logger = self.logger
        let claimed = try await retryingConflicts("claim deferred runs") {
            try await self.database.transaction("claim deferred runs") { connection in
                try await PostgresDeferredRows.claim(now: now, limit: limit, eventIDs: eventIDs, blocked: blocked, admit: admit, node: me, connection, logger: logger)
            }
        }
        return claimed.compactMap { row in row.event.map { (row.run, $0) } }
    }

    public func deferredRuns(eventID: String?, limit: Int) async throws -> [DeferredRun] {
        let logger = self.logger
        return try await database.call("list deferred runs") { client in try await PostgresDeferredRows.list(eventID: eventID, limit: limit, client, logger: logger) }
    }

    /// Triggers that already finished for an event (any outcome but interrupted), and those
    /// with a deferred run.
    public func finishedTriggers(eventID: String) async throws -> Set<String> {
        try await database.call("read an event's finished triggers") { client in
            var triggers: Set<String> = []
            let rows = try await client.query("""
                SELECT integration || '/' || trigger FROM runs WHERE event_id = \(eventID) AND outcome NOT IN ('interrupted', 'running')
                UNION SELECT integration || '/' || trigger FROM deferred_runs WHERE event_id = \(eventID)
                """, logger: self.logger)
            for try await trigger in rows.decode(String.self) { triggers.insert(trigger) }
            return triggers
        }
    }
}
