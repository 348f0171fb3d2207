import Foundation

/// The PostgreSQL store's tables, versioned like the SQLite store's migrations: each runs once,
/// in order, in a transaction of its own, and its name is kept in `hookbus_migrations`. Nodes
/// that start together migrate one at a time (a transaction-scoped advisory lock).
///
/// Differences from the SQLite schema, each for several nodes sharing the database:
/// - `nodes`: every process that uses the store (a server, a CLI command) with its lease, its
///   run-id salt and its name; `events.owner`, `runs.node` and `deferred_runs.owner` say whose
///   work a row is, so the work of a node whose lease ran out can be taken over.
/// - `subjects` and `events.subject_position`: per incident or task, the order its events were
///   accepted in (see `hookbus_accept`), which dispatch keeps across nodes.
/// - `leaders`: who runs the daemons and the schedules now.
/// - run output is `bytea` (a script may print a NUL, which `text` cannot hold).
/// - times are seconds since 1970 as `double precision`, as in SQLite; leases use the
///   database's own clock (`now()`), so nodes' clocks need not agree.
enum PostgresSchema {
    /// Each migration's statements, run one by one (a prepared statement holds one command).
    static let migrations: [(name: String, statements: [String])] = [
        ("v1: events, runs, deferred runs, nodes", statements(v1) + [acceptFunction]),
    ]

    /// `sql` split at the semicolons that end its lines (none of these statements has one
    /// inside a line; the function, which has, is given on its own).
    static func statements(_ sql: String) -> [String] {
        sql.components(separatedBy: ";\n").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    }

    /// The advisory lock key nodes migrate under (any constant; "hookbus" in ASCII).
    static let migrationLock: Int64 = 0x686F_6F6B_6275_73

