public import Foundation
import GRDB

extension SQLiteStore {
    /// The newest runs of a trigger since `since`, read as a range of the `runs_trigger
    /// (trigger, id)` index newest first: run ids start with their millisecond (`RunIDs`), so
    /// `id >= since << 16` bounds the range by time, and the cost is the runs in the window (at
    /// most `limit`) whatever the store's size or the trigger's history.
    public func recentRunTimings(integration: String, trigger: String, since: Date, limit: Int) async throws -> [RunTiming] {
        let lowestID = Int64(since.timeIntervalSince1970 * 1000) << 16
        return try await writer.read { db in
            try Row.fetchAll(db, sql: """
                SELECT outcome, started_at, ended_at FROM runs WHERE trigger = ? AND id >= ? AND integration = ? AND started_at >= ?
                ORDER BY id DESC LIMIT ?
                """, arguments: [trigger, lowestID, integration, since.timeIntervalSince1970, limit]).map { row in
                let started: Double = row["started_at"]
                let ended: Double? = row["ended_at"]
                return RunTiming(outcome: row["outcome"], startedAt: Date(timeIntervalSince1970: started), duration: ended.map { $0 - started })
            }
        }
    }
}
