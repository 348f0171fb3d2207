import Foundation
import HookBus
import Logging
import PostgresNIO

/// The steps of `StoreCopy.run`: the checks that the database is one to copy into, then each
/// table in pages. Each page is one transaction that first takes `copyLock`, so two copies
/// started by mistake at once take turns page by page instead of interleaving their inserts.
struct StoreCopier: Sendable {
    let source: SQLiteStore
    let database: PostgresDatabase
    /// When the copy started: the end time of runs it finds still running.
    let now: Double

    /// A page's time limit: far above what a thousand rows take, so only a server that stopped
    /// answering ends it.
    static let pageLimit = Duration.seconds(120)
    /// The transaction-scoped advisory lock of a page ("hookbus copy" in ASCII).
    static let copyLock: Int64 = 0x686F_6F6B_6370_79

    var logger: Logger { database.logger }

    // MARK: Checks

    /// Refuses a database that a HookBus node is using or has used: its own events and runs
    /// would be mixed with the copied ones, and a running node would dispatch half-copied work.
    /// Nodes leave rows in `nodes` (while they live, and after a kill until another node sweeps
    /// them) and `leaders`, and own the events and runs they take.
    func checkNoNodeUsedDatabase() async throws {
        let logger = self.logger
        let (live, names, others) = try await database.call("look for HookBus nodes") { client in
            let rows = try await client.query("""
                SELECT (SELECT COUNT(*) FROM nodes WHERE lease_until > now()),
                       (SELECT COALESCE(string_agg(name, ', ' ORDER BY name), '') FROM nodes WHERE lease_until > now()),
                       (SELECT COUNT(*) FROM nodes) + (SELECT COUNT(*) FROM leaders)
                       + (SELECT COUNT(*) FROM (SELECT 1 FROM events WHERE owner IS NOT NULL LIMIT 1) e)
                       + (SELECT COUNT(*) FROM (SELECT 1 FROM runs WHERE node IS NOT NULL LIMIT 1) r)
                       + (SELECT COUNT(*) FROM (SELECT 1 FROM deferred_runs WHERE owner IS NOT NULL LIMIT 1) d)
                """, logger: logger)
            for try await row in rows.decode((Int64, String, Int64).self) { return row }
            return (0, "", 0)
        }
        if live > 0 { throw StoreCopyError(.nodesRunning, "\(live) with a live lease: \(names)") }
        if others > 0 { throw StoreCopyError(.usedByNodes, "rows in nodes or leaders, or events and runs a node owned") }
    }

    /// How many events an earlier copy committed, and the SQLite `seq` of the last: the
    /// database's events must be the SQLite store's first ones, in the same order (pages are
    /// committed in `seq` order, so a copy killed halfway leaves exactly that), each in the state
    /// the copy gave it. A state that differs means the SQLite store was used since (a server
    /// ran its events): what the earlier copy took from it is out of date.
    func copiedEvents() async throws -> (count: Int, lastSeq: Int64) {
        let logger = self.logger
        var count = 0
        var databaseAfter: Int64 = 0
        var sourceAfter: Int64 = 0
        while true {
            let after = databaseAfter
            let copied: [(Int64, String, String, Int64)] = try await database.call("read the events copied before", limit: Self.pageLimit) { client in
                var page: [(Int64, String, String, Int64)] = []
                for try await row in try await client.query("SELECT seq, id, state, attempt FROM events WHERE seq > \(after) ORDER BY seq LIMIT 10000", logger: logger)
                    .decode((Int64, String, String, Int64).self) { page.append(row) }
                return page
            }
            guard let last = copied.last else { return (count, sourceAfter) }
            let expected = try await source.exportEventStates(after: sourceAfter, limit: copied.count)
            for (index, (_, id, state, attempt)) in copied.enumerated() {
                guard index < expected.count else {
                    throw StoreCopyError(.notACopy, "it has event \(id) after the SQLite store's \(count) events")
                }
                let original = expected[index]
                guard original.id == id else {
                    throw StoreCopyError(.notACopy, "its event number \(count + 1) is \(id), the SQLite store's is \(original.id)")
                }
                let copy = Self.copied(state: original.state, attempt: original.attempt)
                guard copy.state == state && copy.attempt == attempt else {
                    throw StoreCopyError(.sourceChanged,
                                         "event \(id) is \(original.state) (attempt \(original.attempt)) in the SQLite store, \(state) (attempt \(attempt)) in the database")
                }
                count += 1
            }
            databaseAfter = last.0
            sourceAfter = expected[copied.count - 1].seq
        }
    }

    /// An event's state and attempt in the copy. A running event: its server stopped while it
    /// ran; a restart would make it pending again with its attempt raised
    /// (`SQLiteStore.recoverInterrupted`).
    static func copied(state: String, attempt: Int64) -> (state: String, attempt: Int64) {
        state == "running" ? ("pending", attempt + 1) : (state, attempt)
    }

