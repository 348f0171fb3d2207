import Foundation
import GRDB

extension SQLiteStore {
    /// One page of events for the console, newest first, with how their runs went.
    ///
    /// Paging is by the event's `seq` (the cursor), never OFFSET, and nothing counts the whole
    /// store: a page costs the rows it shows plus those its filters pass over. Test Action
    /// requests (hook `action`) are not events of the bus and are left out (their runs are on
    /// the Runs page).
    public func eventPage(_ filter: EventFilter) async throws -> [EventSummary] {
        var conditions = ["e.hook != 'action'"]
        var arguments: [(any DatabaseValueConvertible)?] = []
        func add(_ condition: String, _ values: [(any DatabaseValueConvertible)?]) {
            conditions.append(condition)
            arguments.append(contentsOf: values)
        }
        if let hook = filter.hook { add("e.hook = ?", [hook]) }
        if let kind = filter.sourceKind { add("e.source_kind = ?", [kind]) }
        if let name = filter.sourceName { add("e.source_name = ?", [name]) }
        if let state = filter.state {
            // Repeats the partial dispatch index's condition word for word so that unfinished
            // states are an index range (see migration v5).
            add(state == "done" ? "e.state = ?" : "e.state <> 'done' AND e.state = ?", [state])
        }
        let keys = filter.subjectKeys
        if !keys.isEmpty { add("e.subject IN (\(Array(repeating: "?", count: keys.count).joined(separator: ", ")))", keys) }
        if let since = filter.since { add("e.received_at >= ?", [since.timeIntervalSince1970]) }
        if let until = filter.until { add("e.received_at < ?", [until.timeIntervalSince1970]) }
        if let before = filter.before { add("e.seq < ?", [before]) }
        if let text = filter.text, !text.isEmpty { add(#"e.record LIKE ? ESCAPE '\'"#, ["%" + Self.likeEscaped(text) + "%"]) }
        var runConditions: [String] = []
        var runArguments: [(any DatabaseValueConvertible)?] = []
        if let outcome = filter.outcome {
            if outcome == EventFilter.anyFailure {
                let failures = RunOutcome.allCases.filter(\.isFailure).map(\.rawValue)
                runConditions.append("r.outcome IN (\(failures.map { _ in "?" }.joined(separator: ", ")))")
                runArguments.append(contentsOf: failures)
            } else {
                runConditions.append("r.outcome = ?")
                runArguments.append(outcome)
            }
        }
        if let trigger = filter.trigger {
            runConditions.append("(r.trigger = ? OR r.integration || '/' || r.trigger = ?)")
            runArguments.append(contentsOf: [trigger, trigger])
        }
        if !runConditions.isEmpty {
            add("EXISTS (SELECT 1 FROM runs r WHERE r.event_id = e.id AND \(runConditions.joined(separator: " AND ")))", runArguments)
        }
        let sql = """
            SELECT e.seq, e.id, e.hook, e.source_kind, e.source_name, e.trigger, e.received_at, e.state, e.attempt, e.subject
            FROM events e WHERE \(conditions.joined(separator: " AND ")) ORDER BY e.seq DESC LIMIT ?
            """
        arguments.append(filter.limit)
        let statementArguments = StatementArguments(arguments)
        return try await writer.read { db in
            var page = try Row.fetchAll(db, sql: sql, arguments: statementArguments).map { row in
                EventSummary(cursor: row["seq"], id: row["id"], hook: row["hook"], sourceKind: row["source_kind"], sourceName: row["source_name"],
                             trigger: row["trigger"], receivedAt: Date(timeIntervalSince1970: row["received_at"]), state: row["state"],
                             attempt: row["attempt"], subject: row["subject"])
            }
            guard !page.isEmpty else { return page }
            // The page's runs by outcome, through the runs' event index.
            let placeholders = Array(repeating: "?", count: page.count).joined(separator: ", ")
            let counts = try Row.fetchAll(db, sql: "SELECT event_id, outcome, COUNT(*) AS n FROM runs WHERE event_id IN (\(placeholders)) GROUP BY event_id, outcome",
                                          arguments: StatementArguments(page.map(\.id)))
            var byEvent: [String: [String: Int]] = [:]
            for row in counts { byEvent[row["event_id"], default: [:]][row["outcome"]] = row["n"] }
            for index in page.indices { page[index].outcomes = byEvent[page[index].id] ?? [:] }
            return page
        }
    }

    /// The distinct values a filter can take, for the console's choices: hooks and webhook
    /// endpoints seen in the newest `window` events (not the whole store, which could be large).
    public func recentSources(window: Int = 5_000) async throws -> (hooks: [String], endpoints: [String]) {
        try await writer.read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT DISTINCT hook, source_name FROM (SELECT hook, source_kind, source_name FROM events WHERE hook != 'action' ORDER BY seq DESC LIMIT ?)
                """, arguments: [window])
            let hooks = Set(rows.map { $0["hook"] as String })
            let endpoints = Set(rows.compactMap { $0["source_name"] as String? })
            return (hooks.sorted(), endpoints.sorted())
        }
    }

    /// `text` with LIKE's wildcards (and the escape character) escaped.
    static func likeEscaped(_ text: String) -> String {
        var escaped = ""
        for character in text {
            if character == "%" || character == "_" || character == "\\" { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }
}
