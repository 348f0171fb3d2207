import Foundation
import HookBus
import Logging
import PostgresNIO

extension StoreCopier {
    // MARK: Runs

    /// Copies the runs after the highest run id in the database (runs go in id order, one page
    /// per transaction, so what an earlier copy committed is every run up to it).
    func copyRuns(total: Int, report: (Int, Int, Bool) -> Void) async throws -> StoreCopy.Summary.Table {
        let logger = self.logger
        let (highest, count) = try await database.call("find the runs copied before", limit: Self.pageLimit) { client in
            for try await row in try await client.query("SELECT COALESCE(MAX(id), 0), COUNT(*) FROM runs", logger: logger).decode((Int64, Int64).self) { return row }
            return (0, 0)
        }
        var table = StoreCopy.Summary.Table(total: Int(count))
        var page = try await source.exportRuns(after: highest, limit: StoreCopy.batchSize, outputBudget: StoreCopy.outputBudget)
        while let last = page.last {
            // The next page is read from SQLite while this one is written to PostgreSQL.
            async let next = source.exportRuns(after: last.id, limit: StoreCopy.batchSize, outputBudget: StoreCopy.outputBudget)
            let added = try await insertRuns(page)
            table.total += page.count
            table.added += added.count
            table.recovered += page.filter { $0.outcome == "running" && added.contains($0.id) }.count
            report(table.total, total, false)
            page = try await next
        }
        if table.total > 0 { report(table.total, total, true) }
        return table
    }