    /// After the copy: the database holds as many events, runs and deferred runs as the store.
    /// (Cursors and schedules may be more: the database's own are kept.)
    func verify() async throws {
        let expected = try await source.exportCounts()
        let logger = self.logger
        let (events, runs, deferred) = try await database.call("count the copied rows", limit: Self.pageLimit) { client in
            let rows = try await client.query("SELECT (SELECT COUNT(*) FROM events), (SELECT COUNT(*) FROM runs), (SELECT COUNT(*) FROM deferred_runs)", logger: logger)
            for try await row in rows.decode((Int64, Int64, Int64).self) { return row }
            return (0, 0, 0)
        }
        let found = [("events", Int(events), expected.events), ("runs", Int(runs), expected.runs), ("deferred runs", Int(deferred), expected.deferredRuns)]
        let wrong = found.filter { $0.1 != $0.2 }.map { "\($0.0): \($0.1) in the database, \($0.2) in the SQLite store" }
        if !wrong.isEmpty { throw StoreCopyError(.incomplete, wrong.joined(separator: "; ")) }
    }

    // MARK: Events

    /// Copies the events after `copied` page by page; returns the table's figures. `report` is
    /// told the events done so far, the total, and whether this is the last page.
    func copyEvents(after copied: (count: Int, lastSeq: Int64), total: Int, report: (Int, Int, Bool) -> Void) async throws -> StoreCopy.Summary.Table {
        var table = StoreCopy.Summary.Table(total: copied.count)
        var page = try await source.exportEvents(after: copied.lastSeq, limit: StoreCopy.batchSize)
        while let last = page.last {
            // The next page is read from SQLite while this one is written to PostgreSQL.
            async let next = source.exportEvents(after: last.seq, limit: StoreCopy.batchSize)
            let added = try await insertEvents(page)
            table.total += page.count
            table.added += added.count
            table.recovered += page.filter { $0.state == "running" && added.contains($0.id) }.count
            report(table.total, total, false)
            page = try await next
        }
        if table.total > 0 { report(table.total, total, true) }
        return table
    }

    /// One page of events in one statement (one transaction): each event about an incident or
    /// task takes the next place after its subject's `last` in `subjects`, in the page's order,
    /// as an accept does (`hookbus_accept`); PostgreSQL numbers the rows in the page's order,
    /// which is `seq` order. Events the database has already are left out before places are
    /// counted (a page is copied under `copyLock`, and no node writes the database: nobody
    /// inserts between the look and the insert). Returns the ids added.
    private func insertEvents(_ page: [ExportedEvent]) async throws -> Set<String> {
        let copied = page.map { Self.copied(state: $0.state, attempt: $0.attempt) }
        let ids = page.map(\.id), hooks = page.map(\.hook), kinds = page.map(\.sourceKind)
        let names = NullableArray<String>(page.map(\.sourceName)), replayOf = NullableArray<String>(page.map(\.replayOf))
        let origins = NullableArray<String>(page.map(\.origin)), triggers = NullableArray<String>(page.map(\.trigger))
        let received = page.map(\.receivedAt), records = page.map(\.record), keys = NullableArray<String>(page.map(\.idempotencyKey))
        let states = copied.map(\.state), attempts = copied.map(\.attempt)
        let completed = NullableArray(page.map(\.completedAt)), subjects = NullableArray<String>(page.map(\.subject))
        let logger = self.logger
        return try await database.transaction("copy events", limit: Self.pageLimit) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.copyLock))", logger: logger)
            let rows = try await connection.query("""
                WITH input AS (
                    SELECT t.* FROM unnest(\(ids)::TEXT[], \(hooks)::TEXT[], \(kinds)::TEXT[], \(names)::TEXT[], \(replayOf)::TEXT[], \(origins)::TEXT[],
                                           \(triggers)::TEXT[], \(received)::DOUBLE PRECISION[], \(records)::TEXT[], \(keys)::TEXT[], \(states)::TEXT[],
                                           \(attempts)::BIGINT[], \(completed)::DOUBLE PRECISION[], \(subjects)::TEXT[])
                        WITH ORDINALITY AS t(id, hook, kind, name, replay_of, origin, trigger, received, record, key, state, attempt, completed, subject, ordinal)
                    WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = t.id)
                ), taken AS (
                    INSERT INTO subjects AS x (subject, last)
                    SELECT subject, COUNT(*) FROM input WHERE subject IS NOT NULL GROUP BY subject ORDER BY subject
                    ON CONFLICT (subject) DO UPDATE SET last = x.last + excluded.last
                    RETURNING x.subject, x.last
                ), placed AS (
                    SELECT i.*, p.last - COUNT(*) OVER (PARTITION BY i.subject) + ROW_NUMBER() OVER (PARTITION BY i.subject ORDER BY i.ordinal) AS position
                    FROM input i LEFT JOIN taken p ON p.subject = i.subject
                )
                INSERT INTO events (id, hook, source_kind, source_name, replay_of, origin, trigger, received_at, record, idempotency_key, state, attempt,
                                    completed_at, subject, subject_position)
                SELECT id, hook, kind, name, replay_of, origin, trigger, received, record, key, state, attempt, completed, subject, position
                FROM placed ORDER BY ordinal
                ON CONFLICT DO NOTHING
                RETURNING id
                """, logger: logger)
            var added: Set<String> = []
            for try await id in rows.decode(String.self) { added.insert(id) }
            return added
        }
    }
}
