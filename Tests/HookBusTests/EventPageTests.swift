import Foundation
import GRDB
import Testing
@testable import HookBus

/// The console's Events page (`SQLiteStore.eventPage`): every filter on a real SQLite file,
/// checked by the exact events it returns and their order, the cursor over a store larger than
/// a page, the runs counted per row, and the `subject` column that migration v9 adds and
/// backfills.
@Suite struct EventPageTests {
    /// When the fixture's events arrive: one a minute from here, in the order they are stored.
    static let start = Date(timeIntervalSince1970: 1_750_000_000)

    static func minute(_ number: Int) -> Date { start.addingTimeInterval(Double(number) * 60) }

    /// A store with twelve events of every kind a filter tells apart, their runs, and a Test
    /// Action request; see each event's line for what it is there to catch.
    struct Fixture {
        let folder = TempFolder()
        let store: SQLiteStore

        init() async throws {
            store = try SQLiteStore(path: folder.url.appendingPathComponent("hookbus.sqlite").path)
            let hook = EventSource(kind: .hook)
            func event(_ id: String, _ hookName: String, _ body: String, source: EventSource = hook, at number: Int) throws -> Event {
                try Event.fromHookBody(hook: hookName, body: Array(body.utf8), source: source, id: id, receivedAt: EventPageTests.minute(number))
            }
            let done: [Event] = [
                try event("evt_e01", "newIncident", #"{"incidentsDetail": {"id": 1742, "title": "Phishing wave"}}"#, at: 1),
                try event("evt_e02", "updateIncident", #"{"incidentsBeforeUpdate": {"id": 1742, "status": "open"}, "incidentsAfterUpdate": {"id": 1742, "status": "closed"}}"#, at: 2),
                // The same number as a task: a bare id matches every kind.
                try event("evt_e03", "closeTask", #"{"tasksDetail": {"id": 1742, "name": "Reset password"}}"#, at: 3),
                // An id that starts with the same digits: a subject is matched whole.
                try event("evt_e04", "closeTask", #"{"tasksDetail": {"id": 17420}}"#, at: 4),
                try Event.fromWebhook(body: Array(#"{"action": "opened", "title": "100% sure_thing"}"#.utf8), endpoint: "github", id: "evt_e05",
                                      receivedAt: EventPageTests.minute(5)),
                // A webhook that mentions 1742 has no subject: it is about nothing HookBus knows.
                try Event.fromWebhook(body: Array(#"{"incident": {"id": "1742"}}"#.utf8), endpoint: "pagerduty", id: "evt_e06", receivedAt: EventPageTests.minute(6)),
                // Near misses for the text filter's wildcards: `100x` for `100%`, `sure-thing` for `sure_thing`.
                try event("evt_e07", "newIncident", #"{"incidentsDetail": {"id": 99, "description": "discount 100x sure-thing"}}"#, source: EventSource(kind: .cli), at: 7),
                // An observable added without its incident is about the observable.
                try event("evt_e08", "addObservableIp", #"{"observablesDetail": {"id": 1742, "type": "ip", "value": "10.0.0.1"}}"#, at: 8),
                try event("evt_e09", "updateIncident", #"{"incidentsBeforeUpdate": {"id": 5}, "incidentsAfterUpdate": {"id": 5, "note": "Case MixED"}}"#,
                          source: EventSource(kind: .replay, replayOf: "evt_old", origin: "session.jsonl:3"), at: 9),
            ]
            let unfinished = [
                try event("evt_e10", "closeTask", #"{"tasksDetail": {"id": 8}}"#, at: 10),
                try event("evt_e11", "newIncident", #"{"incidentsDetail": {"id": 7}}"#, at: 11),
            ]
            _ = try await store.accept(done.map { ($0, nil) }, idempotencyWindow: 60, claimed: false, settled: Set(done.map(\.id)))
            _ = try await store.accept(unfinished.map { ($0, nil) }, idempotencyWindow: 60, claimed: false)
            // The oldest pending event is claimed (running); the other stays pending.
            #expect(try await store.claimPending(limit: 1).map(\.event.id) == ["evt_e10"])
            // A Test Action request is stored as an event row of its own, with a failed run of a
            // trigger named like one above: neither may show on the Events page.
            try await store.recordAction(eventID: "evt_act", integration: "Tools", action: "Update", fields: [:], kind: "test")

            try await run("evt_e01", "Tools", "Notify", .succeeded, at: 1)
            try await run("evt_e02", "Tools", "Update", .failed, at: 2)
            try await run("evt_e02", "Tools", "Notify", .succeeded, at: 2)
            try await run("evt_e03", "Other", "Close", .succeeded, at: 3)
            try await run("evt_e03", "Other", "Close", .succeeded, at: 3, attempt: 2)
            try await run("evt_e05", "Hooks", "Forward", .timedOut, at: 5)
            try await run("evt_e06", "Hooks", "Forward", .dead, at: 6)
            try await store.runSkipped(eventID: "evt_e07", attempt: 1, integration: "Tools", trigger: "Notify", reason: "check_not_null_field", at: EventPageTests.minute(7))
            try await run("evt_e09", "Tools", "Update", .succeeded, at: 9)
            // Started and not ended: counted as running, which is no failure.
            _ = try await store.runStarted(eventID: "evt_e09", attempt: 1, integration: "Tools", trigger: "Notify", invocation: nil, previousRun: nil, requestedBy: nil,
                                           at: EventPageTests.minute(9))
            try await run("evt_act", "Tools", "Update", .failed, at: 12)
            try await store.flush()
        }

        private func run(_ eventID: String, _ integration: String, _ trigger: String, _ outcome: RunOutcome, at number: Int, attempt: Int = 1) async throws {
            let date = EventPageTests.minute(number)
            let id = try await store.runStarted(eventID: eventID, attempt: attempt, integration: integration, trigger: trigger, invocation: nil, previousRun: nil,
                                                requestedBy: nil, at: date)
            try await store.runEnded(id: id, result: RunResult(outcome: outcome, exitCode: outcome == .failed ? 1 : 0, startedAt: date, endedAt: date), keepOutput: true)
        }

        /// The ids of the page `filter` gives, in its order.
        func ids(_ filter: EventFilter) async throws -> [String] {
            try await store.eventPage(filter).map(\.id)
        }
    }

    /// Every event of the fixture but the Test Action's, newest first.
    static let everyEvent = ["evt_e11", "evt_e10", "evt_e09", "evt_e08", "evt_e07", "evt_e06", "evt_e05", "evt_e04", "evt_e03", "evt_e02", "evt_e01"]

    /// Each filter on its own, and a few together, with the events they must give.
    static let filterCases: [(name: String, filter: EventFilter, expected: [String])] = [
        ("none", EventFilter(), everyEvent),
        ("hook", EventFilter(hook: "closeTask"), ["evt_e10", "evt_e04", "evt_e03"]),
        ("hook action", EventFilter(hook: "action"), []),
        ("source kind webhook", EventFilter(sourceKind: "webhook"), ["evt_e06", "evt_e05"]),
        ("source kind cli", EventFilter(sourceKind: "cli"), ["evt_e07"]),
        ("source kind replay", EventFilter(sourceKind: "replay"), ["evt_e09"]),
        ("endpoint", EventFilter(sourceName: "github"), ["evt_e05"]),
        ("endpoint of another kind", EventFilter(sourceKind: "hook", sourceName: "github"), []),
        ("state pending", EventFilter(state: "pending"), ["evt_e11"]),
        ("state running", EventFilter(state: "running"), ["evt_e10"]),
        ("state waiting", EventFilter(state: "waiting"), []),
        ("state done", EventFilter(state: "done"), ["evt_e09", "evt_e08", "evt_e07", "evt_e06", "evt_e05", "evt_e04", "evt_e03", "evt_e02", "evt_e01"]),
        ("outcome succeeded", EventFilter(outcome: "succeeded"), ["evt_e09", "evt_e03", "evt_e02", "evt_e01"]),
        ("outcome failed", EventFilter(outcome: "failed"), ["evt_e02"]),
        ("outcome skipped", EventFilter(outcome: "skipped"), ["evt_e07"]),
        ("outcome running", EventFilter(outcome: "running"), ["evt_e09"]),
        ("outcome dead", EventFilter(outcome: "dead"), ["evt_e06"]),
        ("any failure", EventFilter(outcome: EventFilter.anyFailure), ["evt_e06", "evt_e05", "evt_e02"]),
        ("trigger by action", EventFilter(trigger: "Update"), ["evt_e09", "evt_e02"]),
        ("trigger by integration/action", EventFilter(trigger: "Tools/Update"), ["evt_e09", "evt_e02"]),
        ("trigger of another integration", EventFilter(trigger: "Other/Update"), []),
        ("trigger with a skipped run", EventFilter(trigger: "Tools/Notify"), ["evt_e09", "evt_e07", "evt_e02", "evt_e01"]),
        ("trigger and outcome on the same run", EventFilter(outcome: "failed", trigger: "Notify"), []),
        ("trigger and outcome", EventFilter(outcome: "failed", trigger: "Update"), ["evt_e02"]),
        ("subject bare id", EventFilter(subject: "1742"), ["evt_e08", "evt_e03", "evt_e02", "evt_e01"]),
        ("subject full key", EventFilter(subject: "incident:1742"), ["evt_e02", "evt_e01"]),
        ("subject task key", EventFilter(subject: "task:1742"), ["evt_e03"]),
        ("subject observable key", EventFilter(subject: "observable:1742"), ["evt_e08"]),
        ("subject prefix only", EventFilter(subject: "174"), []),
        ("subject empty", EventFilter(subject: ""), everyEvent),
        ("text with %", EventFilter(text: "100%"), ["evt_e05"]),
        ("text with _", EventFilter(text: "sure_thing"), ["evt_e05"]),
        ("text lone %", EventFilter(text: "%"), ["evt_e05"]),
        ("text any case", EventFilter(text: "case mixed"), ["evt_e09"]),
        ("text in a param", EventFilter(text: "Reset password"), ["evt_e03"]),
        ("text empty", EventFilter(text: ""), everyEvent),
        ("since", EventFilter(since: minute(9)), ["evt_e11", "evt_e10", "evt_e09"]),
        ("until", EventFilter(until: minute(3)), ["evt_e02", "evt_e01"]),
        ("since and until", EventFilter(since: minute(2), until: minute(4)), ["evt_e03", "evt_e02"]),
        ("an empty range", EventFilter(until: minute(0)), []),
        ("a range and a cursor past it", EventFilter(since: minute(5), before: 5), []),
        ("a range and a hook", EventFilter(hook: "closeTask", until: minute(10)), ["evt_e04", "evt_e03"]),
        ("hook and subject", EventFilter(hook: "updateIncident", subject: "1742"), ["evt_e02"]),
        ("hook and state", EventFilter(hook: "closeTask", state: "done"), ["evt_e04", "evt_e03"]),
        ("subject and outcome", EventFilter(outcome: "succeeded", subject: "1742"), ["evt_e03", "evt_e02", "evt_e01"]),
        ("cursor", EventFilter(before: 5), ["evt_e04", "evt_e03", "evt_e02", "evt_e01"]),
        ("cursor and hook", EventFilter(hook: "closeTask", before: 4), ["evt_e03"]),
        ("limit", EventFilter(limit: 2), ["evt_e11", "evt_e10"]),
    ]

    @Test func eachFilterGivesExactlyItsEventsNewestFirst() async throws {
        let fixture = try await Fixture()
        for (name, filter, expected) in Self.filterCases {
            #expect(try await fixture.ids(filter) == expected, "\(name)")
        }
    }

    /// Whichever index leads the page (`EventPageQuery`: a filter's own when it has few
    /// candidates, the walk from the newest event otherwise), the page is the same.
    @Test(arguments: [0, 1, 3, Int.max])
    func everyLeadingIndexGivesTheSameEvents(narrowBelow: Int) async throws {
        let fixture = try await Fixture()
        for (name, filter, expected) in Self.filterCases {
            #expect(try await fixture.store.eventPage(filter, narrowBelow: narrowBelow).map(\.id) == expected, "\(name), narrow below \(narrowBelow)")
        }
    }

    /// Which index leads each kind of page, and that SQLite takes it: without statistics its
    /// planner read every failed run again for each event, and every event for a rare hook.
    static let accessCases: [(filter: EventFilter, narrowBelow: Int, access: EventPageQuery.Access, plan: [String])] = [
        (EventFilter(), 5_000, .arrivalOrder, ["SCAN e"]),
        (EventFilter(before: 5), 5_000, .arrivalOrder, ["INTEGER PRIMARY KEY"]),
        (EventFilter(state: "pending"), 5_000, .unfinishedState, ["INDEX events_state"]),
        (EventFilter(state: "done"), 5_000, .arrivalOrder, ["SCAN e"]),
        (EventFilter(hook: "closeTask", subject: "1742"), 5_000, .subject, ["INDEX events_subject"]),
        (EventFilter(outcome: "dead"), 5_000, .runs, ["INDEX runs_outcome", "sqlite_autoindex_events_1"]),
        (EventFilter(outcome: EventFilter.anyFailure), 5_000, .runs, ["INDEX runs_outcome"]),
        (EventFilter(outcome: "succeeded"), 2, .arrivalOrder, ["SCAN e", "INDEX runs_event"]),
        (EventFilter(trigger: "Tools/Update"), 5_000, .runs, ["INDEX runs_trigger"]),
        // Three runs of Update, five succeeded: the trigger index leads.
        (EventFilter(outcome: "succeeded", trigger: "Update"), 5_000, .runs, ["INDEX runs_trigger"]),
        (EventFilter(since: minute(9)), 5_000, .window, ["INDEX events_received"]),
        (EventFilter(until: minute(3)), 5_000, .window, ["INDEX events_received"]),
        // Both narrow: the one with fewer candidates leads (one dead run, twelve events in the range).
        (EventFilter(outcome: "dead", since: minute(1)), 5_000, .runs, ["INDEX runs_outcome"]),
        // A range with too many events for its index to lead: bounds in arrival order.
        (EventFilter(since: minute(1)), 2, .arrivalOrder, ["INTEGER PRIMARY KEY"]),
        (EventFilter(hook: "closeTask", until: minute(10)), 0, .hook, ["INDEX events_hook (hook=? AND seq>? AND seq<?)"]),
        (EventFilter(hook: "closeTask"), 5_000, .hook, ["INDEX events_hook"]),
        (EventFilter(hook: "closeTask", outcome: "dead"), 0, .hook, ["INDEX events_hook", "INDEX runs_event"]),
        (EventFilter(hook: "closeTask", text: "x"), 5_000, .hook, ["INDEX events_hook"]),
        (EventFilter(sourceName: "github"), 5_000, .endpoint, ["INDEX events_endpoint"]),
        (EventFilter(sourceKind: "webhook", sourceName: "github"), 5_000, .endpoint, ["INDEX events_endpoint"]),
        (EventFilter(sourceKind: "webhook"), 5_000, .sourceKind, ["INDEX events_source"]),
        (EventFilter(sourceKind: "hook"), 5_000, .arrivalOrder, ["SCAN e"]),
        (EventFilter(text: "x"), 5_000, .arrivalOrder, ["SCAN e"]),
    ]

    @Test func eachPageIsLedByTheIndexItsFiltersNeed() async throws {
        let fixture = try await Fixture()
        let database = try DatabaseQueue(path: fixture.store.path)
        try await database.read { db in
            for (filter, narrowBelow, access, expected) in Self.accessCases {
                let query = try EventPageQuery(filter, narrowBelow: narrowBelow, db)
                let plan = try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + query.sql, arguments: query.arguments).map { $0["detail"] as String }.joined(separator: "; ")
                #expect(query.access == access, "\(filter)")
                for fragment in expected { #expect(plan.contains(fragment), "\(filter): \(plan)") }
                // Nothing reads runs through another index than the one chosen.
                #expect(!plan.contains("runs_outcome") || expected.contains("INDEX runs_outcome"), "\(filter): \(plan)")
            }
        }
    }

    @Test func aWaitingEventIsFoundByItsState() async throws {
        let fixture = try await Fixture()
        // Waiting is reached through deferred runs; the filter only reads the column.
        let database = try DatabaseQueue(path: fixture.store.path)
        try await database.write { try $0.execute(sql: "UPDATE events SET state = 'waiting' WHERE id = 'evt_e04'") }
        #expect(try await fixture.ids(EventFilter(state: "waiting")) == ["evt_e04"])
        #expect(try await fixture.ids(EventFilter(hook: "closeTask", state: "done")) == ["evt_e03"])
    }

    @Test func rowsCarryTheirHeadAndTheirRunsByOutcome() async throws {
        let fixture = try await Fixture()
        let page = try await fixture.store.eventPage(EventFilter())
        let byID = Dictionary(uniqueKeysWithValues: page.map { ($0.id, $0) })
        #expect(byID["evt_e01"]?.outcomes == ["succeeded": 1])
        #expect(byID["evt_e02"]?.outcomes == ["failed": 1, "succeeded": 1])
        #expect(byID["evt_e03"]?.outcomes == ["succeeded": 2])
        #expect(byID["evt_e04"]?.outcomes == [:])
        #expect(byID["evt_e05"]?.outcomes == ["timed out": 1])
        #expect(byID["evt_e06"]?.outcomes == ["dead": 1])
        #expect(byID["evt_e07"]?.outcomes == ["skipped": 1])
        #expect(byID["evt_e09"]?.outcomes == ["succeeded": 1, "running": 1])
        #expect(byID["evt_e11"]?.outcomes == [:])

        let e05 = try #require(byID["evt_e05"])
        #expect(e05.hook == "webhook" && e05.sourceKind == "webhook" && e05.sourceName == "github" && e05.subject == nil)
        #expect(e05.receivedAt == Self.minute(5) && e05.state == "done" && e05.attempt == 1)
        let e03 = try #require(byID["evt_e03"])
        #expect(e03.hook == "closeTask" && e03.sourceKind == "hook" && e03.sourceName == nil && e03.subject == "task:1742")
        #expect(byID["evt_e08"]?.subject == "observable:1742")
        #expect(byID["evt_e10"]?.state == "running")
        #expect(byID["evt_e11"]?.state == "pending")
        // The cursor is the arrival order: each row's is below the one above it.
        #expect(page.map(\.cursor) == page.map(\.cursor).sorted(by: >))
        #expect(Set(page.map(\.cursor)).count == page.count)
    }

    @Test func theCursorPagesThroughEverythingWithNoDuplicatesAndNoGaps() async throws {
        let folder = TempFolder()
        let store = try SQLiteStore(path: folder.url.appendingPathComponent("hookbus.sqlite").path)
        let hooks = ["updateIncident", "closeTask"]
        let events = try (0..<120).map { number in
            let body = number % 2 == 0
                ? #"{"incidentsBeforeUpdate": {"id": \#(number)}, "incidentsAfterUpdate": {"id": \#(number)}}"#
                : #"{"tasksDetail": {"id": \#(number)}}"#
            return try Event.fromHookBody(hook: hooks[number % 2], body: Array(body.utf8), source: EventSource(kind: .hook), id: String(format: "evt_p%03d", number),
                                          receivedAt: Self.minute(number))
        }
        _ = try await store.accept(events.map { ($0, nil) }, idempotencyWindow: 60, claimed: false, settled: Set(events.map(\.id)))
        let newestFirst = events.reversed().map(\.id)

        func pages(_ filter: EventFilter) async throws -> [[String]] {
            var filter = filter
            var pages: [[String]] = []
            while true {
                let page = try await store.eventPage(filter)
                if page.isEmpty { return pages }
                pages.append(page.map(\.id))
                filter.before = page.last?.cursor
            }
        }
        let all = try await pages(EventFilter(limit: 50))
        #expect(all.map(\.count) == [50, 50, 20])
        #expect(all == [Array(newestFirst[0..<50]), Array(newestFirst[50..<100]), Array(newestFirst[100..<120])])

        let tasks = try await pages(EventFilter(hook: "closeTask", limit: 25))
        let newestTasks = events.reversed().filter { $0.hook == .closeTask }.map(\.id)
        #expect(tasks.map(\.count) == [25, 25, 10])
        #expect(tasks.flatMap { $0 } == newestTasks)

        // A page that ends exactly at the last event: the next one is empty, not repeated.
        let even = try await pages(EventFilter(limit: 40))
        #expect(even.map(\.count) == [40, 40, 40])
        #expect(even.flatMap { $0 } == newestFirst)
    }

    /// A text search reads a budget of events per page and says where it stopped; following
    /// that cursor reaches the match, with nothing skipped and nothing read twice.
    @Test func aTextSearchStopsAtItsBudgetAndGoesOnFromThere() async throws {
        let folder = TempFolder()
        let store = try SQLiteStore(path: folder.url.appendingPathComponent("hookbus.sqlite").path)
        let events = try (0..<30).map { number in
            let name = number == 3 ? "needle" : "hay"
            return try Event.fromHookBody(hook: "newIncident", body: Array(#"{"incidentsDetail": {"id": \#(number), "name": "\#(name)"}}"#.utf8),
                                          source: EventSource(kind: .hook), id: String(format: "evt_t%02d", number), receivedAt: Self.minute(number))
        }
        _ = try await store.accept(events.map { ($0, nil) }, idempotencyWindow: 60, claimed: false, settled: Set(events.map(\.id)))
        var filter = EventFilter(text: "needle", limit: 5)
        var stops: [Int64] = []
        var found: [String] = []
        for _ in 0..<10 {
            let page = try await store.eventPage(filter, narrowBelow: SQLiteStore.narrowBelow, textSearchBudget: 10)
            found += page.map(\.id)
            guard let floor = page.searchedDownTo else { break }
            stops.append(floor)
            filter.before = floor
        }
        // seq 1...30: the first page reads 21...30, the second 11...20, the third the rest.
        #expect(stops == [21, 11])
        #expect(found == ["evt_t03"])
        // A full page, or a search that read everything, says nothing more.
        let everything = try await store.eventPage(EventFilter(text: "hay", limit: 5), narrowBelow: SQLiteStore.narrowBelow, textSearchBudget: 10)
        #expect(everything.count == 5 && everything.searchedDownTo == nil)
        #expect(try await store.eventPage(EventFilter(text: "needle", limit: 5)).searchedDownTo == nil)
    }

    @Test func recentSourcesLookOnlyAtTheNewestEvents() async throws {
        let fixture = try await Fixture()
        let newest = try await fixture.store.recentSources(window: 6)
        // evt_e11 … evt_e06; the Test Action row is left out rather than counted in the window.
        #expect(newest.hooks == ["addObservableIp", "closeTask", "newIncident", "updateIncident", "webhook"])
        #expect(newest.endpoints == ["pagerduty"])
        let all = try await fixture.store.recentSources(window: 100)
        #expect(all.hooks == ["addObservableIp", "closeTask", "newIncident", "updateIncident", "webhook"])
        #expect(all.endpoints == ["github", "pagerduty"])
    }

    // MARK: Filters on arrival

    @Test(arguments: [
        (EventFilter(), true),
        (EventFilter(hook: "closeTask", sourceKind: "webhook", sourceName: "github", subject: "1742", before: 10, limit: 5), true),
        (EventFilter(state: "done"), false),
        (EventFilter(outcome: "failed"), false),
        (EventFilter(outcome: EventFilter.anyFailure), false),
        (EventFilter(trigger: "Notify"), false),
        (EventFilter(text: "x"), false),
        (EventFilter(since: EventPageTests.start), false),
        (EventFilter(until: EventPageTests.start), false),
    ])
    func whichFiltersAreDecidableOnArrival(filter: EventFilter, decidable: Bool) {
        #expect(filter.isDecidableOnArrival == decidable)
    }

    /// A filter, an event as it arrives, and whether the filter lets it in.
    struct ArrivalCase: Sendable, CustomTestStringConvertible {
        let filter: EventFilter
        let summary: EventSummary
        let matches: Bool
        var testDescription: String { "\(filter) on \(summary.id): \(matches)" }

        init(_ filter: EventFilter, on summary: EventSummary = ArrivalCase.arrival, _ matches: Bool) {
            self.filter = filter
            self.summary = summary
            self.matches = matches
        }

        static let arrival = EventSummary(cursor: 1, id: "evt_new", hook: "updateIncident", sourceKind: "webhook", sourceName: "github", trigger: nil,
                                          receivedAt: EventPageTests.start, state: "pending", attempt: 1, subject: "incident:1742")
        static let withoutSubject = EventSummary(cursor: 2, id: "evt_hook", hook: "webhook", sourceKind: "webhook", sourceName: "github", trigger: nil,
                                                 receivedAt: EventPageTests.start, state: "pending", attempt: 1, subject: nil)
    }

    @Test(arguments: [
        ArrivalCase(EventFilter(), true),
        ArrivalCase(EventFilter(hook: "updateIncident"), true),
        ArrivalCase(EventFilter(hook: "closeIncident"), false),
        ArrivalCase(EventFilter(sourceKind: "webhook"), true),
        ArrivalCase(EventFilter(sourceKind: "hook"), false),
        ArrivalCase(EventFilter(sourceName: "github"), true),
        ArrivalCase(EventFilter(sourceName: "gitlab"), false),
        ArrivalCase(EventFilter(subject: "1742"), true),
        ArrivalCase(EventFilter(subject: "incident:1742"), true),
        ArrivalCase(EventFilter(subject: "task:1742"), false),
        ArrivalCase(EventFilter(subject: "174"), false),
        ArrivalCase(EventFilter(subject: "17420"), false),
        ArrivalCase(EventFilter(subject: ""), true),
        ArrivalCase(EventFilter(subject: "1742"), on: ArrivalCase.withoutSubject, false),
        ArrivalCase(EventFilter(subject: ""), on: ArrivalCase.withoutSubject, true),
        ArrivalCase(EventFilter(hook: "updateIncident", sourceName: "gitlab", subject: "1742"), false),
        ArrivalCase(EventFilter(hook: "updateIncident", sourceKind: "webhook", sourceName: "github", subject: "1742"), true),
    ])
    func anArrivingEventMatchesOnItsHead(_ example: ArrivalCase) {
        #expect(example.filter.matchesOnArrival(example.summary) == example.matches)
    }

    @Test func aBareIdStandsForEveryKindOfSubject() {
        #expect(EventFilter(subject: "1742").subjectKeys == ["incident:1742", "task:1742", "triage:1742", "observable:1742"])
        #expect(EventFilter(subject: "task:7").subjectKeys == ["task:7"])
        #expect(EventFilter(subject: "").subjectKeys == [])
        #expect(EventFilter().subjectKeys == [])
    }

    // MARK: Migration v9

    /// A database written before v9 has no `subject`: the migration fills it from each record
    /// (as `Event.orderingKey`), leaves it empty where there is none, and the subject filter
    /// finds the old rows through the new index.
    @Test func migrationV9FillsTheSubjectOfOlderEvents() async throws {
        let folder = TempFolder()
        let path = folder.url.appendingPathComponent("hookbus.sqlite").path
        let source = EventSource(kind: .hook)
        let incident = try Event.fromHookBody(hook: "updateIncident", body: Array(#"{"incidentsBeforeUpdate": {"id": 1742}, "incidentsAfterUpdate": {"id": 1742}}"#.utf8),
                                              source: source, id: "evt_a")
        let task = try Event.fromHookBody(hook: "closeTask", body: Array(#"{"tasksDetail": {"id": "7"}}"#.utf8), source: source, id: "evt_b")
        let observable = try Event.fromHookBody(hook: "addObservableIp", body: Array(#"{"observablesDetail": {"id": 1742, "value": "10.0.0.1"}}"#.utf8),
                                                source: source, id: "evt_c")
        let webhook = try Event.fromWebhook(body: Array(#"{"incident": {"id": 1742}}"#.utf8), endpoint: "pagerduty", id: "evt_d")
        let old = try DatabaseQueue(path: path)
        try SQLiteStore.migrator.migrate(old, upTo: "v8: deferred runs (retries, held and limited runs)")
        try await old.write { db in
            let rows: [(Int, String, String, String, String)] = [
                (1, "evt_a", "updateIncident", "hook", incident.recordJSON),
                (2, "evt_b", "closeTask", "hook", task.recordJSON),
                (3, "evt_c", "addObservableIp", "hook", observable.recordJSON),
                (4, "evt_d", "webhook", "webhook", webhook.recordJSON),
                // A record this version cannot read keeps no subject (and the migration goes on).
                (5, "evt_e", "newIncident", "hook", "not a record"),
                (6, "evt_f", "action", "test", #"{"id": "evt_f", "hook": "action"}"#),
            ]
            for (seq, id, hook, kind, record) in rows {
                try db.execute(sql: "INSERT INTO events (seq, id, hook, source_kind, received_at, record, state) VALUES (?, ?, ?, ?, ?, ?, 'done')",
                               arguments: [seq, id, hook, kind, 1000 + seq, record])
            }
        }
        try old.close()

        let store = try SQLiteStore(path: path)
        let database = try DatabaseQueue(path: store.path)
        try await database.read { db in
            let subjects = try Row.fetchAll(db, sql: "SELECT id, subject FROM events ORDER BY seq").map { "\($0["id"] as String) \(($0["subject"] as String?) ?? "-")" }
            #expect(subjects == ["evt_a incident:1742", "evt_b task:7", "evt_c observable:1742", "evt_d -", "evt_e -", "evt_f -"])
            let index = try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'events_subject'")
            #expect(index?.contains("WHERE subject IS NOT NULL") == true)
            let plan = try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN SELECT seq FROM events WHERE subject IN ('incident:1742', 'task:1742') ORDER BY seq DESC LIMIT 50")
                .map { $0["detail"] as String }.joined(separator: "; ")
            #expect(plan.contains("INDEX events_subject"), "\(plan)")
        }
        #expect(try await store.eventPage(EventFilter(subject: "1742")).map(\.id) == ["evt_c", "evt_a"])
        #expect(try await store.eventPage(EventFilter(subject: "7")).map(\.id) == ["evt_b"])
        // A new event after the migration gets its subject when it is accepted.
        let new = try Event.fromHookBody(hook: "newIncident", body: Array(#"{"incidentsDetail": {"id": 1742}}"#.utf8), source: source, id: "evt_g")
        _ = try await store.accept([(new, nil)], idempotencyWindow: 60, claimed: false, settled: [new.id])
        #expect(try await store.eventPage(EventFilter(subject: "incident:1742")).map(\.id) == ["evt_g", "evt_a"])
    }
}