    /// One page of runs in one transaction; returns the ids added. Output goes as `bytea`, the
    /// bytes the SQLite store holds.
    private func insertRuns(_ page: [ExportedRun]) async throws -> Set<Int64> {
        // A run still running: its server stopped while it ran (`SQLiteStore.recoverInterrupted`).
        let running = page.map { $0.outcome == "running" }
        let ids = page.map(\.id), eventIDs = page.map(\.eventID), attempts = page.map(\.attempt)
        let integrations = page.map(\.integration), triggers = page.map(\.trigger)
        let outcomes = zip(page, running).map { $1 ? "interrupted" : $0.outcome }
        let exitCodes = NullableArray(page.map(\.exitCode)), signals = NullableArray(page.map(\.signal)), started = page.map(\.startedAt)
        let ended = NullableArray(zip(page, running).map { $1 ? now : $0.endedAt })
        let stdout = NullableArray(page.map { $0.stdout.map { ByteBuffer(bytes: $0) } })
        let stderr = NullableArray(page.map { $0.stderr.map { ByteBuffer(bytes: $0) } })
        let stdoutDropped = page.map(\.stdoutDropped), stderrDropped = page.map(\.stderrDropped)
        let reasons = NullableArray<String>(zip(page, running).map { $1 ? Self.interruptedReason : PostgresText.storable($0.reason) })
        let invocations = NullableArray<String>(page.map(\.invocation)), previous = NullableArray(page.map(\.previousRun))
        let results = NullableArray<String>(page.map(\.results)), requestedBy = NullableArray<String>(page.map(\.requestedBy))
        let logger = self.logger
        return try await database.transaction("copy runs", limit: Self.pageLimit) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.copyLock))", logger: logger)
            let rows = try await connection.query("""
                INSERT INTO runs (id, event_id, attempt, integration, trigger, outcome, exit_code, signal, started_at, ended_at, stdout, stderr,
                                  stdout_dropped, stderr_dropped, reason, invocation, previous_run, results, requested_by)
                SELECT * FROM unnest(\(ids)::BIGINT[], \(eventIDs)::TEXT[], \(attempts)::BIGINT[], \(integrations)::TEXT[], \(triggers)::TEXT[],
                                     \(outcomes)::TEXT[], \(exitCodes)::BIGINT[], \(signals)::BIGINT[], \(started)::DOUBLE PRECISION[],
                                     \(ended)::DOUBLE PRECISION[], \(stdout)::BYTEA[], \(stderr)::BYTEA[], \(stdoutDropped)::BIGINT[],
                                     \(stderrDropped)::BIGINT[], \(reasons)::TEXT[], \(invocations)::TEXT[], \(previous)::BIGINT[],
                                     \(results)::TEXT[], \(requestedBy)::TEXT[])
                ON CONFLICT (id) DO NOTHING
                RETURNING id
                """, logger: logger)
            var added: Set<Int64> = []
            for try await id in rows.decode(Int64.self) { added.insert(id) }
            return added
        }
    }

    static let interruptedReason = "HookBus stopped while it ran (found running when the SQLite store was copied)"

    // MARK: Deferred runs

    /// Copies every deferred run, keeping its id, with its event's place in the database:
    /// `position` its `seq`, `hold_position` its place among its subject's events (as
    /// `PostgresDeferredRows` writes them); then moves the table's id sequence past the ids
    /// copied, so that the nodes' next rows do not collide with them.
    func copyDeferredRuns(total: Int, report: (Int, Int, Bool) -> Void) async throws -> StoreCopy.Summary.Table {
        var table = StoreCopy.Summary.Table()
        var after: Int64 = 0
        while true {
            let page = try await source.exportDeferredRuns(after: after, limit: StoreCopy.batchSize)
            guard let last = page.last else { break }
            let added = try await insertDeferredRuns(page)
            table.total += page.count
            table.added += added.count
            table.recovered += page.filter { $0.claimed && added.contains($0.id) }.count
            after = last.id
            report(table.total, total, false)
        }
        if table.total > 0 { report(table.total, total, true) }
        let logger = self.logger
        try await database.call("move the deferred runs' id sequence") { client in
            _ = try await client.query("""
                SELECT setval(pg_get_serial_sequence('deferred_runs', 'id'), m) FROM (SELECT MAX(id) AS m FROM deferred_runs) t WHERE m IS NOT NULL
                """, logger: logger)
        }
        return table
    }

    private func insertDeferredRuns(_ page: [ExportedDeferredRun]) async throws -> Set<Int64> {
        // A claimed row: a run had started for it when its server stopped. It waits again, as
        // the same try, linked to that run (now interrupted), as `DeferredRows.recover` does.
        let ids = page.map(\.id), eventIDs = page.map(\.eventID), integrations = page.map(\.integration), triggers = page.map(\.trigger)
        let holdKeys = NullableArray<String>(page.map(\.holdKey)), kinds = page.map(\.kind), reasons = page.map { PostgresText.storable($0.reason) ?? "" }, due = page.map(\.dueAt)
        let attempts = page.map { $0.claimed && $0.runID != nil ? $0.attempt + 1 : $0.attempt }
        let tries = page.map(\.tries)
        let previous = NullableArray(page.map { $0.claimed ? $0.runID ?? $0.previousRun : $0.previousRun })
        let requestedBy = NullableArray<String>(page.map(\.requestedBy))
        let logger = self.logger
        return try await database.transaction("copy deferred runs", limit: Self.pageLimit) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.copyLock))", logger: logger)
            let rows = try await connection.query("""
                INSERT INTO deferred_runs (id, event_id, integration, trigger, hold_key, kind, reason, due_at, attempt, tries, previous_run, requested_by,
                                           claimed, position, hold_position)
                OVERRIDING SYSTEM VALUE
                SELECT t.id, t.event_id, t.integration, t.trigger, t.hold_key, t.kind, t.reason, t.due, t.attempt, t.tries, t.previous, t.requested_by,
                       false, e.seq, COALESCE(e.subject_position, e.seq)
                FROM unnest(\(ids)::BIGINT[], \(eventIDs)::TEXT[], \(integrations)::TEXT[], \(triggers)::TEXT[], \(holdKeys)::TEXT[], \(kinds)::TEXT[],
                            \(reasons)::TEXT[], \(due)::DOUBLE PRECISION[], \(attempts)::BIGINT[], \(tries)::BIGINT[], \(previous)::BIGINT[],
                            \(requestedBy)::TEXT[])
                    AS t(id, event_id, integration, trigger, hold_key, kind, reason, due, attempt, tries, previous, requested_by)
                JOIN events e ON e.id = t.event_id
                ORDER BY t.id
                ON CONFLICT (id) DO NOTHING
                RETURNING id
                """, logger: logger)
            var added: Set<Int64> = []
            for try await id in rows.decode(Int64.self) { added.insert(id) }
            return added
        }
    }

    // MARK: Cursors and schedules

    /// Every daemon's cursor, unless the database has one for that daemon already.
    func copyDaemonCursors() async throws -> StoreCopy.Summary.Table {
        let cursors = try await source.exportDaemonCursors()
        let logger = self.logger
        let added = try await database.transaction("copy daemon cursors", limit: Self.pageLimit) { connection in
            var added = 0
            for cursor in cursors {
                let rows = try await connection.query("""
                    INSERT INTO daemon_cursors (daemon, value, updated_at) VALUES (\(cursor.daemon), \(cursor.value), \(cursor.updatedAt))
                    ON CONFLICT (daemon) DO NOTHING RETURNING 1
                    """, logger: logger)
                for try await _ in rows.decode(Int.self) { added += 1 }
            }
            return added
        }
        return StoreCopy.Summary.Table(total: cursors.count, added: added)
    }

    /// Every schedule, unless the database has one of that id already.
    func copySchedules() async throws -> StoreCopy.Summary.Table {
        let schedules = try await source.exportSchedules()
        let logger = self.logger
        let added = try await database.transaction("copy schedules", limit: Self.pageLimit) { connection in
            var added = 0
            for s in schedules {
                let rows = try await connection.query("""
                    INSERT INTO schedules (id, integration, action, fields, state, ended_reason, started_at, last_run_at, next_run_at, last_result, runs,
                                           end_event, started_by)
                    VALUES (\(s.id), \(s.integration), \(s.action), \(s.fields), \(s.state), \(s.endedReason), \(s.startedAt), \(s.lastRunAt), \(s.nextRunAt),
                            \(s.lastResult), \(s.runs), \(s.endEvent), \(s.startedBy))
                    ON CONFLICT (id) DO NOTHING RETURNING 1
                    """, logger: logger)
                for try await _ in rows.decode(Int.self) { added += 1 }
            }
            return added
        }
        return StoreCopy.Summary.Table(total: schedules.count, added: added)
    }
}
