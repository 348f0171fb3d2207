import Foundation
import HookBus
import PostgresNIO

/// The PostgreSQL store's writes of audit records (`RunRecorder`): one transaction per batch.
///
/// The batch first locks this node's row (`FOR KEY SHARE`: the lease's renewal, an UPDATE of
/// another column, does not wait for it; the sweep's DELETE does): a sweep that takes the node
/// over waits for the batch, and a batch after the sweep finds no row. A node without its row (it lost
/// its lease, another node runs its events again) still records the runs that really ran —
/// as `interrupted` when they start, since their event is someone else's now — but completes
/// nothing: no event done, no deferred run released, rescheduled or added.
struct PostgresRunWriter: RunRecordWriter {
    let database: PostgresDatabase
    let node: NodeLease
    let wake: WorkSignal

    func write(_ operations: [RunRecorder.Operation]) async throws {
        let me = node.id
        let logger = database.logger
        try await database.transaction("write run records", limit: .seconds(30)) { connection in
            var alive = false
            for try await _ in try await connection.query("SELECT 1 FROM nodes WHERE id = \(me) FOR KEY SHARE", logger: logger).decode(Int.self) { alive = true }
            for operation in operations {
                try await Self.apply(operation, node: me, alive: alive, connection, logger: logger)
            }
        }
        // An event done or a deferred run over may free the next event about its subject.
        if operations.contains(where: Self.mayFreeWork) { wake.fire() }
    }

    private static func mayFreeWork(_ operation: RunRecorder.Operation) -> Bool {
        switch operation {
        case .eventDone, .ended(_, _, _, .some), .completed(_, _, _, _, _, _, _, _, _, _, .some), .deferred: true
        default: false
        }
    }

    func isPermanent(_ error: any Error) -> Bool {
        (error as? StoreQueryFailed)?.isPermanent ?? false
    }

    private static func apply(_ operation: RunRecorder.Operation, node: String, alive: Bool, _ connection: PostgresConnection, logger: Logger) async throws {
        switch operation {
        case let .completed(id, eventID, attempt, integration, trigger, invocation, previousRun, requestedBy, result, keepOutput, deferred):
            let output = Output(result, keep: keepOutput)
            try await connection.query("""
                INSERT INTO runs (id, event_id, attempt, integration, trigger, outcome, exit_code, signal, started_at, ended_at,
                    stdout, stderr, stdout_dropped, stderr_dropped, reason, invocation, previous_run, results, requested_by, node)
                VALUES (\(id), \(eventID), \(attempt), \(integration), \(trigger), \(result.outcome.rawValue), \(result.exitCode.map(Int64.init)),
                    \(result.signal.map(Int64.init)), \(result.startedAt.timeIntervalSince1970), \(result.endedAt.timeIntervalSince1970),
                    \(output.stdout), \(output.stderr), \(result.stdoutDropped), \(result.stderrDropped), \(PostgresText.storable(result.reason)), \(invocation), \(previousRun),
                    \(result.results?.jsonText), \(requestedBy), \(node))
                """, logger: logger)
            if let deferred, alive { try await PostgresDeferredRows.apply(deferred, node: node, connection, logger: logger) }
        case let .started(id, eventID, attempt, integration, trigger, invocation, previousRun, requestedBy, at, deferredRow):
            let outcome = alive ? "running" : "interrupted"
            let reason: String? = alive ? nil : "its node had lost its lease: another node runs the event"
            try await connection.query("""
                INSERT INTO runs (id, event_id, attempt, integration, trigger, outcome, started_at, invocation, previous_run, requested_by, node, reason)
                VALUES (\(id), \(eventID), \(attempt), \(integration), \(trigger), \(outcome), \(at), \(invocation), \(previousRun), \(requestedBy), \(node), \(reason))
                """, logger: logger)
            if let deferredRow, alive {
                try await connection.query("UPDATE deferred_runs SET run_id = \(id) WHERE id = \(deferredRow) AND owner = \(node)", logger: logger)
            }
        case let .ended(id, result, keepOutput, deferred):
            let output = Output(result, keep: keepOutput)
            // A run a sweep already recorded `interrupted` keeps that record: its event is
            // another node's now, and the repeat is the run that counts.
            try await connection.query("""
                UPDATE runs SET outcome = \(result.outcome.rawValue), exit_code = \(result.exitCode.map(Int64.init)), signal = \(result.signal.map(Int64.init)),
                    started_at = \(result.startedAt.timeIntervalSince1970), ended_at = \(result.endedAt.timeIntervalSince1970), stdout = \(output.stdout),
                    stderr = \(output.stderr), stdout_dropped = \(result.stdoutDropped), stderr_dropped = \(result.stderrDropped), reason = \(PostgresText.storable(result.reason)),
                    results = \(result.results?.jsonText)
                WHERE id = \(id) AND outcome = 'running'
                """, logger: logger)
            if let deferred, alive { try await PostgresDeferredRows.apply(deferred, node: node, connection, logger: logger) }
        case let .skipped(id, eventID, attempt, integration, trigger, reason, at):
            try await connection.query("""
                INSERT INTO runs (id, event_id, attempt, integration, trigger, outcome, started_at, ended_at, reason, node)
                VALUES (\(id), \(eventID), \(attempt), \(integration), \(trigger), 'skipped', \(at), \(at), \(PostgresText.storable(reason)), \(node))
                """, logger: logger)
        case let .eventDone(eventID, at):
            guard alive else {
                logger.warning("an event is not marked done: this node lost its lease, and another node runs the event", metadata: ["event": "\(eventID)"])
                return
            }
            let marked = try await connection.query("""
                UPDATE events SET state = CASE WHEN EXISTS (SELECT 1 FROM deferred_runs WHERE event_id = \(eventID)) THEN 'waiting' ELSE 'done' END,
                completed_at = \(at) WHERE id = \(eventID) AND owner = \(node) AND state = 'running' RETURNING 1
                """, logger: logger)
            var rows = 0
            for try await _ in marked.decode(Int.self) { rows += 1 }
            if rows == 0 {
                logger.warning("an event is not marked done: it is not running as this node's (another node holds it)", metadata: ["event": "\(eventID)"])
            }
        case let .deferred(change):
            guard alive else { return }
            try await PostgresDeferredRows.apply(change, node: node, connection, logger: logger)
        }
    }

    /// A run's output as bytes (`bytea`: a script may print a NUL), or none when not kept.
    private struct Output {
        let stdout: Data?
        let stderr: Data?

        init(_ result: RunResult, keep: Bool) {
            stdout = keep ? Data(result.stdout.utf8) : nil
            stderr = keep ? Data(result.stderr.utf8) : nil
        }
    }
}

/// Text as PostgreSQL's `text` can hold it: without NUL, which it refuses (SQLSTATE 22021) and
/// which a trigger can put in a run's reason (its last stderr line). The NUL becomes U+2400
/// (SYMBOL FOR NULL); the output itself is `bytea` and kept byte for byte.
enum PostgresText {
    static func storable(_ text: String?) -> String? {
        guard let text, text.utf8.contains(0) else { return text }
        return text.replacingOccurrences(of: "\u{0}", with: "\u{2400}")
    }
}
