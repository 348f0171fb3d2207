public import Foundation
public import HookBus
import PostgresNIO

extension PostgresStore {
    public func event(id: String) async throws -> StoredEvent? {
        try await database.call("read an event") { client in
            for try await (record, state, attempt) in try await client.query("SELECT record, state, attempt FROM events WHERE id = \(id)", logger: self.logger)
                .decode((String, String, Int64).self) {
                return Self.storedEvent(record: record, state: state, attempt: attempt)
            }
            return nil
        }
    }

    public func runs(_ filter: RunFilter) async throws -> [RunRecord] {
        var builder = QueryBuilder()
        if let eventID = filter.eventID { builder.when { "r.event_id = \($0.bind(eventID))" } }
        if let trigger = filter.trigger {
            // `Action`, or `Integration/Action` split at its first `/` (as the SQLite store).
            if let slash = trigger.firstIndex(of: "/") {
                builder.when { "r.trigger = \($0.bind(String(trigger[trigger.index(after: slash)...]))) AND r.integration = \($0.bind(String(trigger[..<slash])))" }
            } else {
                builder.when { "r.trigger = \($0.bind(trigger))" }
            }
        }
        if let outcome = filter.outcome { builder.when { "r.outcome = \($0.bind(outcome))" } }
        if let since = filter.since { builder.when { "r.started_at >= \($0.bind(since.timeIntervalSince1970))" } }
        if let after = filter.afterID { builder.when { "r.id > \($0.bind(after))" } }
        if let before = filter.beforeID { builder.when { "r.id < \($0.bind(before))" } }
        if let until = filter.until { builder.when { "r.started_at < \($0.bind(until.timeIntervalSince1970))" } }
        let order = filter.afterID == nil ? "DESC" : "ASC"
        let limit = builder.bind(filter.limit)
        let query = builder.query("SELECT \(Self.runColumns) FROM runs r JOIN events e ON e.id = r.event_id \(builder.whereClause) ORDER BY r.id \(order) LIMIT \(limit)")
        return try await readRuns("list runs", query)
    }

    /// Runs of failed triggers of an event that no later run repeats.
    public func unrepeatedFailures(eventID: String) async throws -> [RunRecord] {
        try await readRuns("read an event's failures", """
            SELECT \(unescaped: Self.runColumns) FROM runs r JOIN events e ON e.id = r.event_id
            WHERE r.event_id = \(eventID) AND \(unescaped: Self.unrepeatedFailure) ORDER BY r.id
            """)
    }

    public func events(since: Date?, onlyFailed: Bool, limit: Int) async throws -> [StoredEvent] {
        // Test Action requests are not events of the bus: nothing to export or re-drive.
        let failed = onlyFailed ? "AND EXISTS (SELECT 1 FROM runs r WHERE r.event_id = e.id AND \(Self.unrepeatedFailure))" : ""
        let start = since?.timeIntervalSince1970 ?? 0
        return try await database.call("list events") { client in
            var events: [StoredEvent] = []
            let rows = try await client.query("""
                SELECT record, state, attempt FROM events e WHERE received_at >= \(start) AND hook <> 'action' \(unescaped: failed) ORDER BY seq LIMIT \(limit)
                """, logger: self.logger)
            for try await (record, state, attempt) in rows.decode((String, String, Int64).self) {
                if let stored = Self.storedEvent(record: record, state: state, attempt: attempt) { events.append(stored) }
            }
            return events
        }
    }

    public func applyRetention(maxAge: TimeInterval?, maxRuns: Int?) async throws -> Int {
        let now = Date().timeIntervalSince1970
        return try await database.transaction("apply retention", limit: .seconds(120)) { connection in
            // Deleting a month of runs takes longer than a request's statement may.
            try await connection.query("SET LOCAL statement_timeout = '110s'", logger: self.logger)
            var removed = 0
            if let maxAge {
                for try await count in try await connection.query("""
                    WITH gone AS (DELETE FROM runs WHERE started_at < \(now - maxAge) AND outcome <> 'running' RETURNING 1) SELECT COUNT(*) FROM gone
                    """, logger: self.logger).decode(Int64.self) { removed += Int(count) }
            }
            if let maxRuns {
                for try await count in try await connection.query("""
                    WITH gone AS (DELETE FROM runs WHERE id <= (SELECT id FROM runs ORDER BY id DESC LIMIT 1 OFFSET \(maxRuns)) AND outcome <> 'running' RETURNING 1)
                    SELECT COUNT(*) FROM gone
                    """, logger: self.logger).decode(Int64.self) { removed += Int(count) }
            }
            // Events that are done and have no runs left are gone from the trail too.
            try await connection.query("""
                DELETE FROM events WHERE state = 'done' AND NOT EXISTS (SELECT 1 FROM runs WHERE runs.event_id = events.id) AND completed_at < \(now - (maxAge ?? 0))
                """, logger: self.logger)
            return removed
        }
    }

    /// A run `r` that did not succeed, that no later run repeats and no retry will.
    static let unrepeatedFailure = """
        r.outcome IN ('failed', 'timed out', 'killed', 'interrupted', 'error', 'dead')
        AND NOT EXISTS (SELECT 1 FROM runs later WHERE later.previous_run = r.id)
        AND NOT EXISTS (SELECT 1 FROM deferred_runs d WHERE d.previous_run = r.id)
        """

    static let runColumns = """
        r.id, r.event_id, r.attempt, r.integration, r.trigger, r.outcome, r.exit_code, r.signal, r.started_at, r.ended_at,
        r.stdout, r.stderr, r.stdout_dropped, r.stderr_dropped, r.reason, r.invocation, r.previous_run, r.results, r.requested_by, e.hook
        """

    func readRuns(_ what: String, _ query: PostgresQuery) async throws -> [RunRecord] {
        try await database.call(what) { client in
            var runs: [RunRecord] = []
            for try await row in try await client.query(query, logger: self.logger) { runs.append(try Self.runRecord(row)) }
            return runs
        }
    }

    static func runRecord(_ row: PostgresRow) throws -> RunRecord {
        let (id, eventID, attempt, integration, trigger, outcome, exitCode, signal, startedAt, endedAt) =
            try row.decode((Int64, String, Int64, String, String, String, Int64?, Int64?, Double, Double?).self)
        let cells = row.makeRandomAccess()
        let stdout = try cells[10].decode(Data?.self)
        let stderr = try cells[11].decode(Data?.self)
        var record = RunRecord(
            id: id, eventID: eventID, hook: try cells[19].decode(String.self), attempt: Int(attempt), integration: integration, trigger: trigger, outcome: outcome,
            exitCode: exitCode.map { Int32(truncatingIfNeeded: $0) }, signal: signal.map { Int32(truncatingIfNeeded: $0) },
            startedAt: Date(timeIntervalSince1970: startedAt), endedAt: endedAt.map { Date(timeIntervalSince1970: $0) },
            stdout: stdout.map { String(decoding: $0, as: UTF8.self) }, stderr: stderr.map { String(decoding: $0, as: UTF8.self) },
            stdoutDropped: Int(try cells[12].decode(Int64.self)), stderrDropped: Int(try cells[13].decode(Int64.self)), reason: try cells[14].decode(String?.self),
            invocation: try cells[15].decode(String?.self), previousRun: try cells[16].decode(Int64?.self))
        record.results = try cells[17].decode(String?.self)
        record.requestedBy = try cells[18].decode(String?.self)
        return record
    }
}
