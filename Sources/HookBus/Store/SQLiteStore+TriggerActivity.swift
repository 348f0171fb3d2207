import Foundation
import GRDB

extension SQLiteStore {
    /// The newest runs of a trigger, read along the `runs_trigger (trigger, id)` index newest
    /// first: the cost is `limit` rows whatever the store's size.
    public func recentRunTimings(integration: String, trigger: String, limit: Int) async throws -> [RunTiming] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: """
                SELECT outcome, started_at, ended_at FROM runs WHERE trigger = ? AND integration = ? ORDER BY id DESC LIMIT ?
                """, arguments: [trigger, integration, limit]).map { row in
                let started: Double = row["started_at"]
                let ended: Double? = row["ended_at"]
                return RunTiming(outcome: row["outcome"], startedAt: Date(timeIntervalSince1970: started), duration: ended.map { $0 - started })
            }
        }
    }
}
