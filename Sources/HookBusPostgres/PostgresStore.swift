public import Foundation
public import HookBus
public import Logging
import PostgresNIO
import Synchronization

/// The shared store: several HookBus nodes on one PostgreSQL database as event store, work
/// queue and audit trail (`DESIGN.md`, *Scale*). The engine knows only `EventStore`; what this
/// store adds for several nodes is its own:
/// - **Durable accept**: one statement per batch (`hookbus_accept`), committed with
///   `synchronous_commit = on` before anyone is told 202; when PostgreSQL cannot be reached
///   within `PostgresDatabase.callLimit`, the accept fails with `StoreUnavailable` (503).
/// - **Claims with leases**: events are claimed with `FOR UPDATE SKIP LOCKED` and carry their
///   node as owner; nodes renew a lease (`NodeLease`), and a dead node's work is taken over by
///   the others (`sweep`). Completion is guarded by owner: a node that lost its lease cannot
///   finish work that another node now holds.
/// - **Order across nodes**: an event about an incident or task is claimed only when no earlier
///   event about it (`subject_position`) is pending or running, wherever it was accepted and
///   whoever runs it: runs about one subject start in arrival order and never overlap.
/// - **One of each**: `holdsLead` gives the daemons and the schedules to one node at a time.
public final class PostgresStore: EventStore, @unchecked Sendable {
    let database: PostgresDatabase
    let node: NodeLease
    let recorder: RunRecorder
    let logger: Logger
    let connections: Int
    public let acceptWriters: Int
    public let auditHealth = AuditHealth()
    public var url: PostgresURL { database.url }
    public var location: String { "\(database.url.redacted), node \(node.name)" }
    /// Told when work may have become claimable here (an event about a subject finished, a
    /// dead node's work came back): the dispatcher claims at once rather than at its next look.
    let wake = WorkSignal()
    private let maintenance = Mutex<[Task<Void, Never>]>([])
    /// The lease's own connection (`NodeLease`), closed with the store.
    private let leaseDatabase: PostgresDatabase

    private init(database: PostgresDatabase, leaseDatabase: PostgresDatabase, node: NodeLease, connections: Int, acceptWriters: Int, auditGiveUp: Duration,
                 logger: Logger) {
        self.database = database
        self.leaseDatabase = leaseDatabase
        self.connections = connections
        self.acceptWriters = acceptWriters
        self.node = node
        self.logger = logger
        recorder = RunRecorder(writer: PostgresRunWriter(database: database, node: node, wake: wake), health: auditHealth, giveUpAfter: auditGiveUp)
    }

    /// Connects, migrates, joins the cluster as node `name` and starts renewing its lease.
    /// - Parameter name: what this node is called in logs and `nodes` (a server's host and
    ///   port, a command's host and pid): a node that starts again under the same name takes
    ///   over what its previous run left at once (`recoverInterrupted`) rather than after its
    ///   lease ran out.
    /// - Parameter connections: the pool's size (accepts, claims and run records each take one
    ///   while they run).
    /// - Parameter acceptWriters: accept batches committed side by side. One is best where the
    ///   database is near and CPU is short (on the 2-core build machine with PostgreSQL beside
    ///   HookBus: 9,100–10,400 accepts/s with one, 8,700–8,900 with two, 7,100–7,600 with four:
    ///   bigger batches share each statement's fixed cost); more pay where each commit waits on a
    ///   network round trip.
    public static func open(url: String, name: String? = nil, connections: Int = 8, acceptWriters: Int = 1, auditGiveUp: Duration = .seconds(600),
                            logger: Logger = Logger(label: "hookbus.postgres")) async throws -> PostgresStore {
        let parsed = try PostgresURL(url)
        let database = PostgresDatabase(url: parsed, connections: connections, logger: logger)
        let leaseDatabase = PostgresDatabase(url: parsed, connections: 1, logger: logger)
        do {
            try await migrate(database)
            let node = try await NodeLease.join(name: name ?? "\(ProcessInfo.processInfo.hostName):\(getpid())", database: leaseDatabase, logger: logger)
            let store = PostgresStore(database: database, leaseDatabase: leaseDatabase, node: node, connections: connections, acceptWriters: max(1, min(acceptWriters, connections - 1)),
                                      auditGiveUp: auditGiveUp, logger: logger)
            store.startMaintenance()
            return store
        } catch {
            database.close()
            leaseDatabase.close()
            throw error
        }
    }

