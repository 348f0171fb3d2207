public import Foundation
public import HookBus
import PostgresNIO

extension PostgresStore {
    /// One page of events for the console, newest first (see `EventFilter`). PostgreSQL keeps
    /// statistics (autovacuum's ANALYZE), so unlike the SQLite store (`EventPageQuery`) the
    /// statement leaves the choice of index to the planner; a text search still reads at most
    /// `EventFilter.textSearchBudget` events per page.
    public func eventPage(_ filter: EventFilter) async throws -> EventPage {
        var builder = QueryBuilder()
        builder.conditions.append("e.hook <> 'action'")
        if let hook = filter.hook { builder.when { "e.hook = \($0.bind(hook))" } }
        if let kind = filter.sourceKind { builder.when { "e.source_kind = \($0.bind(kind))" } }
        if let name = filter.sourceName { builder.when { "e.source_name = \($0.bind(name))" } }
        if let state = filter.state { builder.when { "e.state = \($0.bind(state))" } }
        let keys = filter.subjectKeys
        if !keys.isEmpty { builder.when { "e.subject = ANY(\($0.bind(keys)))" } }
        if let since = filter.since { builder.when { "e.received_at >= \($0.bind(since.timeIntervalSince1970))" } }
        if let until = filter.until { builder.when { "e.received_at < \($0.bind(until.timeIntervalSince1970))" } }
        if let before = filter.before { builder.when { "e.seq < \($0.bind(before))" } }
        if let after = filter.after { builder.when { "e.seq > \($0.bind(after))" } }
        var runConditions: [String] = []
        if let outcome = filter.outcome {
            let outcomes = outcome == EventFilter.anyFailure ? RunOutcome.allCases.filter(\.isFailure).map(\.rawValue) : [outcome]
            runConditions.append("r.outcome = ANY(\(builder.bind(outcomes)))")
        }
        if let trigger = filter.trigger {
            // `Action` or `Integration/Action` (an integration's name may hold a slash too).
            runConditions.append("(r.trigger = \(builder.bind(trigger)) OR r.integration || '/' || r.trigger = \(builder.bind(trigger)))")
        }
        if !runConditions.isEmpty {
            builder.conditions.append("EXISTS (SELECT 1 FROM runs r WHERE r.event_id = e.id AND \(runConditions.joined(separator: " AND ")))")
        }
        var searchFloor: Int64?
        if let pattern = filter.textPattern {
            builder.when { #"e.record ILIKE \#($0.bind(pattern)) ESCAPE '\'"# }
            var top = filter.before ?? 0
            if filter.before == nil { top = Int64(try await scalar("find the newest event", "SELECT COALESCE(MAX(seq), 0) FROM events")) + 1 }
            let floor = top - Int64(EventFilter.textSearchBudget)
            if floor > 1 {
                builder.when { "e.seq >= \($0.bind(floor))" }
                searchFloor = floor
            }
        }
        let limit = builder.bind(filter.limit)
        let query = builder.query("""
            SELECT e.seq, e.id, e.hook, e.source_kind, e.source_name, e.trigger, e.received_at, e.state, e.attempt, e.subject
            FROM events e \(builder.whereClause) ORDER BY e.seq DESC LIMIT \(limit)
            """)
        var rows: [EventSummary] = try await database.call("list events for the console") { client in
            var rows: [EventSummary] = []
            for try await (seq, id, hook, kind, name, trigger, received, state, attempt, subject) in try await client.query(query, logger: self.logger)
                .decode((Int64, String, String, String, String?, String?, Double, String, Int64, String?).self) {
                rows.append(EventSummary(cursor: seq, id: id, hook: hook, sourceKind: kind, sourceName: name, trigger: trigger,
                                         receivedAt: Date(timeIntervalSince1970: received), state: state, attempt: Int(attempt), subject: subject))
            }
            return rows
        }
        let searchedDownTo = rows.count < filter.limit ? searchFloor : nil
        guard !rows.isEmpty else { return EventPage(rows: rows, searchedDownTo: searchedDownTo) }
        let ids = rows.map(\.id)
        let counts: [String: [String: Int]] = try await database.call("count the page's runs") { client in
            var counts: [String: [String: Int]] = [:]
            for try await (eventID, outcome, count) in try await client.query("""
                SELECT event_id, outcome, COUNT(*) FROM runs WHERE event_id = ANY(\(ids)) GROUP BY event_id, outcome
                """, logger: self.logger).decode((String, String, Int64).self) {
                counts[eventID, default: [:]][outcome] = Int(count)
            }
            return counts
        }
        for index in rows.indices { rows[index].outcomes = counts[rows[index].id] ?? [:] }
        return EventPage(rows: rows, searchedDownTo: searchedDownTo)
    }

    public func recentSources(window: Int) async throws -> (hooks: [String], endpoints: [String]) {
        try await database.call("list recent sources") { client in
            var hooks: Set<String> = []
            var endpoints: Set<String> = []
            for try await (hook, name) in try await client.query("""
                SELECT DISTINCT hook, source_name FROM (SELECT hook, source_name FROM events WHERE hook <> 'action' ORDER BY seq DESC LIMIT \(window)) recent
                """, logger: self.logger).decode((String, String?).self) {
                hooks.insert(hook)
                if let name { endpoints.insert(name) }
            }
            return (hooks.sorted(), endpoints.sorted())
        }
    }

    /// The newest runs of a trigger since `since`: run ids start with their millisecond, so
    /// `id >= since << 16` bounds the range of `runs_trigger (trigger, id)` by time.
    public func recentRunTimings(integration: String, trigger: String, since: Date, limit: Int) async throws -> [RunTiming] {
        let lowestID = Int64(since.timeIntervalSince1970 * 1000) << 16
        let start = since.timeIntervalSince1970
        return try await database.call("read a trigger's recent runs") { client in
            var timings: [RunTiming] = []
            for try await (outcome, started, ended) in try await client.query("""
                SELECT outcome, started_at, ended_at FROM runs WHERE trigger = \(trigger) AND id >= \(lowestID) AND integration = \(integration) AND started_at >= \(start)
                ORDER BY id DESC LIMIT \(limit)
                """, logger: self.logger).decode((String, Double, Double?).self) {
                timings.append(RunTiming(outcome: outcome, startedAt: Date(timeIntervalSince1970: started), duration: ended.map { $0 - started }))
            }
            return timings
        }
    }
}
