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
    /// committed in `seq` order, so a copy killed halfway leaves exactly that).
    func copiedEvents() async throws -> (count: Int, lastSeq: Int64) {
        let logger = self.logger
        var count = 0
        var databaseAfter: Int64 = 0
        var sourceAfter: Int64 = 0
        while true {
            let after = databaseAfter
            let copied: [(Int64, String)] = try await database.call("read the events copied before", limit: Self.pageLimit) { client in
                var page: [(Int64, String)] = []
                for try await row in try await client.query("SELECT seq, id FROM events WHERE seq > \(after) ORDER BY seq LIMIT 10000", logger: logger)
                    .decode((Int64, String).self) { page.append(row) }
                return page
            }
            guard let last = copied.last else { return (count, sourceAfter) }
            let expected = try await source.exportEventIDs(after: sourceAfter, limit: copied.count)
            for (index, (_, id)) in copied.enumerated() {
                guard index < expected.count else {
                    throw StoreCopyError(.notACopy, "the database has event \(id) after the SQLite store's last, its \(count)th")
                }
                guard expected[index].id == id else {
                    throw StoreCopyError(.notACopy, "its event number \(count + 1) is \(id), the SQLite store's is \(expected[index].id)")
                }
                count += 1
            }
            databaseAfter = last.0
            sourceAfter = expected[copied.count - 1].seq
        }
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
        var after = copied.lastSeq
        while true {
            let page = try await source.exportEvents(after: after, limit: StoreCopy.batchSize)
            guard let last = page.last else { break }
            let added = try await insertEvents(page)
            table.total += page.count
            table.added += added.count
            table.recovered += page.filter { $0.state == "running" && added.contains($0.id) }.count
            after = last.seq
            report(table.total, total, false)
        }
        if table.total > 0 { report(table.total, total, true) }
        return table
    }

    /// One page of events in one transaction: the rows (PostgreSQL numbers them in the page's
    /// order, which is `seq` order), then their places among the events about their subject.
    /// Returns the ids added.
    private func insertEvents(_ page: [ExportedEvent]) async throws -> Set<String> {
        // A running event: its server stopped while it ran; a restart would make it pending
        // again with its attempt raised (`SQLiteStore.recoverInterrupted`).
        let running = page.map { $0.state == "running" }
        let ids = page.map(\.id), hooks = page.map(\.hook), kinds = page.map(\.sourceKind)
        let names = NullableTextArray(page.map(\.sourceName)), replayOf = NullableTextArray(page.map(\.replayOf))
        let origins = NullableTextArray(page.map(\.origin)), triggers = NullableTextArray(page.map(\.trigger))
        let received = page.map(\.receivedAt), records = page.map(\.record), keys = NullableTextArray(page.map(\.idempotencyKey))
        let states = zip(page, running).map { $1 ? "pending" : $0.state }
        let attempts = zip(page, running).map { $1 ? $0.attempt + 1 : $0.attempt }
        let completed = NullableArray(page.map(\.completedAt)), subjects = NullableTextArray(page.map(\.subject))
        let logger = self.logger
        return try await database.transaction("copy events", limit: Self.pageLimit) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.copyLock))", logger: logger)
            let rows = try await connection.query("""
                INSERT INTO events (id, hook, source_kind, source_name, replay_of, origin, trigger, received_at, record, idempotency_key, state, attempt,
                                    completed_at, subject)
                SELECT t.id, t.hook, t.kind, t.name, t.replay_of, t.origin, t.trigger, t.received, t.record, t.key, t.state, t.attempt, t.completed, t.subject
                FROM unnest(\(ids)::TEXT[], \(hooks)::TEXT[], \(kinds)::TEXT[], \(names)::TEXT[], \(replayOf)::TEXT[], \(origins)::TEXT[], \(triggers)::TEXT[],
                            \(received)::DOUBLE PRECISION[], \(records)::TEXT[], \(keys)::TEXT[], \(states)::TEXT[], \(attempts)::BIGINT[],
                            \(completed)::DOUBLE PRECISION[], \(subjects)::TEXT[])
                    WITH ORDINALITY AS t(id, hook, kind, name, replay_of, origin, trigger, received, record, key, state, attempt, completed, subject, ordinal)
                ORDER BY t.ordinal
                ON CONFLICT DO NOTHING
                RETURNING seq, id
                """, logger: logger)
            var seqs: [Int64] = []
            var added: Set<String> = []
            for try await (seq, id) in rows.decode((Int64, String).self) {
                seqs.append(seq)
                added.insert(id)
            }
            // Positions continue each subject's count in `subjects` (`last`, as an accept
            // leaves it), in `seq` order: a statement of its own, since a statement does not
            // see the rows its own WITH inserted.
            if !seqs.isEmpty {
                try await connection.query("""
                    WITH added AS (
                        SELECT seq, subject FROM events WHERE seq = ANY(\(seqs)::BIGINT[]) AND subject IS NOT NULL
                    ), taken AS (
                        INSERT INTO subjects AS x (subject, last)
                        SELECT subject, COUNT(*) FROM added GROUP BY subject ORDER BY subject
                        ON CONFLICT (subject) DO UPDATE SET last = x.last + excluded.last
                        RETURNING x.subject, x.last
                    )
                    UPDATE events e SET subject_position = p.position
                    FROM (SELECT a.seq, t.last - COUNT(*) OVER (PARTITION BY a.subject) + ROW_NUMBER() OVER (PARTITION BY a.subject ORDER BY a.seq) AS position
                          FROM added a JOIN taken t ON t.subject = a.subject) p
                    WHERE e.seq = p.seq
                    """, logger: logger)
            }
            return added
        }
    }
}