    /// Stops renewing the lease, writes the last run records and leaves the cluster. A store
    /// that refuses them is waited for 10 s at most (a command must end): what is left unwritten
    /// is what a crash leaves, and the runs are repeated by another node.
    public func close() async {
        maintenance.withLock { tasks in tasks.forEach { $0.cancel() } }
        let recorder = self.recorder
        do {
            try await PostgresDatabase.race(limit: .seconds(10), what: "write the last run records") { try await recorder.waitForCommit() }
        } catch {
            logger.error("the last run records could not be written: \(error)")
        }
        await node.leave()
        database.close()
        leaseDatabase.close()
    }

    /// Told (once) when this node finds its lease gone and another node ran its work: from then
    /// on it claims and completes nothing (see `NodeLease`); a server stops.
    public func onLeaseLost(_ handler: @escaping @Sendable () -> Void) {
        node.onLost(handler)
    }

    public var isShared: Bool { true }

    public func onWorkReady(_ wake: @escaping @Sendable () -> Void) {
        self.wake.set(wake)
    }

    func workReady() {
        wake.fire()
    }

    // MARK: Migrations

    static func migrate(_ database: PostgresDatabase) async throws {
        try await database.transaction("migrate the schema", limit: .seconds(60)) { connection in
            // Another node's migration may hold the lock for a while.
            try await connection.query("SET LOCAL statement_timeout = '55s'", logger: database.logger)
            try await connection.query("SELECT pg_advisory_xact_lock(\(PostgresSchema.migrationLock))", logger: database.logger)
            try await connection.query("CREATE TABLE IF NOT EXISTS hookbus_migrations (name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
                                       logger: database.logger)
            var applied: Set<String> = []
            for try await name in try await connection.query("SELECT name FROM hookbus_migrations", logger: database.logger).decode(String.self) {
                applied.insert(name)
            }
            for (name, statements) in PostgresSchema.migrations where !applied.contains(name) {
                for sql in statements { try await connection.query(PostgresQuery(unsafeSQL: sql), logger: database.logger) }
                try await connection.query("INSERT INTO hookbus_migrations (name) VALUES (\(name))", logger: database.logger)
            }
        }
    }

    // MARK: Lease upkeep

