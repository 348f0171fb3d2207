public import Foundation
public import HookBus
import Logging

/// `hookbus store copy`: an SQLite store moved into a PostgreSQL database, for a site that goes
/// from one server to several nodes. Every HookBus process must be stopped meanwhile; the copy
/// brings the rows over as a restart of the SQLite server would find them:
/// - events keep their ids, records and states; PostgreSQL numbers them (`seq`) in the SQLite
///   order, and gives those about an incident or task their `subject_position` in that order,
///   so that dispatch keeps arrival order per subject (`PostgresStore.claimPending`); an event
///   still `running` (its server was killed) is `pending` again with its attempt raised, as the
///   SQLite store's recovery makes it;
/// - runs keep their ids (time-ordered, `RunIDs`) and their output byte for byte; a run still
///   `running` is `interrupted`;
/// - deferred runs keep their ids; a claimed one waits again, as after a restart;
/// - daemon cursors and schedules are added where the database has none of that name.
///
/// **Idempotent and resumable**: rows go in pages of about a thousand, one transaction each, in
/// key order, with `ON CONFLICT DO NOTHING`; a copy finds what an earlier one (finished, or
/// killed halfway) committed and goes on after it. Run again after it finished, it adds and
/// changes nothing. (A page cut off by a kill leaves a gap in `seq`: PostgreSQL does not give
/// back the numbers of a transaction that did not commit. Only their order counts.)
///
/// **Safe**: it copies only into a database no HookBus node has used (no rows in `nodes` or
/// `leaders`, no work owned by a node) whose events are the first events of this SQLite file,
/// in its order and in the states the copy gave them — a new database, or one this command
/// copied into before, from a store not used since (events added since are fine: they are
/// copied). Anything else is refused (`StoreCopyError`): merging two histories would break the
/// order of both, and rows that moved on in SQLite would stay stale in the copy.
public enum StoreCopy {
    /// Rows per transaction: large enough that a commit's cost is spread, small enough that a
    /// page of events (records of a few KB) stays a few MB.
    static let batchSize = 1000
    /// Bytes of run output per page of runs, below `batchSize` rows when outputs are large.
    static let outputBudget = 16 << 20

    /// Opens the SQLite store in `dataDirectory` (`hookbus.sqlite`) for a copy.
    /// - Throws: `StoreCopyError` when there is no store there, or when another process (a
    ///   server, a `hookbus fire`) has it open: its rows would change under the copy.
    public static func openSource(dataDirectory: String) throws -> SQLiteStore {
        let path = (dataDirectory as NSString).appendingPathComponent("hookbus.sqlite")
        guard FileManager.default.fileExists(atPath: path) else { throw StoreCopyError(.noSource, "\(path) does not exist") }
        if let pid = SQLiteStore.processUsingStore(at: path) { throw StoreCopyError(.sourceInUse, "process \(pid) has \(path) open") }
        return try SQLiteStore(path: path)
    }

    /// Copies `source` into the database at `url` (migrating it first when it is new).
    /// - Parameter progress: told a line such as `events 12000/50000` after the first page of
    ///   a table, then at most every second, and when the table is done.
    /// - Returns: what each table holds and what this copy added.
    /// - Throws: `StoreCopyError` when the database is not one to copy into, or when the copy
    ///   does not match the store at its end; `StoreUnavailable`, `StoreQueryFailed` from
    ///   PostgreSQL. Whatever committed before a failure stays; running again goes on from there.
    public static func run(from source: SQLiteStore, to url: String, progress: (String) -> Void) async throws -> Summary {
        let started = ContinuousClock.now
        var logger = Logger(label: "hookbus.store-copy")
        logger.logLevel = .warning
        let parsed = try PostgresURL(url)
        try await StoreCopier.probe(parsed, logger: logger)
        let database = PostgresDatabase(url: parsed, connections: 2, statementTimeout: nil, logger: logger)
        defer { database.close() }
        try await PostgresStore.migrate(database)
        let copier = StoreCopier(source: source, database: database, now: Date().timeIntervalSince1970)
        try await copier.checkNoNodeUsedDatabase()
        let totals = try await source.exportCounts()
        var reporter = ProgressReporter()

        var summary = Summary(destination: parsed.redacted)
        let copied = try await copier.copiedEvents()
        summary.events = try await copier.copyEvents(after: copied, total: totals.events) { reporter.report("events", $0, $1, final: $2, progress) }
        summary.runs = try await copier.copyRuns(total: totals.runs) { reporter.report("runs", $0, $1, final: $2, progress) }
        summary.deferredRuns = try await copier.copyDeferredRuns(total: totals.deferredRuns) { reporter.report("deferred runs", $0, $1, final: $2, progress) }
        summary.daemonCursors = try await copier.copyDaemonCursors()
        summary.schedules = try await copier.copySchedules()
        try await copier.verify()
        summary.seconds = (ContinuousClock.now - started).seconds
        return summary
    }

