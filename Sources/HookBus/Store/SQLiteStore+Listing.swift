import Foundation
import GRDB

extension SQLiteStore {
    /// Below this many candidate rows (counted in an index, never more), a filter's own index
    /// leads the page instead of the walk from the newest event. Measured on a store of one
    /// million events (`hookbus-bench console`): reading 5,000 candidates and sorting them
    /// costs about 30 ms; and a filter with more matches than that among a million is met
    /// often enough that the walk from the newest event fills a page quickly.
    static let narrowBelow = 5_000

    /// One page of events for the console, newest first, with how their runs went.
    ///
    /// Paging is by the event's `seq` (the cursor), never OFFSET, and nothing counts the whole
    /// store: a page costs the rows it shows plus those its filters pass over. Test Action
    /// requests (hook `action`) are not events of the bus and are left out (their runs are on
    /// the Runs page).
    public func eventPage(_ filter: EventFilter) async throws -> EventPage {
        try await eventPage(filter, narrowBelow: Self.narrowBelow)
    }

    func eventPage(_ filter: EventFilter, narrowBelow: Int, textSearchBudget: Int = EventFilter.textSearchBudget) async throws -> EventPage {
        try await writer.read { db in
            let query = try EventPageQuery(filter, narrowBelow: narrowBelow, textSearchBudget: textSearchBudget, db)
            var page = try Row.fetchAll(db, sql: query.sql, arguments: query.arguments).map { row in
                EventSummary(cursor: row["seq"], id: row["id"], hook: row["hook"], sourceKind: row["source_kind"], sourceName: row["source_name"],
                             trigger: row["trigger"], receivedAt: Date(timeIntervalSince1970: row["received_at"]), state: row["state"],
                             attempt: row["attempt"], subject: row["subject"])
            }
            // A text search that stopped at its budget says where, unless the page is full.
            let searchedDownTo = page.count < filter.limit ? query.searchFloor : nil
            guard !page.isEmpty else { return EventPage(rows: page, searchedDownTo: searchedDownTo) }
            // The page's runs by outcome, through the runs' event index.
            let placeholders = Array(repeating: "?", count: page.count).joined(separator: ", ")
            let counts = try Row.fetchAll(db, sql: "SELECT event_id, outcome, COUNT(*) AS n FROM runs INDEXED BY runs_event WHERE event_id IN (\(placeholders)) GROUP BY event_id, outcome",
                                          arguments: StatementArguments(page.map(\.id)))
            var byEvent: [String: [String: Int]] = [:]
            for row in counts { byEvent[row["event_id"], default: [:]][row["outcome"]] = row["n"] }
            for index in page.indices { page[index].outcomes = byEvent[page[index].id] ?? [:] }
            return EventPage(rows: page, searchedDownTo: searchedDownTo)
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
}

/// The statement of one Events page, and which index leads it.
///
/// The store has no statistics (no ANALYZE), so SQLite's planner guesses, and on a large store
/// its guesses were ruinous: the runs filter looked up each event's runs through the outcome
/// index (every failed run read again for every event: minutes for one page of a million
/// events), and a rare hook, endpoint or time range read every event. So the statement names
/// its index (`INDEXED BY`), chosen here:
/// - `state` of an unfinished event, then `subject`: their index ranges are small.
/// - A run filter (`outcome`, `trigger`) or a time range with fewer than `narrowBelow`
///   candidates, counted in its index: those candidates, sorted.
/// - `hook`, endpoint, a source other than `hook`: that index newest first.
/// - Otherwise the events newest first (`seq`, the table itself).
/// A time range that this walk would reach only late is also given as a range of `seq`
/// (`arrivalBounds`).
/// A filter the leading index does not answer is checked on each row it gives; a run filter
/// looks up the event's runs through their event index.
struct EventPageQuery {
    /// The index that leads the page.
    enum Access: Equatable {
        case unfinishedState, subject, runs, window, hook, endpoint, sourceKind, arrivalOrder
    }

    let access: Access
    let sql: String
    let arguments: StatementArguments
    /// The lowest `seq` a text search reads for this page (`EventFilter.textSearchBudget`), when
    /// the budget bounds it.
    let searchFloor: Int64?

    init(_ filter: EventFilter, narrowBelow: Int, textSearchBudget: Int = EventFilter.textSearchBudget, _ db: Database) throws {
        var conditions = ["e.hook != 'action'"]
        var values: [(any DatabaseValueConvertible)?] = []
        func add(_ condition: String, _ arguments: [(any DatabaseValueConvertible)?]) {
            conditions.append(condition)
            values.append(contentsOf: arguments)
        }
        if let hook = filter.hook { add("e.hook = ?", [hook]) }
        if let kind = filter.sourceKind {
            // Repeats the partial source index's condition word for word (migration v10).
            add(kind == "hook" ? "e.source_kind = ?" : "e.source_kind <> 'hook' AND e.source_kind = ?", [kind])
        }
        if let name = filter.sourceName { add("e.source_name = ?", [name]) }
        let unfinished = filter.state.map { $0 != "done" } ?? false
        if let state = filter.state {
            // Repeats the partial dispatch index's condition word for word so that unfinished
            // states are an index range (see migration v5).
            add(unfinished ? "e.state <> 'done' AND e.state = ?" : "e.state = ?", [state])
        }
        let keys = filter.subjectKeys
        if !keys.isEmpty { add("e.subject IN (\(Self.placeholders(keys.count)))", keys) }
        let since = filter.since?.timeIntervalSince1970
        let until = filter.until?.timeIntervalSince1970
        if let since { add("e.received_at >= ?", [since]) }
        if let until { add("e.received_at < ?", [until]) }
        if let before = filter.before { add("e.seq < ?", [before]) }
        if let after = filter.after { add("e.seq > ?", [after]) }
        if let pattern = filter.textPattern { add(#"e.record LIKE ? ESCAPE '\'"#, [pattern]) }

        let runs = RunConditions(filter)
        let access: Access
        var runsIndex = ""
        if unfinished {
            access = .unfinishedState
        } else if !keys.isEmpty {
            access = .subject
        } else {
            var narrowest: (access: Access, count: Int)?
            if let (index, count) = try runs.narrowestIndex(below: narrowBelow, db) {
                narrowest = (.runs, count)
                runsIndex = index
            }
            if since != nil || until != nil {
                let count = try Self.windowCount(since: since, until: until, below: narrowBelow, db)
                if count < narrowBelow, count < narrowest?.count ?? .max { narrowest = (.window, count) }
            }
            if let narrowest {
                access = narrowest.access
            } else if filter.hook != nil {
                access = .hook
            } else if filter.sourceName != nil {
                access = .endpoint
            } else if let kind = filter.sourceKind, kind != "hook" {
                access = .sourceKind
            } else {
                access = .arrivalOrder
            }
        }

        let walks = [.arrivalOrder, .hook, .endpoint, .sourceKind].contains(access)
        if walks, since != nil || until != nil,
           let bounds = try Self.arrivalBounds(since: since, until: until, before: filter.before, db) {
            add("e.seq BETWEEN ? AND ?", [bounds.lowest, bounds.highest])
        }
        // A text search that walks the store reads at most its budget of events per page (the
        // narrow accesses read a few thousand candidates at most already).
        var searchFloor: Int64?
        if walks, let text = filter.text, !text.isEmpty {
            let top = try filter.before ?? ((Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM events") ?? 0) + 1)
            let floor = top - Int64(textSearchBudget)
            if floor > 1 {
                add("e.seq >= ?", [floor])
                searchFloor = floor
            }
        }
        self.searchFloor = searchFloor

        let columns = "e.seq, e.id, e.hook, e.source_kind, e.source_name, e.trigger, e.received_at, e.state, e.attempt, e.subject"
        var prefix = ""
        var prefixValues: [(any DatabaseValueConvertible)?] = []
        let from: String
        switch access {
        case .runs:
            // The few events with such runs, found through the runs' index, then sorted.
            prefix = "WITH matched(event_id) AS MATERIALIZED (SELECT DISTINCT r.event_id FROM runs r INDEXED BY \(runsIndex) WHERE \(runs.conditions)) "
            prefixValues = runs.values
            from = "matched m CROSS JOIN events e ON e.id = m.event_id"
        default:
            if !runs.isEmpty {
                add("EXISTS (SELECT 1 FROM runs r INDEXED BY runs_event WHERE r.event_id = e.id AND \(runs.conditions))", runs.values)
            }
            from = switch access {
            case .unfinishedState: "events e INDEXED BY events_state"
            case .subject: "events e INDEXED BY events_subject"
            case .window: "events e INDEXED BY events_received"
            case .hook: "events e INDEXED BY events_hook"
            case .endpoint: "events e INDEXED BY events_endpoint"
            case .sourceKind: "events e INDEXED BY events_source"
            case .arrivalOrder, .runs: "events e NOT INDEXED"
            }
        }
        self.access = access
        sql = "\(prefix)SELECT \(columns) FROM \(from) WHERE \(conditions.joined(separator: " AND ")) ORDER BY e.seq DESC LIMIT ?"
        arguments = StatementArguments(prefixValues + values + [filter.limit])
    }

    /// Events received in the range, counted in their time index up to `below`.
    static func windowCount(since: Double?, until: Double?, below: Int, _ db: Database) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM (SELECT 1 FROM events INDEXED BY events_received WHERE received_at >= ? AND received_at < ? LIMIT ?)",
                         arguments: [since ?? -Double.greatestFiniteMagnitude, until ?? Double.greatestFiniteMagnitude, below]) ?? 0
    }

    /// Below this many events in a time range, its first and last `seq` are always looked up
    /// (an index-only read of the range: about 30 ms for 250,000 on the benchmark's machine).
    static let boundedRangeBelow = 250_000

    /// The lowest and highest `seq` of the events received in the range, when knowing them
    /// saves the walk from the newest event more than it costs: a range that ends long ago
    /// (`until`) is otherwise reached only after reading every event received since, and a
    /// page that does not fill reads on past its start to the oldest event. Exact, whatever
    /// order events were stored in; `(1, 0)` when the range holds no event, nil when the walk
    /// is cheaper.
    ///
    /// The walk reads whole rows (about 0.44 µs each on a million events) and the bounds read
    /// the range's time index entries (about 0.12 µs each), so they are looked up when the
    /// events to pass over are more than a quarter of the range, or the range is small.
    static func arrivalBounds(since: Double?, until: Double?, before: Int64?, _ db: Database) throws -> (lowest: Int64, highest: Int64)? {
        let range = "FROM events INDEXED BY events_received WHERE received_at >= ? AND received_at < ?"
        let arguments: StatementArguments = [since ?? -Double.greatestFiniteMagnitude, until ?? Double.greatestFiniteMagnitude]
        // Where the range lies in arrival order, as its newest and oldest events say: an
        // estimate of its size and of what the walk passes over before it.
        guard let newest = try Int64.fetchOne(db, sql: "SELECT seq \(range) ORDER BY received_at DESC LIMIT 1", arguments: arguments),
              let oldest = try Int64.fetchOne(db, sql: "SELECT seq \(range) ORDER BY received_at LIMIT 1", arguments: arguments)
        else { return (1, 0) }
        let top = min(Double(before ?? .max), Double(try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM events") ?? 0) + 1)
        let size = max(0, Double(newest) - Double(oldest))
        let passedOver = max(0, top - 1 - Double(newest))
        guard size < Double(boundedRangeBelow) || passedOver * 4 > size else { return nil }
        guard let row = try Row.fetchOne(db, sql: "SELECT MIN(seq) AS lowest, MAX(seq) AS highest \(range)", arguments: arguments),
              let lowest = row["lowest"] as Int64?, let highest = row["highest"] as Int64?
        else { return (1, 0) }
        return (lowest, highest)
    }

    static func placeholders(_ count: Int) -> String {
        Array(repeating: "?", count: count).joined(separator: ", ")
    }
}

/// The conditions a run `r` must meet for the page's run filters, written so that the runs'
/// trigger and outcome indexes can serve them.
struct RunConditions {
    private var parts: [String] = []
    private(set) var values: [(any DatabaseValueConvertible)?] = []
    private var outcomes: [String] = []
    private var actions: [String] = []

    init(_ filter: EventFilter) {
        if let outcome = filter.outcome {
            outcomes = outcome == EventFilter.anyFailure ? RunOutcome.allCases.filter(\.isFailure).map(\.rawValue) : [outcome]
            parts.append("r.outcome IN (\(EventPageQuery.placeholders(outcomes.count)))")
            values.append(contentsOf: outcomes)
        }
        if let trigger = filter.trigger {
            // `Action` or `Integration/Action`: the action is the whole name or what follows
            // one of its slashes (an integration's name may hold one too). The IN lets the
            // trigger index find them; the second condition says which is meant.
            actions = [trigger] + trigger.indices.filter { trigger[$0] == "/" }.map { String(trigger[trigger.index(after: $0)...]) }
            parts.append("r.trigger IN (\(EventPageQuery.placeholders(actions.count))) AND (r.trigger = ? OR r.integration || '/' || r.trigger = ?)")
            values.append(contentsOf: actions + [trigger, trigger])
        }
    }

    var isEmpty: Bool { parts.isEmpty }
    var conditions: String { parts.joined(separator: " AND ") }

    /// The runs index that holds the fewest candidates for these conditions, when it holds
    /// fewer than `below` (counted in the index alone, at most `below` entries each).
    func narrowestIndex(below: Int, _ db: Database) throws -> (index: String, count: Int)? {
        var best: (index: String, count: Int)?
        for (index, column, keys) in [("runs_outcome", "outcome", outcomes), ("runs_trigger", "trigger", actions)] where !keys.isEmpty {
            let arguments: [(any DatabaseValueConvertible)?] = keys + [below]
            let count = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM (SELECT 1 FROM runs INDEXED BY \(index) WHERE \(column) IN (\(EventPageQuery.placeholders(keys.count))) LIMIT ?)",
                                         arguments: StatementArguments(arguments)) ?? 0
            if count < below, count < best?.count ?? .max { best = (index, count) }
        }
        return best
    }
}