    /// Two loops: the renewal on its own (a sweep that waits for locks must not delay it), and
    /// the sweep of stopped nodes.
    private func startMaintenance() {
        let node = self.node
        let renewal = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: NodeLease.beat)  // cancelled: the loop ends
                guard !Task.isCancelled else { return }
                await node.renew()
            }
        }
        let sweeping = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: NodeLease.beat)  // cancelled: the loop ends
                guard let self, !Task.isCancelled else { return }
                if node.maySweep {
                    do {
                        let recovered = try await retryingConflicts("take over stopped nodes' work") { try await self.sweep() }
                        if recovered > 0 { workReady() }
                    } catch {
                        logger.error("cannot take over the work of nodes that stopped: \(error)")
                    }
                }
            }
        }
        maintenance.withLock { $0 = [renewal, sweeping] }
    }

    /// Takes over the work of nodes whose lease ran out (by the database's clock): their running
    /// events pending again (attempt + 1), their runs `interrupted`, their claimed deferred runs
    /// waiting again, linked to the run started for them. Rows whose owner has no row at all
    /// are taken over the same way. Returns how many events.
    ///
    /// A node's name is only a label: two nodes may share one (a copied `hookbus.yaml`), so a
    /// node started again takes its previous process's work over when that lease runs out, not
    /// by name.
    func sweep() async throws -> Int {
        let me = node.id
        let now = Date().timeIntervalSince1970
        return try await database.transaction("take over stopped nodes' work") { connection in
            var gone: [String] = []
            let removed = try await connection.query("""
                DELETE FROM nodes WHERE id <> \(me) AND lease_until < now() RETURNING id, name
                """, logger: self.logger)
            for try await (id, name) in removed.decode((String, String).self) {
                gone.append("\(name) (\(id))")
            }
            // A statement of its own, after the nodes are gone: it sees every claim they committed.
            try await connection.query("""
                UPDATE runs SET outcome = 'interrupted', ended_at = \(now), reason = 'its node stopped while it ran'
                WHERE outcome = 'running' AND (node IS NULL OR NOT EXISTS (SELECT 1 FROM nodes n WHERE n.id = runs.node))
                """, logger: self.logger)
            let events = try await connection.query("""
                UPDATE events SET state = 'pending', attempt = attempt + 1, owner = NULL
                WHERE state = 'running' AND (owner IS NULL OR NOT EXISTS (SELECT 1 FROM nodes n WHERE n.id = events.owner))
                RETURNING seq
                """, logger: self.logger)
            var recovered = 0
            for try await _ in events.decode(Int64.self) { recovered += 1 }
            try await connection.query("""
                UPDATE deferred_runs SET claimed = false, owner = NULL, previous_run = COALESCE(run_id, previous_run),
                    attempt = attempt + (CASE WHEN run_id IS NULL THEN 0 ELSE 1 END), run_id = NULL
                WHERE claimed AND (owner IS NULL OR NOT EXISTS (SELECT 1 FROM nodes n WHERE n.id = deferred_runs.owner))
                """, logger: self.logger)
            if !gone.isEmpty || recovered > 0 {
                self.logger.warning("took over the work of nodes that stopped", metadata: ["nodes": "\(gone.joined(separator: ", "))", "events": "\(recovered)"])
            }
            return recovered
        }
    }

    // MARK: Accept

    public func accept(_ events: [(event: Event, idempotencyKey: String?)], idempotencyWindow: TimeInterval, claimed: Bool, settled: Set<String>) async throws -> [AcceptResult] {
        let rows = events.map { (event: $0.event, idempotencyKey: $0.idempotencyKey, record: $0.event.recordJSON, settled: settled.contains($0.event.id)) }
        return try await accept(rows, idempotencyWindow: idempotencyWindow, claimedBy: claimed ? node.id : nil)
    }

    /// Blocks the calling thread (the server's accept thread, never a task of Swift's pool)
    /// until the batch is committed or has failed.
    public func acceptBlocking(_ events: [(event: Event, idempotencyKey: String?, record: String, settled: Bool)], idempotencyWindow: TimeInterval) throws -> [AcceptResult] {
        let outcome = Mutex<Result<[AcceptResult], any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            let result: Result<[AcceptResult], any Error>
            do { result = .success(try await self.accept(events, idempotencyWindow: idempotencyWindow, claimedBy: nil)) } catch { result = .failure(error) }
            outcome.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        return try outcome.withLock { $0! }.get()
    }

    private func accept(_ events: [(event: Event, idempotencyKey: String?, record: String, settled: Bool)], idempotencyWindow: TimeInterval,
                        claimedBy: String?) async throws -> [AcceptResult] {
        guard !events.isEmpty else { return [] }
        let ids = events.map(\.event.id)
        let hooks = events.map(\.event.hook.rawValue)
        let kinds = events.map(\.event.source.kind.rawValue)
        let names = NullableArray<String>(events.map(\.event.source.name))
        let replayOf = NullableArray<String>(events.map(\.event.source.replayOf))
        let origins = NullableArray<String>(events.map(\.event.source.origin))
        let triggers = NullableArray<String>(events.map(\.event.trigger))
        let received = events.map(\.event.receivedAt.timeIntervalSince1970)
        let records = events.map(\.record)
        let keys = NullableArray<String>(events.map(\.idempotencyKey))
        let settled = events.map(\.settled)
        let subjects = NullableArray<String>(events.map(\.event.orderingKey))
        let cutoff = Date().timeIntervalSince1970 - idempotencyWindow
        let results = try await retryingConflicts("accept events") {
            try await self.database.call("accept events") { client in
                let rows = try await client.query("""
                    SELECT event_id, duplicate FROM hookbus_accept(\(ids), \(hooks), \(kinds), \(names), \(replayOf), \(origins), \(triggers), \(received),
                        \(records), \(keys), \(settled), \(subjects), \(claimedBy), \(cutoff))
                    """, logger: self.logger)
                var results: [AcceptResult] = []
                results.reserveCapacity(events.count)
                for try await (id, duplicate) in rows.decode((String, Bool).self) { results.append(AcceptResult(eventID: id, duplicate: duplicate)) }
                return results
            }
        }
        guard results.count == events.count else {
            throw StoreQueryFailed(what: "accept events", detail: "\(results.count) results for \(events.count) events", sqlState: nil)
        }
        return results
    }

    /// Runs `operation` again when PostgreSQL ended it to resolve a deadlock or a
    /// serialization conflict (the transaction changed nothing): up to five times.
    func retryingConflicts<T: Sendable>(_ what: String, _ operation: @Sendable () async throws -> T) async throws -> T {
        var tries = 0
        while true {
            do {
                return try await operation()
            } catch let error as StoreQueryFailed where error.isTransient && tries < 5 {
                tries += 1
                logger.notice("\(what): PostgreSQL ended a transaction to resolve a conflict; trying again", metadata: ["sqlstate": "\(error.sqlState ?? "")"])
            }
        }
    }

    // MARK: Dispatch

    /// The oldest pending events that are free to run: an event about a subject only when no
    /// earlier event about it is pending or running (on any node), nor waits on disk with a run
    /// in strict order (a retry, a run held behind one, a limited run: `hold_key`). A node's
    /// `RunGate` holds later runs behind its own retries; across nodes, this is what does —
    /// whole events rather than one integration's runs, so a later event about an incident
    /// whose strict run waits for its retry waits with it, whichever node would run it. `SKIP LOCKED`: two nodes
    /// claiming at once take different events and never wait for each other. The pick is a
    /// materialized CTE: as a subquery joined to the UPDATE, PostgreSQL may run it more than
    /// once, and its LIMIT then bounds each run, not the claim (the contract test saw 4 of 2).
    public func claimPending(limit: Int) async throws -> [StoredEvent] {
        let me = node.id
        let rows: [(Int64, String, Int64)] = try await database.call("claim events") { client in
            let rows = try await client.query("""
                WITH picked AS MATERIALIZED (
                    SELECT c.seq FROM events c
                    WHERE c.state IN ('pending', 'running') AND c.state = 'pending'
                      AND (c.subject IS NULL OR (NOT EXISTS (
                          SELECT 1 FROM events p WHERE p.subject = c.subject AND p.state IN ('pending', 'running')
                          AND p.subject_position < c.subject_position)
                      AND NOT EXISTS (
                          SELECT 1 FROM events w JOIN deferred_runs d ON d.event_id = w.id AND d.hold_key IS NOT NULL
                          WHERE w.subject = c.subject AND w.state = 'waiting' AND w.subject_position < c.subject_position)))
                      AND EXISTS (SELECT 1 FROM nodes n WHERE n.id = \(me))
                    ORDER BY c.seq LIMIT \(limit)
                    FOR UPDATE SKIP LOCKED
                )
                UPDATE events e SET state = 'running', owner = \(me)
                FROM picked
                WHERE e.seq = picked.seq AND e.state = 'pending'
                RETURNING e.seq, e.record, e.attempt
                """, logger: self.logger)
            var claimed: [(Int64, String, Int64)] = []
            for try await row in rows.decode((Int64, String, Int64).self) { claimed.append(row) }
            return claimed
        }
        var claimed: [StoredEvent] = []
        for (seq, record, attempt) in rows.sorted(by: { $0.0 < $1.0 }) {
            do {
                claimed.append(StoredEvent(event: try Event.fromRecord(record), state: .running, attempt: Int(attempt)))
            } catch {
                // As in the SQLite store: a record this version cannot read is closed, not
                // retried for ever, and said so; it stays for a person to look at.
                logger.error("a stored event cannot be read and is closed without runs: \(error.message)", metadata: ["seq": "\(seq)"])
                let now = Date().timeIntervalSince1970
                do {
                    try await database.call("close an unreadable event") { client in
                        _ = try await client.query("UPDATE events SET state = 'done', completed_at = \(now) WHERE seq = \(seq)", logger: self.logger)
                    }
                } catch {
                    // The others claimed with it are still run; this one stays claimed by this
                    // node and is closed again after the node's next start.
                    logger.error("an unreadable event could not be closed: \(error)", metadata: ["seq": "\(seq)"])
                }
            }
        }
        return claimed
    }

    /// At start: what nodes whose lease ran out left (a previous process of this server's
    /// among them, once its lease has run out) is taken over (`sweep`). Other live nodes' work
    /// is theirs.
    public func recoverInterrupted() async throws -> Int {
        try await retryingConflicts("take over stopped nodes' work") { try await self.sweep() }
    }

    public func backlog() async throws -> Int {
        try await scalar("count the backlog", "SELECT COUNT(*) FROM events WHERE state IN ('pending', 'running')")
    }

    public func pendingAhead(of eventID: String) async throws -> Int {
        try await scalar("count the events ahead", """
            SELECT COUNT(*) FROM events WHERE state IN ('pending', 'running') AND state = 'pending' AND seq < (SELECT seq FROM events WHERE id = \(eventID))
            """)
    }

    /// The one number `query` answers (0 when it answers no row).
    func scalar(_ what: String, _ query: PostgresQuery) async throws -> Int {
        try await database.call(what) { client in
            for try await value in try await client.query(query, logger: self.logger).decode(Int64.self) { return Int(value) }
            return 0
        }
    }

    // MARK: Run records

    public func runStarted(eventID: String, attempt: Int, integration: String, trigger: String, invocation: String?, previousRun: Int64?, requestedBy: String?, at date: Date,
                           deferredRow: Int64?) async throws -> Int64 {
        let id = node.identity.runIDs.next(now: date)
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

    public func runSkipped(eventID: String, attempt: Int, integration: String, trigger: String, reason: String, at date: Date) async throws {
        await recorder.enqueue(.skipped(id: node.identity.runIDs.next(now: date), eventID: eventID, attempt: attempt, integration: integration,
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
        let seconds = now.timeIntervalSince1970
        try await database.call("record an action") { client in
            _ = try await client.query("""
                INSERT INTO events (id, hook, source_kind, source_name, trigger, received_at, record, state, completed_at)
                VALUES (\(eventID), 'action', \(kind), \(integration), \(action), \(seconds), \(record), 'done', \(seconds))
                """, logger: self.logger)
        }
    }

    /// Takes a finished (or waiting) event for a re-drive, as this node's.
    public func beginRedrive(eventID: String) async throws -> StoredEvent? {
        let me = node.id
        return try await database.call("take an event for a re-drive") { client in
            let rows = try await client.query("""
                UPDATE events SET state = 'running', attempt = attempt + 1, owner = \(me)
                WHERE id = \(eventID) AND hook <> 'action' AND state IN ('done', 'waiting') AND EXISTS (SELECT 1 FROM nodes n WHERE n.id = \(me))
                RETURNING record, state, attempt
                """, logger: self.logger)
            for try await (record, state, attempt) in rows.decode((String, String, Int64).self) {
                return Self.storedEvent(record: record, state: state, attempt: attempt)
            }
            return nil
        }
    }

    static func storedEvent(record: String, state: String, attempt: Int64) -> StoredEvent? {
        guard let event = try? Event.fromRecord(record) else { return nil }
        return StoredEvent(event: event, state: StoredEvent.State(rawValue: state) ?? .pending, attempt: Int(attempt))
    }
}

/// Whom to tell that work may have become claimable (`EventStore.onWorkReady`).
final class WorkSignal: Sendable {
    private let wake = Mutex<(@Sendable () -> Void)?>(nil)

    func set(_ wake: @escaping @Sendable () -> Void) {
        self.wake.withLock { $0 = wake }
    }

    func fire() {
        wake.withLock { $0 }?()
    }
}

extension PostgresStore {
    /// Takes or renews `role` for this node for one lease (`NodeLease.duration`): yes while no
    /// other node holds an unexpired lease on it. A node that dies keeps it until its lease runs
    /// out; the next node that asks then takes it.
    public func holdsLead(_ role: String) async throws -> Bool {
        let me = node.id
        let seconds = Double(NodeLease.duration.components.seconds)
        return try await database.call("hold the lead of \(role)") { client in
            let rows = try await client.query("""
                INSERT INTO leaders (role, node, lease_until) VALUES (\(role), \(me), now() + make_interval(secs => \(seconds)))
                ON CONFLICT (role) DO UPDATE SET node = excluded.node, lease_until = excluded.lease_until
                WHERE leaders.node = excluded.node OR leaders.lease_until < now()
                RETURNING node
                """, logger: self.logger)
            for try await _ in rows.decode(String.self) { return true }
            return false
        }
    }
}
