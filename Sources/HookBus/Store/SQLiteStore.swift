public import Foundation
import GRDB
import Logging

/// The embedded store: one SQLite file through GRDB, in WAL mode.
///
/// Durability: accepts commit with `synchronous=FULL`, so an event answered 202 survives both a
/// process crash and a power cut. Run records commit with `synchronous=NORMAL`: they survive a
/// process crash (WAL), and a power cut can lose only the last run records — those runs are then
/// treated as interrupted and repeated, which at-least-once delivery allows.
public struct SQLiteStore: EventStore {
    let writer: DatabasePool
    private let recorder: RunRecorder
    public let path: String
    public var location: String { path }
    /// Whether run records are being written (failures are retried, never dropped).
    public let auditHealth = AuditHealth()
    /// This store's salt in run ids, held while the store is used.
    private let claim: SaltClaim
    private let runIDs: RunIDs

    /// Opens (creating it and its folder when needed) the database at `path` and migrates it.
    /// - Parameter auditGiveUp: how long one refused run record is retried before it is given up
    ///   (`RunRecorder.giveUpAfter`).
    public init(path: String, auditGiveUp: Duration = .seconds(600)) throws {
        self.path = path
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            try db.execute(sql: "PRAGMA foreign_keys = ON")
        }
        writer = try DatabasePool(path: path, configuration: configuration)
        try Self.migrator.migrate(writer)
        recorder = RunRecorder(writer: SQLiteRunWriter(writer: writer), health: auditHealth, giveUpAfter: auditGiveUp)
        claim = try SaltClaim(databasePath: path)
        runIDs = RunIDs(salt: claim.salt)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: events and runs") { db in
            try db.execute(sql: """
                CREATE TABLE events (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    id TEXT NOT NULL UNIQUE,
                    hook TEXT NOT NULL,
                    source_kind TEXT NOT NULL,
                    source_name TEXT,
                    replay_of TEXT,
                    origin TEXT,
                    trigger TEXT,
                    received_at REAL NOT NULL,
                    record TEXT NOT NULL,
                    idempotency_key TEXT,
                    state TEXT NOT NULL DEFAULT 'pending',
                    attempt INTEGER NOT NULL DEFAULT 1,
                    completed_at REAL
                );
                CREATE UNIQUE INDEX events_idempotency ON events(idempotency_key) WHERE idempotency_key IS NOT NULL;
                CREATE INDEX events_state ON events(state, seq);
                CREATE INDEX events_received ON events(received_at);
                CREATE TABLE runs (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    event_id TEXT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
                    attempt INTEGER NOT NULL,
                    integration TEXT NOT NULL,
                    trigger TEXT NOT NULL,
                    outcome TEXT NOT NULL,
                    exit_code INTEGER,
                    signal INTEGER,
                    started_at REAL NOT NULL,
                    ended_at REAL,
                    stdout TEXT,
                    stderr TEXT,
                    stdout_dropped INTEGER NOT NULL DEFAULT 0,
                    stderr_dropped INTEGER NOT NULL DEFAULT 0,
                    reason TEXT,
                    invocation TEXT,
                    previous_run INTEGER
                );
                CREATE INDEX runs_event ON runs(event_id);
                CREATE INDEX runs_trigger ON runs(trigger, id);
                CREATE INDEX runs_outcome ON runs(outcome, id);
                """)
        }
        migrator.registerMigration("v2: results of output and table_view") { db in
            try db.execute(sql: "ALTER TABLE runs ADD COLUMN results TEXT")
        }
        migrator.registerMigration("v3: daemon cursors") { db in
            try db.execute(sql: "CREATE TABLE daemon_cursors (daemon TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at REAL NOT NULL)")
        }
        migrator.registerMigration("v4: schedules") { db in
            try db.execute(sql: """
                CREATE TABLE schedules (
                    id TEXT PRIMARY KEY, integration TEXT NOT NULL, action TEXT NOT NULL, fields TEXT NOT NULL,
                    state TEXT NOT NULL, ended_reason TEXT, started_at REAL NOT NULL, last_run_at REAL, next_run_at REAL NOT NULL,
                    last_result TEXT, runs INTEGER NOT NULL DEFAULT 0, end_event TEXT
                )
                """)
        }
        migrator.registerMigration("v5: the dispatch index holds only events not yet done") { db in
            // Most stored events are done (every event no trigger listens to is stored done), and
            // only the dispatcher's queries need this index: keeping done events out of it saves
            // a page write per accept transaction (commits about 15% faster on the build machine).
            // A query uses it only when its WHERE repeats `state <> 'done'` word for word.
            try db.execute(sql: "DROP INDEX events_state")
            try db.execute(sql: "CREATE INDEX events_state ON events(state, seq) WHERE state <> 'done'")
        }
        migrator.registerMigration("v6: row ids without AUTOINCREMENT") { db in
            // AUTOINCREMENT kept `sqlite_sequence` up to date on every insert: a row update and
            // one more page in every accept transaction (of about eleven), which cost 7% of the
            // server's CPU per accept. Nothing needs what it guarantees: events are ordered by
            // `seq`, which SQLite still makes one above the largest (only deleting the newest
            // events could hand a number out again, and retention deletes the oldest), and run
            // ids are always given (`RunIDs`). SQLite cannot drop AUTOINCREMENT in place, so both
            // tables are rebuilt (foreign keys are off during a migration and checked before it
            // commits); a one-time copy of every row on upgrade.
            try Self.dropAutoincrement(from: "events", in: db)
            try Self.dropAutoincrement(from: "runs", in: db)
            try db.execute(sql: "DELETE FROM sqlite_sequence WHERE name IN ('events', 'runs')")
        }
        migrator.registerMigration("v7: who asked for a run, and who started a schedule") { db in
            // The token name (or `cli:USER`) of an operator action: a Test Action, a connection
            // test, a re-drive, a schedule's runs. Null for runs of events a sender sent.
            try db.execute(sql: "ALTER TABLE runs ADD COLUMN requested_by TEXT")
            try db.execute(sql: "ALTER TABLE schedules ADD COLUMN started_by TEXT")
        }
        migrator.registerMigration("v8: deferred runs (retries, held and limited runs)") { db in
            try db.execute(sql: DeferredRows.createSQL)
        }
        migrator.registerMigration("v9: what each event is about, indexed for the console") { db in
            // The event's ordering key (`incident:1742`, `task:7`, …; `Event.orderingKey`), so
            // that "everything about incident 1742" is an index range rather than a scan of
            // every record. Partial: webhook events have none and cost no index write.
            try db.execute(sql: "ALTER TABLE events ADD COLUMN subject TEXT")
            try db.execute(sql: "CREATE INDEX events_subject ON events(subject, seq) WHERE subject IS NOT NULL")
            let rows = try Row.fetchCursor(db, sql: "SELECT seq, record FROM events WHERE hook NOT IN ('webhook', 'action')")
            let update = try db.makeStatement(sql: "UPDATE events SET subject = ? WHERE seq = ?")
            var keys: [(seq: Int64, key: String)] = []
            while let row = try rows.next() {
                // A record this version cannot read keeps no subject; dispatch reports it.
                guard let key = (try? Event.fromRecord(row["record"]))?.orderingKey else { continue }
                keys.append((row["seq"], key))
            }
            for (seq, key) in keys { try update.execute(arguments: [key, seq]) }
        }
        migrator.registerMigration("v10: the console's hook, source and endpoint filters are index ranges") { db in
            // Without them a hook, source or endpoint that is rare among the stored events read
            // every event for one page of the console (0.3 s on a million events with the file
            // in memory, half a minute from disk; `hookbus-bench console`), and SQLite has no
            // statistics to know it. Only the hook index is written for every event; the other
            // two are partial, written only for events with a source other than `hook` or with
            // a name (webhooks, replays, daemons), and used when a query repeats their condition
            // (`EventPageQuery`).
            try db.execute(sql: """
                CREATE INDEX events_hook ON events(hook, seq);
                CREATE INDEX events_source ON events(source_kind, seq) WHERE source_kind <> 'hook';
                CREATE INDEX events_endpoint ON events(source_name, seq) WHERE source_name IS NOT NULL;
                """)
        }
        return migrator
    }

    /// Rebuilds `table` as it is defined now, less AUTOINCREMENT, with the same rows and
    /// indexes: SQLite's way (create, copy, drop, rename) to change what ALTER TABLE cannot.
    /// Its definition and its indexes' are read back from the schema, so this restates none.
    private static func dropAutoincrement(from table: String, in db: Database) throws {
        guard let definition = try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", arguments: [table]),
              let open = definition.firstIndex(of: "(") else {
            throw DatabaseError(message: "migration: no table \(table)")
        }
        let columns = definition[open...].replacingOccurrences(of: " AUTOINCREMENT", with: "", options: .caseInsensitive)
        let indexes = try String.fetchAll(db, sql: "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", arguments: [table])
        try db.execute(sql: """
            CREATE TABLE \(table)_rebuilt \(columns);
            INSERT INTO \(table)_rebuilt SELECT * FROM \(table);
            DROP TABLE \(table);
            ALTER TABLE \(table)_rebuilt RENAME TO \(table);
            """)
        for index in indexes { try db.execute(sql: index) }
    }

    // MARK: Accept

    public func accept(_ events: [(event: Event, idempotencyKey: String?)], idempotencyWindow: TimeInterval, claimed: Bool, settled: Set<String>) async throws -> [AcceptResult] {
        // Records are made before the write: the store's writer is one thread for everyone.
        let events = events.map { (event: $0.event, idempotencyKey: $0.idempotencyKey, record: $0.event.recordJSON, settled: settled.contains($0.event.id)) }
        return try await writer.writeWithoutTransaction { db in
            try Self.accept(events, idempotencyWindow: idempotencyWindow, claimed: claimed, in: db)
        }
    }

    public func acceptBlocking(_ events: [(event: Event, idempotencyKey: String?, record: String, settled: Bool)], idempotencyWindow: TimeInterval) throws -> [AcceptResult] {
        try writer.writeWithoutTransaction { db in
            try Self.accept(events, idempotencyWindow: idempotencyWindow, claimed: false, in: db)
        }
    }

    private static func accept(_ events: [(event: Event, idempotencyKey: String?, record: String, settled: Bool)], idempotencyWindow: TimeInterval, claimed: Bool,
                               in db: Database) throws -> [AcceptResult] {
        // The connection is shared with the run records' NORMAL commits; prepared once, as the
        // statements below, since every accept batch runs it on the writer.
        try db.cachedStatement(sql: "PRAGMA synchronous = FULL").execute()
        var results: [AcceptResult] = []
        results.reserveCapacity(events.count)
        try db.inTransaction {
            let cutoff = Date().timeIntervalSince1970 - idempotencyWindow
            // Statements are prepared once per connection and reused for every row.
            let findKey = try db.cachedStatement(sql: "SELECT id, received_at FROM events WHERE idempotency_key = ?")
            let insert = try db.cachedStatement(sql: """
                INSERT OR IGNORE INTO events (id, hook, source_kind, source_name, replay_of, origin, trigger, received_at, record, idempotency_key, state, completed_at, subject)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            for (event, key, record, isSettled) in events {
                if let key, let row = try Row.fetchOne(findKey, arguments: [key]) {
                    if (row["received_at"] as Double) >= cutoff {
                        results.append(AcceptResult(eventID: row["id"], duplicate: true))
                        continue
                    }
                    try db.execute(sql: "UPDATE events SET idempotency_key = NULL WHERE idempotency_key = ?", arguments: [key])
                }
                try insert.run([.text(event.id), .text(event.hook.rawValue), .text(event.source.kind.rawValue), .text(event.source.name),
                                .text(event.source.replayOf), .text(event.source.origin), .text(event.trigger), .real(event.receivedAt.timeIntervalSince1970),
                                .text(record), .text(key), .text(isSettled ? "done" : claimed ? "running" : "pending"),
                                .real(isSettled ? event.receivedAt.timeIntervalSince1970 : nil), .text(event.orderingKey)], in: db)
                // An event whose id is already stored (a re-sent recorded event) is a duplicate.
                results.append(AcceptResult(eventID: event.id, duplicate: db.changesCount == 0))
            }
            return .commit
        }
        return results
    }

    // MARK: Dispatch

    /// The queries of the dispatch index (`events_state`, partial: see migration v5), tested to
    /// use it.
    static let logger = Logger(label: "hookbus.store")

    static let claimSQL = "SELECT seq, record, attempt FROM events WHERE state <> 'done' AND state = 'pending' ORDER BY seq LIMIT ?"
    static let recoverSQL = "UPDATE events SET state = 'pending', attempt = attempt + 1 WHERE state <> 'done' AND state = 'running'"
    /// Pending and running events: those waiting only for deferred runs are not the
    /// dispatcher's backlog (they are listed with their reasons instead).
    static let pendingAheadSQL = "SELECT COUNT(*) FROM events WHERE state <> 'done' AND state = 'pending' AND seq < (SELECT seq FROM events WHERE id = ?)"
    static let backlogSQL = "SELECT COUNT(*) FROM events WHERE state <> 'done' AND state <> 'waiting'"

    public func claimPending(limit: Int) async throws -> [StoredEvent] {
        try await writer.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            var claimed: [StoredEvent] = []
            try db.inTransaction {
                let rows = try Row.fetchAll(db.cachedStatement(sql: Self.claimSQL), arguments: [limit])
                let markRunning = try db.cachedStatement(sql: "UPDATE events SET state = 'running' WHERE seq = ?")
                for row in rows {
                    try markRunning.execute(arguments: [row["seq"] as Int64])
                    do {
                        claimed.append(StoredEvent(event: try Event.fromRecord(row["record"]), state: .running, attempt: row["attempt"]))
                    } catch {
                        // A row this version cannot read is closed rather than retried forever,
                        // and said so: its record stays in the store for a person to look at.
                        Self.logger.error("a stored event cannot be read and is closed without runs: \(error.message)", metadata: ["seq": "\(row["seq"] as Int64)"])
                        try db.execute(sql: "UPDATE events SET state = 'done', completed_at = ? WHERE seq = ?", arguments: [Date().timeIntervalSince1970, row["seq"] as Int64])
                    }
                }
                return .commit
            }
            return claimed
        }
    }

    public func recoverInterrupted() async throws -> Int {
        try await writer.write { db in
            let now = Date().timeIntervalSince1970
            try db.execute(sql: "UPDATE runs SET outcome = 'interrupted', ended_at = ?, reason = 'HookBus stopped while it ran' WHERE outcome = 'running'", arguments: [now])
            try db.execute(sql: Self.recoverSQL)
            let recovered = db.changesCount
            try DeferredRows.recover(db)
            return recovered
        }
    }

    public func runStarted(eventID: String, attempt: Int, integration: String, trigger: String, invocation: String?, previousRun: Int64?, requestedBy: String?, at date: Date,
                           deferredRow: Int64?) async throws -> Int64 {
        let id = runIDs.next(now: date)
        await recorder.enqueue(.started(id: id, eventID: eventID, attempt: attempt, integration: integration, trigger: trigger,
                                        invocation: invocation, previousRun: previousRun, requestedBy: requestedBy, at: date.timeIntervalSince1970,
                                        deferredRow: deferredRow))
        return id
    }

    public func runEnded(id: Int64, result: RunResult, keepOutput: Bool, deferred: DeferredChange?) async throws {
        await recorder.enqueue(.ended(id: id, result: result, keepOutput: keepOutput, deferred: deferred))
    }

    public func deferRun(_ change: DeferredChange) async throws {
        await recorder.enqueue(.deferred(change))
    }

    public func claimDeferred(now: Date, limit: Int, eventIDs: Set<String>?, blocked: Set<String>,
                              admit: @escaping @Sendable (DeferredRun) -> Bool) async throws -> [(run: DeferredRun, event: StoredEvent)] {
        // Rows still in the recorder's queue are not seen: `Engine.claimDeferred` flushes it
        // first, after taking the epochs that tell a claimed run of rows written since.
        return try await writer.write { db in
            try DeferredRows.claim(now: now, limit: limit, eventIDs: eventIDs, blocked: blocked, admit: admit, db)
        }
    }

    public func deferredRuns(eventID: String?, limit: Int) async throws -> [DeferredRun] {
        try await writer.read { db in try DeferredRows.list(eventID: eventID, limit: limit, db) }
    }

    public func runSkipped(eventID: String, attempt: Int, integration: String, trigger: String, reason: String, at date: Date) async throws {
        await recorder.enqueue(.skipped(id: runIDs.next(now: date), eventID: eventID, attempt: attempt, integration: integration,
                                        trigger: trigger, reason: reason, at: date.timeIntervalSince1970))
    }

    public func flush() async throws {
        try await recorder.waitForCommit()
    }

    public func eventDone(_ eventID: String, waitForDisk: Bool) async throws {
        try await recorder.eventDone(eventID, waitForDisk: waitForDisk)
    }

    public func recordAction(eventID: String, integration: String, action: String, fields: [String: String], kind: String) async throws {
        let now = Date()
        let record = RunRecorder.actionRecord(eventID: eventID, integration: integration, action: action, fields: fields, kind: kind, at: now)
        try await writer.write { db in
            try db.execute(sql: """
                INSERT INTO events (id, hook, source_kind, source_name, trigger, received_at, record, state, completed_at)
                VALUES (?, 'action', ?, ?, ?, ?, ?, 'done', ?)
                """, arguments: [eventID, kind, integration, action, now.timeIntervalSince1970, record, now.timeIntervalSince1970])
        }
    }

    public func daemonCursor(_ daemon: String) async throws -> String? {
        try await writer.read { db in try String.fetchOne(db, sql: "SELECT value FROM daemon_cursors WHERE daemon = ?", arguments: [daemon]) }
    }

    public func setDaemonCursor(_ daemon: String, to value: String) async throws {
        try await writer.write { db in
            try db.execute(sql: "INSERT INTO daemon_cursors (daemon, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(daemon) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                           arguments: [daemon, value, Date().timeIntervalSince1970])
        }
    }

    public func createSchedule(_ schedule: StoredSchedule) async throws {
        try await writer.write { db in
            try db.execute(sql: """
                INSERT INTO schedules (id, integration, action, fields, state, started_at, next_run_at, started_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [schedule.id, schedule.integration, schedule.action, JSONValue.object(schedule.fields.mapValues(JSONValue.string)).jsonText,
                                 schedule.state.rawValue, schedule.startedAt.timeIntervalSince1970, schedule.nextRunAt.timeIntervalSince1970, schedule.startedBy])
        }
    }

    public func schedule(id: String) async throws -> StoredSchedule? {
        try await writer.read { db in try Row.fetchOne(db, sql: "SELECT * FROM schedules WHERE id = ?", arguments: [id]).map(Self.storedSchedule) }
    }

    public func schedules(activeOnly: Bool) async throws -> [StoredSchedule] {
        let sql = "SELECT * FROM schedules" + (activeOnly ? " WHERE state = 'active'" : "") + " ORDER BY started_at"
        return try await writer.read { db in try Row.fetchAll(db, sql: sql).map(Self.storedSchedule) }
    }

    public func scheduleRan(id: String, at date: Date, result: String?, nextRunAt: Date) async throws {
        try await writer.write { db in
            try db.execute(sql: "UPDATE schedules SET last_run_at = ?, last_result = ?, next_run_at = ?, runs = runs + 1 WHERE id = ?",
                           arguments: [date.timeIntervalSince1970, result, nextRunAt.timeIntervalSince1970, id])
        }
    }

    public func endSchedule(id: String, reason: String, endEvent: String?) async throws {
        try await writer.write { db in
            try db.execute(sql: "UPDATE schedules SET state = 'ended', ended_reason = ?, end_event = ? WHERE id = ?", arguments: [reason, endEvent, id])
        }
    }

    private static func storedSchedule(_ row: Row) -> StoredSchedule {
        let fields = (try? JSONParser.parse(row["fields"] as String))?.objectValue?.compactMapValues(\.stringValue) ?? [:]
        return StoredSchedule(
            id: row["id"], integration: row["integration"], action: row["action"], fields: fields,
            state: StoredSchedule.State(rawValue: row["state"]) ?? .ended, endedReason: row["ended_reason"],
            startedAt: Date(timeIntervalSince1970: row["started_at"]), lastRunAt: (row["last_run_at"] as Double?).map { Date(timeIntervalSince1970: $0) },
            nextRunAt: Date(timeIntervalSince1970: row["next_run_at"]), lastResult: row["last_result"], runs: row["runs"], endEvent: row["end_event"],
            startedBy: row["started_by"])
    }

    /// Takes a stored event for a re-drive: it becomes `running` again with its attempt raised.
    /// An event still pending or running is not taken: its dispatch is under way, and a second
    /// one beside it would run its triggers twice at once.
    public func beginRedrive(eventID: String) async throws -> StoredEvent? {
        try await writer.write { db in
            try db.execute(sql: "UPDATE events SET state = 'running', attempt = attempt + 1 WHERE id = ? AND hook != 'action' AND state IN ('done', 'waiting')",
                           arguments: [eventID])
            guard db.changesCount > 0, let row = try Row.fetchOne(db, sql: "SELECT record, state, attempt FROM events WHERE id = ?", arguments: [eventID]) else { return nil }
            return Self.storedEvent(row)
        }
    }

    // MARK: Queries

    public func event(id: String) async throws -> StoredEvent? {
        try await writer.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT record, state, attempt FROM events WHERE id = ?", arguments: [id]) else { return nil }
            return Self.storedEvent(row)
        }
    }

    public func runs(_ filter: RunFilter) async throws -> [RunRecord] {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let eventID = filter.eventID { conditions.append("r.event_id = ?"); _ = arguments.append(contentsOf: [eventID]) }
        if let trigger = filter.trigger {
            // `Action`, or `Integration/Action` split at its first `/`: either way one range of
            // `runs_trigger (trigger, id)`, newest first (an OR of the two forms read every run
            // for a trigger that never ran: 0.3 s on a million, `hookbus-bench console`). The
            // Events page's filter also tries the later slashes (`RunConditions`): it needs no
            // order from the index, where a list here would sort every run of the trigger.
            if let slash = trigger.firstIndex(of: "/") {
                conditions.append("r.trigger = ? AND r.integration = ?")
                _ = arguments.append(contentsOf: [String(trigger[trigger.index(after: slash)...]), String(trigger[..<slash])])
            } else {
                conditions.append("r.trigger = ?")
                _ = arguments.append(contentsOf: [trigger])
            }
        }
        if let outcome = filter.outcome { conditions.append("r.outcome = ?"); _ = arguments.append(contentsOf: [outcome]) }
        if let since = filter.since { conditions.append("r.started_at >= ?"); _ = arguments.append(contentsOf: [since.timeIntervalSince1970]) }
        if let after = filter.afterID { conditions.append("r.id > ?"); _ = arguments.append(contentsOf: [after]) }
        if let before = filter.beforeID { conditions.append("r.id < ?"); _ = arguments.append(contentsOf: [before]) }
        if let until = filter.until {
            // Run ids start with the millisecond they were made in, at the run's start
            // (`RunIDs`): bounding the id too makes `until` a range of the primary key instead
            // of a walk over every newer run (a minute of slack for a record made late).
            conditions.append("r.started_at < ? AND r.id < ?")
            _ = arguments.append(contentsOf: [until.timeIntervalSince1970, (Int64(until.timeIntervalSince1970 * 1000) + 60_000) << 16])
        }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        // Newest first, except when following (oldest new rows first).
        let order = filter.afterID == nil ? "DESC" : "ASC"
        _ = arguments.append(contentsOf: [filter.limit])
        let sql = "SELECT \(Self.runColumns) FROM runs r JOIN events e ON e.id = r.event_id \(whereClause) ORDER BY r.id \(order) LIMIT ?"
        let finalArguments = arguments
        return try await writer.read { db in
            try Row.fetchAll(db, sql: sql, arguments: finalArguments).map(Self.runRecord)
        }
    }

    public func finishedTriggers(eventID: String) async throws -> Set<String> {
        try await writer.read { db in
            Set(try String.fetchAll(db, sql: """
                SELECT integration || '/' || trigger FROM runs WHERE event_id = ?1 AND outcome NOT IN ('interrupted', 'running')
                UNION SELECT integration || '/' || trigger FROM deferred_runs WHERE event_id = ?1
                """, arguments: [eventID]))
        }
    }

    public func backlog() async throws -> Int {
        try await writer.read { db in
            try Int.fetchOne(db, sql: Self.backlogSQL) ?? 0
        }
    }

    public func pendingAhead(of eventID: String) async throws -> Int {
        try await writer.read { db in
            try Int.fetchOne(db, sql: Self.pendingAheadSQL, arguments: [eventID]) ?? 0
        }
    }

    public func events(since: Date?, onlyFailed: Bool, limit: Int) async throws -> [StoredEvent] {
        // Test Action requests are not events of the bus: nothing to export or re-drive.
        var sql = "SELECT record, state, attempt FROM events e WHERE received_at >= ? AND hook != 'action'"
        if onlyFailed {
            sql += " AND EXISTS (SELECT 1 FROM runs r WHERE r.event_id = e.id AND \(Self.unrepeatedFailure))"
        }
        sql += " ORDER BY seq LIMIT ?"
        let start = since?.timeIntervalSince1970 ?? 0
        let query = sql
        return try await writer.read { db in
            try Row.fetchAll(db, sql: query, arguments: [start, limit]).compactMap(Self.storedEvent)
        }
    }

    /// A run `r` that did not succeed, that no later run repeats and no retry will: what
    /// `replay --failed` re-drives (a dead letter is one).
    static let unrepeatedFailure = """
        r.outcome IN ('failed', 'timed out', 'killed', 'interrupted', 'error', 'dead')
        AND NOT EXISTS (SELECT 1 FROM runs later WHERE later.previous_run = r.id)
        AND NOT EXISTS (SELECT 1 FROM deferred_runs d WHERE d.previous_run = r.id)
        """

    /// Runs of failed triggers of an event that no later run repeats: what a re-drive repeats.
    public func unrepeatedFailures(eventID: String) async throws -> [RunRecord] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: """
                SELECT \(Self.runColumns) FROM runs r JOIN events e ON e.id = r.event_id
                WHERE r.event_id = ? AND \(Self.unrepeatedFailure) ORDER BY r.id
                """, arguments: [eventID]).map(Self.runRecord)
        }
    }

    public func applyRetention(maxAge: TimeInterval?, maxRuns: Int?) async throws -> Int {
        try await writer.write { db in
            var removed = 0
            if let maxAge {
                try db.execute(sql: "DELETE FROM runs WHERE started_at < ? AND outcome != 'running'", arguments: [Date().timeIntervalSince1970 - maxAge])
                removed += db.changesCount
            }
            if let maxRuns {
                try db.execute(sql: "DELETE FROM runs WHERE id <= (SELECT id FROM runs ORDER BY id DESC LIMIT 1 OFFSET ?) AND outcome != 'running'", arguments: [maxRuns])
                removed += db.changesCount
            }
            // Events that are done and have no runs left are gone from the trail too.
            try db.execute(sql: "DELETE FROM events WHERE state = 'done' AND NOT EXISTS (SELECT 1 FROM runs WHERE runs.event_id = events.id) AND completed_at < ?",
                           arguments: [Date().timeIntervalSince1970 - (maxAge ?? 0)])
            return removed
        }
    }

    // MARK: Rows

    private static func storedEvent(_ row: Row) -> StoredEvent? {
        guard let event = try? Event.fromRecord(row["record"]) else { return nil }
        return StoredEvent(event: event, state: StoredEvent.State(rawValue: row["state"]) ?? .pending, attempt: row["attempt"])
    }

    private static func runRecord(_ row: Row) -> RunRecord {
        RunRecord(
            id: row["id"], eventID: row["event_id"], hook: row["hook"], attempt: row["attempt"], integration: row["integration"],
            trigger: row["trigger"], outcome: row["outcome"], exitCode: (row["exit_code"] as Int64?).map { Int32($0) },
            signal: (row["signal"] as Int64?).map { Int32($0) }, startedAt: Date(timeIntervalSince1970: row["started_at"]),
            endedAt: (row["ended_at"] as Double?).map { Date(timeIntervalSince1970: $0) }, stdout: Self.fullText(row, "stdout"), stderr: Self.fullText(row, "stderr"),
            stdoutDropped: row["stdout_dropped"], stderrDropped: row["stderr_dropped"], reason: row["reason"],
            invocation: row["invocation"], previousRun: row["previous_run"], results: row["results"], requestedBy: row["requested_by"])
    }

    /// What a run row is read with: its output as bytes, because GRDB decodes text up to the
    /// first NUL and a script's output may contain one.
    static let runColumns = """
        r.id, r.event_id, r.attempt, r.integration, r.trigger, r.outcome, r.exit_code, r.signal, r.started_at, r.ended_at,
        CAST(r.stdout AS BLOB) AS stdout, CAST(r.stderr AS BLOB) AS stderr, r.stdout_dropped, r.stderr_dropped, r.reason,
        r.invocation, r.previous_run, r.results, r.requested_by, e.hook AS hook
        """

    private static func fullText(_ row: Row, _ column: String) -> String? {
        (row[column] as Data?).map { String(decoding: $0, as: UTF8.self) }
    }
}