    static let v1 = """
        CREATE TABLE nodes (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            salt BIGINT NOT NULL UNIQUE,
            started_at DOUBLE PRECISION NOT NULL,
            lease_until TIMESTAMPTZ NOT NULL
        );
        CREATE TABLE events (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            hook TEXT NOT NULL,
            source_kind TEXT NOT NULL,
            source_name TEXT,
            replay_of TEXT,
            origin TEXT,
            trigger TEXT,
            received_at DOUBLE PRECISION NOT NULL,
            record TEXT NOT NULL,
            idempotency_key TEXT,
            state TEXT NOT NULL DEFAULT 'pending',
            attempt BIGINT NOT NULL DEFAULT 1,
            completed_at DOUBLE PRECISION,
            subject TEXT,
            subject_position BIGINT,
            owner TEXT
        );
        CREATE UNIQUE INDEX events_idempotency ON events(idempotency_key) WHERE idempotency_key IS NOT NULL;
        CREATE INDEX events_unfinished ON events(seq) WHERE state IN ('pending', 'running');
        CREATE INDEX events_waiting ON events(seq) WHERE state = 'waiting';
        CREATE INDEX events_subject_unfinished ON events(subject, subject_position) WHERE state IN ('pending', 'running');
        CREATE INDEX events_subject_waiting ON events(subject, subject_position) WHERE state = 'waiting';
        CREATE INDEX events_subject ON events(subject, seq) WHERE subject IS NOT NULL;
        CREATE INDEX events_owner ON events(owner) WHERE state = 'running';
        CREATE INDEX events_received ON events(received_at);
        CREATE INDEX events_hook ON events(hook, seq);
        CREATE INDEX events_endpoint ON events(source_name, seq) WHERE source_name IS NOT NULL;
        CREATE TABLE subjects (
            subject TEXT PRIMARY KEY,
            last BIGINT NOT NULL
        );
        CREATE TABLE runs (
            id BIGINT PRIMARY KEY,
            event_id TEXT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
            attempt BIGINT NOT NULL,
            integration TEXT NOT NULL,
            trigger TEXT NOT NULL,
            outcome TEXT NOT NULL,
            exit_code BIGINT,
            signal BIGINT,
            started_at DOUBLE PRECISION NOT NULL,
            ended_at DOUBLE PRECISION,
            stdout BYTEA,
            stderr BYTEA,
            stdout_dropped BIGINT NOT NULL DEFAULT 0,
            stderr_dropped BIGINT NOT NULL DEFAULT 0,
            reason TEXT,
            invocation TEXT,
            previous_run BIGINT,
            results TEXT,
            requested_by TEXT,
            node TEXT
        );
        CREATE INDEX runs_event ON runs(event_id);
        CREATE INDEX runs_trigger ON runs(trigger, id);
        CREATE INDEX runs_outcome ON runs(outcome, id);
        CREATE INDEX runs_previous ON runs(previous_run) WHERE previous_run IS NOT NULL;
        CREATE INDEX runs_running ON runs(node) WHERE outcome = 'running';
        CREATE TABLE deferred_runs (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            event_id TEXT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
            integration TEXT NOT NULL,
            trigger TEXT NOT NULL,
            hold_key TEXT,
            kind TEXT NOT NULL,
            reason TEXT NOT NULL,
            due_at DOUBLE PRECISION NOT NULL,
            attempt BIGINT NOT NULL,
            tries BIGINT NOT NULL,
            previous_run BIGINT,
            requested_by TEXT,
            claimed BOOLEAN NOT NULL DEFAULT false,
            owner TEXT,
            run_id BIGINT,
            position BIGINT NOT NULL,
            hold_position BIGINT NOT NULL
        );
        CREATE INDEX deferred_event ON deferred_runs(event_id);
        CREATE INDEX deferred_due ON deferred_runs(due_at) WHERE NOT claimed;
        CREATE INDEX deferred_hold ON deferred_runs(hold_key, hold_position, id) WHERE hold_key IS NOT NULL;
        CREATE INDEX deferred_previous ON deferred_runs(previous_run) WHERE previous_run IS NOT NULL;
        CREATE INDEX deferred_owner ON deferred_runs(owner) WHERE claimed;
        CREATE TABLE daemon_cursors (daemon TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at DOUBLE PRECISION NOT NULL);
        CREATE TABLE schedules (
            id TEXT PRIMARY KEY, integration TEXT NOT NULL, action TEXT NOT NULL, fields TEXT NOT NULL,
            state TEXT NOT NULL, ended_reason TEXT, started_at DOUBLE PRECISION NOT NULL, last_run_at DOUBLE PRECISION,
            next_run_at DOUBLE PRECISION NOT NULL, last_result TEXT, runs BIGINT NOT NULL DEFAULT 0, end_event TEXT, started_by TEXT
        );
        CREATE TABLE leaders (
            role TEXT PRIMARY KEY,
            node TEXT NOT NULL,
            lease_until TIMESTAMPTZ NOT NULL
        );
        """