    /// What a copy found and did, per table.
    public struct Summary: Sendable, CustomStringConvertible {
        /// Rows of one table: how many the SQLite store has, and how many this copy added (the
        /// rest were there from an earlier copy, or kept: a cursor or schedule of that name).
        public struct Table: Sendable {
            public var total = 0
            public var added = 0
            /// Rows added that changed on the way: running events made pending, running runs
            /// made interrupted, claimed deferred runs made to wait again.
            public var recovered = 0
        }

        /// The database, its password left out.
        public let destination: String
        public var events = Table()
        public var runs = Table()
        public var deferredRuns = Table()
        public var daemonCursors = Table()
        public var schedules = Table()
        public var seconds = 0.0

        init(destination: String) { self.destination = destination }

        /// One line: each table's rows and what was added, what was recovered, the time taken.
        public var description: String {
            let tables = [("events", events), ("runs", runs), ("deferred runs", deferredRuns), ("daemon cursors", daemonCursors), ("schedules", schedules)]
                .map { "\($0.0) \($0.1.total) (\($0.1.added) new)" }.joined(separator: ", ")
            var recovered: [String] = []
            if events.recovered > 0 { recovered.append(events.recovered == 1 ? "1 running event made pending again" : "\(events.recovered) running events made pending again") }
            if runs.recovered > 0 { recovered.append(runs.recovered == 1 ? "1 running run marked interrupted" : "\(runs.recovered) running runs marked interrupted") }
            if deferredRuns.recovered > 0 {
                recovered.append(deferredRuns.recovered == 1 ? "1 claimed deferred run waiting again" : "\(deferredRuns.recovered) claimed deferred runs waiting again")
            }
            let seconds = String(format: "%.1f", seconds)
            return "copied into \(destination) in \(seconds) s: \(tables)" + (recovered.isEmpty ? "" : "; " + recovered.joined(separator: ", "))
        }
    }
}

/// Why a copy did not start or did not finish.
public struct StoreCopyError: Error, CustomStringConvertible {
    public enum Code: Sendable {
        /// No SQLite store in the data folder given.
        case noSource
        /// Another process has the SQLite store open.
        case sourceInUse
        /// HookBus nodes are running on the database now.
        case nodesRunning
        /// HookBus nodes have used the database (their rows, or work they owned, are there).
        case usedByNodes
        /// The database's events are not the first events of this SQLite store, in its order.
        case notACopy
        /// The SQLite store was used since an earlier copy into the database (its events moved on).
        case sourceChanged
        /// After the copy, the database does not hold what the SQLite store holds.
        case incomplete
    }

    public let code: Code
    /// The particulars: which file, which nodes, which event.
    public let detail: String

    init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String {
        switch code {
        case .noSource: "no SQLite store to copy: \(detail)"
        case .sourceInUse: "the SQLite store is in use (\(detail)): stop the HookBus server and any other hookbus command using it first"
        case .nodesRunning: "HookBus nodes are running on the database (\(detail)): stop them; the copy goes into a database no node uses"
        case .usedByNodes: "HookBus nodes have used the database (\(detail)): copy into a new database (or one only this command has copied into)"
        case .notACopy: "the database's events are not a copy of this SQLite store's (\(detail)): copy into a new database"
        case .sourceChanged: "the SQLite store was used since the database was copied from it (\(detail)): copy into a new database"
        case .incomplete: "the copy does not match the SQLite store (\(detail)): was the store used during the copy? run the copy again"
        }
    }
}

/// Progress lines at most every second per table, plus its first and its last (once: a table
/// of one page has one line).
struct ProgressReporter {
    private var last: (table: String, done: Int, at: ContinuousClock.Instant)?

    mutating func report(_ table: String, _ done: Int, _ total: Int, final: Bool, _ progress: (String) -> Void) {
        let now = ContinuousClock.now
        if let last, last.table == table, final ? last.done == done : now - last.at < .seconds(1) { return }
        last = (table, done, now)
        progress("\(table) \(done)/\(max(done, total))")
    }
}

extension Duration {
    fileprivate var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
