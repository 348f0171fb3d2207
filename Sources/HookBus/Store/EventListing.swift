public import Foundation

/// What the console's Events page asks the store for: filters that combine with AND, newest
/// first, one page at a time.
///
/// What each filter costs on a big store (`EventPageQuery` picks the index that leads a page;
/// figures from `hookbus-bench console` on a million events): the page itself, the cursor,
/// `hook`, `source`, endpoint, `subject`, unfinished `state` and the time range are index ranges
/// (about 1 ms in process); `trigger` and `outcome` read their runs' index (under 15 ms, rare
/// ones included); `text` reads at most `textSearchBudget` records per page (about 0.14 s).
/// One case still reads widely: a run filter whose thousands of matches are all old (a mass
/// failure weeks ago: the walk from the newest event meets them late).
public struct EventFilter: Sendable, Hashable {
    /// A hook's name (`updateIncident`, `webhook`, …).
    public var hook: String?
    /// An `EventSource.Kind` raw value (`hook`, `webhook`, `replay`, …).
    public var sourceKind: String?
    /// A webhook endpoint's name (or another source's name).
    public var sourceName: String?
    /// A `StoredEvent.State` raw value.
    public var state: String?
    /// Events with a run of this outcome (a `RunOutcome` raw value), or with any failed run
    /// (`EventFilter.anyFailure`).
    public var outcome: String?
    /// Events with a run of this trigger (`Action` or `Integration/Action`).
    public var trigger: String?
    /// An incident's, task's, triage event's or observable's id (`1742`), or an ordering key
    /// as `Event.orderingKey` writes it (`incident:1742`).
    public var subject: String?
    /// Text the event's record contains (its params, its webhook body), any letter case for
    /// ASCII.
    public var text: String?
    /// Events received at or after this time.
    public var since: Date?
    /// Events received before this time.
    public var until: Date?
    /// The cursor: only events stored before this one (`EventSummary.cursor`).
    public var before: Int64?
    /// Only events stored after this one: what a live page missed while it loaded.
    public var after: Int64?
    /// Rows per page.
    public var limit: Int

    /// The outcome filter that stands for every failed outcome.
    public static let anyFailure = "any failure"

    /// How many events a text search reads for one page when it walks the store: a page that
    /// does not fill within them says where it stopped (`EventPage.searchedDownTo`), and the
    /// next one goes on from there. So a search for a rare text answers in about a tenth of a
    /// second on any store (a million events took 1.1 s in one go, `hookbus-bench console`).
    public static let textSearchBudget = 100_000

    public init(hook: String? = nil, sourceKind: String? = nil, sourceName: String? = nil, state: String? = nil, outcome: String? = nil, trigger: String? = nil,
                subject: String? = nil, text: String? = nil, since: Date? = nil, until: Date? = nil, before: Int64? = nil, limit: Int = 50) {
        self.hook = hook
        self.sourceKind = sourceKind
        self.sourceName = sourceName
        self.state = state
        self.outcome = outcome
        self.trigger = trigger
        self.subject = subject
        self.text = text
        self.since = since
        self.until = until
        self.before = before
        self.limit = limit
    }

    /// Whether an event can be judged by this filter the moment it arrives: its runs, state,
    /// trigger and text come later, and a time range needs no live rows (the console shows
    /// new events live only for filters that say yes).
    public var isDecidableOnArrival: Bool {
        state == nil && outcome == nil && trigger == nil && text == nil && since == nil && until == nil
    }

    /// Whether a newly arrived event belongs under this filter (only the filters
    /// `isDecidableOnArrival` allows are looked at).
    public func matchesOnArrival(_ summary: EventSummary) -> Bool {
        if let hook, summary.hook != hook { return false }
        if let sourceKind, summary.sourceKind != sourceKind { return false }
        if let sourceName, summary.sourceName != sourceName { return false }
        let keys = subjectKeys
        if !keys.isEmpty, !keys.contains(summary.subject ?? "") { return false }
        return true
    }

    /// The text filter as a LIKE pattern (`%text%`, its wildcards and the escape character `\`
    /// escaped): what both stores search the records with. Nil without a text filter.
    package var textPattern: String? {
        guard let text, !text.isEmpty else { return nil }
        var escaped = ""
        for character in text {
            if character == "%" || character == "_" || character == "\\" { escaped.append("\\") }
            escaped.append(character)
        }
        return "%" + escaped + "%"
    }

    /// The ordering keys a subject filter matches: a bare id is looked for as every kind.
    public var subjectKeys: [String] {
        guard let subject, !subject.isEmpty else { return [] }
        if subject.contains(":") { return [subject] }
        return ["incident", "task", "triage", "observable"].map { "\($0):\(subject)" }
    }
}

/// One page of events, newest first: the rows, and where a text search stopped when it read its
/// budget without filling the page. A collection of its rows.
public struct EventPage: RandomAccessCollection, Sendable {
    public var rows: [EventSummary]
    /// The cursor to search on from (`EventFilter.before`): events older than it were not read.
    /// Nil when the page is full or nothing older is left.
    public var searchedDownTo: Int64?

    public init(rows: [EventSummary], searchedDownTo: Int64? = nil) {
        self.rows = rows
        self.searchedDownTo = searchedDownTo
    }

    public var startIndex: Int { rows.startIndex }
    public var endIndex: Int { rows.endIndex }
    public subscript(position: Int) -> EventSummary { rows[position] }
}

/// One row of the Events page: the event's head, without its record, and how its runs went.
public struct EventSummary: Sendable, Hashable {
    /// Where the next page starts (the event's place in arrival order).
    public let cursor: Int64
    public let id: String
    public let hook: String
    /// `EventSource.Kind` raw value, and the source's name (a webhook endpoint's).
    public let sourceKind: String
    public let sourceName: String?
    /// The custom-action button a custom-action hook names.
    public let trigger: String?
    public let receivedAt: Date
    /// A `StoredEvent.State` raw value, and how many times the event was dispatched.
    public let state: String
    public let attempt: Int
    /// `Event.orderingKey`: `incident:1742`, `task:7`, … (nil for webhooks).
    public let subject: String?
    /// How many of its runs ended each way (`RunOutcome` raw values, and `running`).
    public var outcomes: [String: Int]

    public init(cursor: Int64, id: String, hook: String, sourceKind: String, sourceName: String?, trigger: String?, receivedAt: Date, state: String, attempt: Int,
                subject: String?, outcomes: [String: Int] = [:]) {
        self.cursor = cursor
        self.id = id
        self.hook = hook
        self.sourceKind = sourceKind
        self.sourceName = sourceName
        self.trigger = trigger
        self.receivedAt = receivedAt
        self.state = state
        self.attempt = attempt
        self.subject = subject
        self.outcomes = outcomes
    }
}