    /// One accept batch in one statement (one round trip, committed when it returns):
    /// 1. idempotency keys older than the window are let go (rows locked in key order);
    /// 2. each incident or task in the batch takes its next positions under its `subjects` row's
    ///    lock, rows locked in subject order: a second node accepting an event about the same
    ///    subject waits for this commit, so positions follow commit order — which is what
    ///    "arrival order" means across nodes;
    /// 3. the events are inserted in key order (`ON CONFLICT DO NOTHING`: a known id or a live
    ///    idempotency key is a duplicate), so two batches never wait for each other's keys in
    ///    opposite orders: with 1 and 2, no two accepts can deadlock; a key or an id twice in
    ///    one batch is stored for its first arrival, as the SQLite store does;
    /// 4. one row per input event, in input order: its id (the original's for a duplicate).
    ///
    /// Planned afresh on every call (`force_custom_plan`): PL/pgSQL keeps a connection's plans,
    /// and a generic plan made while `events` was empty (a new database, before autovacuum's
    /// first ANALYZE) read the whole table for each key on every later batch — a new cluster
    /// fell from about 9,000 to 1,200 accepts/s as it filled (`Scripts/cluster-benchmark.sh`).
    static let acceptFunction = """
        CREATE FUNCTION hookbus_accept(p_ids TEXT[], p_hooks TEXT[], p_kinds TEXT[], p_names TEXT[], p_replay_of TEXT[], p_origins TEXT[],
            p_triggers TEXT[], p_received DOUBLE PRECISION[], p_records TEXT[], p_keys TEXT[], p_settled BOOLEAN[], p_subjects TEXT[],
            p_claimed_by TEXT, p_cutoff DOUBLE PRECISION)
        RETURNS TABLE (ordinal BIGINT, event_id TEXT, duplicate BOOLEAN) LANGUAGE plpgsql
        SET plan_cache_mode = force_custom_plan AS $$
        DECLARE
            inserted TEXT[];
        BEGIN
            IF EXISTS (SELECT 1 FROM unnest(p_keys) AS k WHERE k IS NOT NULL) THEN
                PERFORM 1 FROM events WHERE idempotency_key = ANY(p_keys) AND received_at < p_cutoff ORDER BY idempotency_key FOR UPDATE;
                UPDATE events SET idempotency_key = NULL WHERE idempotency_key = ANY(p_keys) AND received_at < p_cutoff;
            END IF;
            WITH taken AS (
                INSERT INTO subjects AS x (subject, last)
                SELECT t.subject, COUNT(*) FROM unnest(p_subjects) AS t(subject) WHERE t.subject IS NOT NULL GROUP BY t.subject ORDER BY t.subject
                ON CONFLICT (subject) DO UPDATE SET last = x.last + excluded.last
                RETURNING x.subject, x.last
            ), input AS (
                SELECT t.*, p.last - COUNT(*) OVER (PARTITION BY t.subject) + ROW_NUMBER() OVER (PARTITION BY t.subject ORDER BY t.ordinal) AS position
                FROM unnest(p_ids, p_hooks, p_kinds, p_names, p_replay_of, p_origins, p_triggers, p_received, p_records, p_keys, p_settled, p_subjects)
                    WITH ORDINALITY AS t(id, hook, kind, name, replay_of, origin, trigger, received, record, key, settled, subject, ordinal)
                LEFT JOIN taken p ON p.subject = t.subject
            ), added AS (
                INSERT INTO events (id, hook, source_kind, source_name, replay_of, origin, trigger, received_at, record, idempotency_key, state,
                                    completed_at, subject, subject_position, owner)
                SELECT id, hook, kind, name, replay_of, origin, trigger, received, record, key,
                       CASE WHEN settled THEN 'done' WHEN p_claimed_by IS NOT NULL THEN 'running' ELSE 'pending' END,
                       CASE WHEN settled THEN received END, subject, CASE WHEN subject IS NULL THEN NULL ELSE position END,
                       CASE WHEN settled THEN NULL ELSE p_claimed_by END
                FROM input ORDER BY input.key NULLS LAST, input.ordinal
                ON CONFLICT DO NOTHING
                RETURNING events.id
            )
            SELECT array_agg(id) INTO inserted FROM added;
            RETURN QUERY
                SELECT t.ordinal, CASE WHEN t.id = ANY(inserted) OR t.key IS NULL THEN t.id
                                       ELSE COALESCE((SELECT e.id FROM events e WHERE e.idempotency_key = t.key), t.id) END,
                       NOT (COALESCE(t.id = ANY(inserted), false) AND t.ordinal = t.first)
                FROM (SELECT u.*, MIN(u.ordinal) OVER (PARTITION BY u.id) AS first
                      FROM unnest(p_ids, p_keys) WITH ORDINALITY AS u(id, key, ordinal)) t
                ORDER BY t.ordinal;
        END;
        $$;
        """
}
