import Foundation
import HookBus
import PostgresTestSupport
import Testing

/// `hookbus store copy`: SQLite stores filled by a real server (bash triggers, a failing run, a
/// NUL in a run's output, an idempotency key, events about one incident, a server killed
/// mid-run) copied into real PostgreSQL databases, compared column by column with what the
/// SQLite file holds (read by python3's sqlite3, the database by psql); copied again (nothing
/// changes), killed halfway and run again (the same as a clean copy), refused where it would
/// not be safe, and a PostgreSQL node started over the copy.
@Suite struct StoreCopyTests {
    // MARK: Stores

    /// Integration `Ops` (bash): `Note` on newIncident prints a NUL in its output; `Track` on
    /// updateIncident prints the incident it was given; `Fail` on closeIncident exits 3.
    static func hooks(_ scratch: Scratch) {
        scratch.write("hooks/ops.yaml", "name: 'Ops'\nscript:\n  type: bash\nconfiguration:\n  data_attributes: {}\n")
        scratch.write("hooks/note.yaml", """
            integration: 'Ops'
            name: 'Note'
            type: Trigger
            script:
              code: |
                printf 'noted %s\\0after the NUL\\n' "$HOOKBUS_EVENT_ID"
                echo "to stderr" >&2
            hook: [newIncident]
            """)
        scratch.write("hooks/track.yaml", """
            integration: 'Ops'
            name: 'Track'
            type: Trigger
            script:
              code: printf '%s' "$incidentsAfterUpdate"
            hook: [updateIncident]
            """)
        scratch.write("hooks/fail.yaml", """
            integration: 'Ops'
            name: 'Fail'
            type: Trigger
            script:
              code: |
                echo "the incident system said no" >&2
                exit 3
            hook: [closeIncident]
            """)
        scratch.write("hookbus.yaml", "runner: {concurrency: 2, grace: 1, run_dir: runs, timeout: 60}\n")
    }

    /// A node's folder `name` over the database at `url` (its URL from the environment), with
    /// `runner` settings and `extra` configuration.
    static func postgresNode(_ scratch: Scratch, _ name: String, url: String, runner: String = "concurrency: 2, grace: 1, run_dir: runs, timeout: 60",
                             extra: String = "") throws -> ServerProcess {
        scratch.write("\(name)/hookbus.yaml", """
            runner: {\(runner)}
            store: {kind: postgres, url: {env: HOOKBUS_POSTGRES_URL}}
            \(extra)
            """)
        return try ServerProcess(directory: scratch.url.appendingPathComponent(name).path, arguments: ["--hooks", scratch.url.appendingPathComponent("hooks").path],
                                 environment: ["HOOKBUS_POSTGRES_URL": url])
    }

    static func post(_ server: ServerProcess, _ hook: String, _ body: String, key: String? = nil) async throws -> (id: String, duplicate: Bool) {
        let (status, answer) = try await request("POST", server.base + "/api/v1/hooks/\(hook)", body: body, headers: key.map { ["Idempotency-Key": $0] } ?? [:])
        #expect(status == 202, "\(hook): \(answer.map(\.jsonText) ?? "")")
        return (try #require(answer?["event"]?.stringValue), answer?["duplicate"] == .bool(true))
    }

    static func copy(_ scratch: Scratch, from dataDirectory: String = "data", url: String) throws -> CommandResult {
        try hookbus(["store", "copy", "--from", dataDirectory], in: scratch.path, environment: ["HOOKBUS_POSTGRES_URL": url])
    }

    // MARK: Reading both stores

    /// Rows of `sql` on an SQLite file, read by python3's sqlite3: columns joined by U+001F, NULL
    /// as ∅, reals as Python's `repr` (the shortest text that reads back the same number, as
    /// PostgreSQL prints a `double precision`), blobs in hex, `md5(text)` as in PostgreSQL; what
    /// the statement writes is committed.
    static func sqlite(_ path: String, _ sql: String) throws -> [String] {
        let script = """
            import hashlib, sqlite3, sys
            c = sqlite3.connect(sys.argv[1], timeout=10)
            c.create_function('md5', 1, lambda s: None if s is None else hashlib.md5(s.encode() if isinstance(s, str) else s).hexdigest())
            def text(v):
                if v is None: return '∅'
                if isinstance(v, float): return repr(v)
                if isinstance(v, bytes): return v.hex()
                return str(v)
            for row in c.execute(sys.argv[2]).fetchall():
                sys.stdout.write('\\x1f'.join(text(v) for v in row) + '\\n')
            c.commit()
            """
        let output = try TestPostgres.run("/usr/bin/python3", ["-c", script, path, sql], environment: ["PYTHONIOENCODING": "utf-8"])
        return output.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    /// Rows of `columns` (SQL expressions) of `from` on the database, in the form `sqlite` gives.
    static func postgres(_ url: String, _ columns: [String], _ from: String) throws -> [String] {
        let row = columns.map { "COALESCE((\($0))::TEXT, '∅')" }.joined(separator: ", ")
        let text = try TestPostgres.psql(url, "SELECT concat_ws(chr(31), \(row)) \(from)")
        return text.isEmpty ? [] : text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    static func count(_ url: String, _ sql: String) throws -> Int {
        try #require(Int(try TestPostgres.psql(url, sql)), "\(sql)")
    }

    /// The columns compared, as SQL on each side (the same unless the types differ: `bytea`
    /// and booleans).
    static let eventColumns = ["id", "hook", "source_kind", "source_name", "replay_of", "origin", "trigger", "received_at", "md5(record)", "idempotency_key",
                               "state", "attempt", "completed_at", "subject"]
    static func runColumns(postgres: Bool) -> [String] {
        ["id", "event_id", "attempt", "integration", "trigger", "outcome", "exit_code", "signal", "started_at", "ended_at",
         postgres ? "encode(stdout, 'hex')" : "CAST(stdout AS BLOB)", postgres ? "encode(stderr, 'hex')" : "CAST(stderr AS BLOB)",
         "stdout_dropped", "stderr_dropped", "reason", "md5(invocation)", "previous_run", "md5(results)", "requested_by"]
    }

    /// Every event's place among the events about its subject is its rank there in `seq`
    /// order, and each subject's `last` is its highest place: what an accept leaves.
    static func checkSubjectPositions(_ url: String) throws {
        #expect(try count(url, """
            SELECT COUNT(*) FROM events e WHERE (subject IS NULL) <> (subject_position IS NULL)
            OR subject_position <> (SELECT COUNT(*) FROM events x WHERE x.subject = e.subject AND x.seq <= e.seq)
            """) == 0)
        #expect(try count(url, "SELECT COUNT(*) FROM subjects s WHERE last <> (SELECT MAX(subject_position) FROM events e WHERE e.subject = s.subject)") == 0)
        #expect(try count(url, "SELECT COUNT(DISTINCT subject) FROM events") == (try count(url, "SELECT COUNT(*) FROM subjects")))
    }

    /// A digest of each table. `withSequences`: the numbers PostgreSQL gave (`seq`, the
    /// identity sequences) too; without, events by their order only (a copy killed halfway
    /// leaves a gap in `seq`: PostgreSQL does not give back the numbers of a transaction that
    /// did not commit).
    static func digest(_ url: String, withSequences: Bool) throws -> [String: String] {
        let eventRow = withSequences ? "e::TEXT" : """
            ROW(id, hook, source_kind, source_name, replay_of, origin, trigger, received_at, record, idempotency_key, state, attempt, completed_at, subject,
                subject_position, owner)::TEXT
            """
        let deferredRow = withSequences ? "d::TEXT" : """
            ROW(d.id, d.event_id, d.integration, d.trigger, d.hold_key, d.kind, d.reason, d.due_at, d.attempt, d.tries, d.previous_run, d.requested_by,
                d.claimed, d.owner, d.run_id, (SELECT COUNT(*) FROM events x WHERE x.seq <= d.position))::TEXT
            """
        let queries = [
            "events": "SELECT md5(COALESCE(string_agg(\(eventRow), chr(30) ORDER BY seq), '')) FROM events e",
            "runs": "SELECT md5(COALESCE(string_agg(r::TEXT, chr(30) ORDER BY id), '')) FROM runs r",
            "subjects": "SELECT md5(COALESCE(string_agg(s::TEXT, chr(30) ORDER BY subject), '')) FROM subjects s",
            "deferred_runs": "SELECT md5(COALESCE(string_agg(\(deferredRow), chr(30) ORDER BY id), '')) FROM deferred_runs d",
            "daemon_cursors": "SELECT md5(COALESCE(string_agg(c::TEXT, chr(30) ORDER BY daemon), '')) FROM daemon_cursors c",
            "schedules": "SELECT md5(COALESCE(string_agg(s::TEXT, chr(30) ORDER BY id), '')) FROM schedules s",
        ]
        var digests: [String: String] = [:]
        for (table, sql) in queries { digests[table] = try TestPostgres.psql(url, sql) }
        if withSequences {
            digests["sequences"] = try TestPostgres.psql(url, """
                SELECT pg_sequence_last_value(pg_get_serial_sequence('events', 'seq')::REGCLASS) || '/'
                    || COALESCE(pg_sequence_last_value(pg_get_serial_sequence('deferred_runs', 'id')::REGCLASS)::TEXT, '∅')
                """)
        }
        return digests
    }

    // MARK: Tests

    @Test func aStoppedStoreIsCopiedRowForRowAndAPostgresNodeCarriesOn() async throws {
        let scratch = Scratch()
        Self.hooks(scratch)
        let url = try TestPostgres.freshDatabase()
        let server = try ServerProcess(directory: scratch.path, arguments: ["--hooks", "hooks"])
        var ids: [String] = []
        for incident in 1...3 { ids.append(try await Self.post(server, "newIncident", #"{"incidentsDetail": {"id": \#(incident)}}"#).id) }
        let keyed = try await Self.post(server, "newIncident", #"{"incidentsDetail": {"id": 9}}"#, key: "ticket-9")
        let again = try await Self.post(server, "newIncident", #"{"incidentsDetail": {"id": 9}}"#, key: "ticket-9")
        #expect(again.duplicate && again.id == keyed.id)
        ids.append(keyed.id)
        for n in 1...4 {
            ids.append(try await Self.post(server, "updateIncident", #"{"incidentsBeforeUpdate": {"id": 1}, "incidentsAfterUpdate": {"id": 1, "n": \#(n)}}"#).id)
        }
        let closed = try await Self.post(server, "closeIncident", #"{"incidentsBeforeUpdate": {"id": 1}, "incidentsAfterUpdate": {"id": 1}}"#).id
        ids.append(closed)
        let settled = try await eventually(within: .seconds(30)) {
            var done = true
            for id in ids where try await request("GET", server.base + "/api/v1/events/\(id)").1?["state"] != .string("done") { done = false }
            return done
        }
        #expect(settled, "\(server.log)")

        // While the server has the store open, the copy refuses, and writes nothing.
        let refused = try Self.copy(scratch, url: url)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("the SQLite store is in use (process \(server.process.processIdentifier)"), "\(refused.stderr)")
        #expect(refused.stderr.split(separator: "\n").count == 1)
        server.stop()

        // Daemon cursors and schedules are written by daemons and Scheduled actions, other
        // suites' business: rows of each are put in as those would leave them.
        let database = scratch.path + "/data/hookbus.sqlite"
        _ = try Self.sqlite(database, """
            INSERT INTO daemon_cursors (daemon, value, updated_at) VALUES ('Ops/Poll', '{"since": 42}', 1796400000.25)
            RETURNING 1
            """)
        _ = try Self.sqlite(database, """
            INSERT INTO schedules (id, integration, action, fields, state, ended_reason, started_at, next_run_at, runs, started_by)
            VALUES ('sch_1', 'Ops', 'Scan', '{"host": "a"}', 'ended', 'expired', 1796400000.5, 1796400060.5, 3, 'cli:ann') RETURNING 1
            """)

        let first = try Self.copy(scratch, url: url)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("events 9/9\nruns 9/9\n"), "\(first.stdout)")
        #expect(first.stdout.contains("events 9 (9 new), runs 9 (9 new), deferred runs 0 (0 new), daemon cursors 1 (1 new), schedules 1 (1 new)"), "\(first.stdout)")
        #expect(!first.stdout.contains("running"))

        // Events: every column, in the same order; positions per subject; no owner.
        let sqliteEvents = try Self.sqlite(database, "SELECT \(Self.eventColumns.joined(separator: ", ")) FROM events ORDER BY seq")
        #expect(sqliteEvents.count == 9)
        #expect(try Self.postgres(url, Self.eventColumns, "FROM events ORDER BY seq") == sqliteEvents)
        #expect(try TestPostgres.psql(url, "SELECT string_agg(id, ',' ORDER BY seq) FROM events") == ids.joined(separator: ","))
        try Self.checkSubjectPositions(url)
        #expect(try TestPostgres.psql(url, "SELECT string_agg(subject_position::TEXT, ',' ORDER BY seq) FROM events WHERE subject = 'incident:1'") == "1,2,3,4,5,6")
        #expect(try TestPostgres.psql(url, "SELECT last FROM subjects WHERE subject = 'incident:1'") == "6")
        #expect(try TestPostgres.psql(url, "SELECT id FROM events WHERE idempotency_key = 'ticket-9'") == keyed.id)
        #expect(try Self.count(url, "SELECT COUNT(*) FROM events WHERE owner IS NOT NULL OR state <> 'done'") == 0)

        // Runs: every column, output byte for byte (a NUL included), no node.
        let sqliteRuns = try Self.sqlite(database, "SELECT \(Self.runColumns(postgres: false).joined(separator: ", ")) FROM runs ORDER BY id")
        #expect(sqliteRuns.count == 9)
        #expect(try Self.postgres(url, Self.runColumns(postgres: true), "FROM runs ORDER BY id") == sqliteRuns)
        let nul = try TestPostgres.psql(url, "SELECT encode(stdout, 'hex') FROM runs WHERE event_id = '\(ids[0])'")
        #expect(nul == Data("noted \(ids[0])\0after the NUL\n".utf8).map { String(format: "%02x", $0) }.joined())
        #expect(try TestPostgres.psql(url, "SELECT outcome || ' ' || exit_code || ' ' || convert_from(stderr, 'UTF8') FROM runs WHERE event_id = '\(closed)'")
            == "failed 3 the incident system said no")
        #expect(try Self.count(url, "SELECT COUNT(*) FROM runs WHERE node IS NOT NULL") == 0)
        #expect(try TestPostgres.psql(url, "SELECT daemon || ' ' || value FROM daemon_cursors") == #"Ops/Poll {"since": 42}"#)
        #expect(try TestPostgres.psql(url, "SELECT id || ' ' || state || ' ' || runs || ' ' || started_by FROM schedules") == "sch_1 ended 3 cli:ann")

        // Again: nothing new, nothing changed (not even the sequences).
        let before = try Self.digest(url, withSequences: true)
        let second = try Self.copy(scratch, url: url)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains("events 9 (0 new), runs 9 (0 new), deferred runs 0 (0 new), daemon cursors 1 (0 new), schedules 1 (0 new)"), "\(second.stdout)")
        #expect(try Self.digest(url, withSequences: true) == before)
        // A cursor the database has is kept (a copy adds only what is missing).
        try TestPostgres.psql(url, #"UPDATE daemon_cursors SET value = '{"since": 99}'"#)
        #expect(try Self.copy(scratch, url: url).status == 0)
        #expect(try TestPostgres.psql(url, "SELECT value FROM daemon_cursors") == #"{"since": 99}"#)

        // A PostgreSQL node over the copy: it serves the copied events and runs, and an event
        // about incident 1 takes the next place after the copied ones and runs.
        let node = try Self.postgresNode(scratch, "pg", url: url)
        defer { node.stop() }
        let (_, event) = try await request("GET", node.base + "/api/v1/events/\(ids[0])")
        #expect(event?["state"] == .string("done"))
        #expect(event?["runs"]?.arrayValue.first?["stdout"] == .string("noted \(ids[0])\0after the NUL\n"), "\(event.map(\.jsonText) ?? "")")
        let audit = try hookbus(["audit", "--json", "--limit", "100", "--hooks", "../hooks"], in: scratch.path + "/pg", environment: ["HOOKBUS_POSTGRES_URL": url])
        #expect(audit.status == 0, "\(audit.stderr)")
        let auditedRuns = audit.stdout.split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) }.compactMap { $0["run"]?.scalarText }
        let copiedRuns = try TestPostgres.psql(url, "SELECT id FROM runs ORDER BY id").split(separator: "\n").map(String.init)
        #expect(Set(copiedRuns).isSubset(of: Set(auditedRuns)), "\(audit.stdout)")
        let later = try await Self.post(node, "updateIncident", #"{"incidentsBeforeUpdate": {"id": 1}, "incidentsAfterUpdate": {"id": 1, "n": 5}}"#).id
        #expect(try TestPostgres.psql(url, "SELECT subject_position FROM events WHERE id = '\(later)'") == "7")
        let ran = try await eventually(within: .seconds(30)) {
            try await request("GET", node.base + "/api/v1/events/\(later)").1?["runs"]?.arrayValue.first?["stdout"] == .string(#"{"id": 1, "n": 5}"#)
        }
        #expect(ran, "\(node.log)")
        node.stop()

        // Nodes have used the database now: no more copies into it.
        let after = try Self.copy(scratch, url: url)
        #expect(after.status == 1)
        #expect(after.stderr.contains("HookBus nodes have used the database"), "\(after.stderr)")
    }

    /// A server killed with `kill -9` mid-run leaves a running event and runs, a retry running
    /// (its deferred row claimed) and a run waiting for its integration's limit: the copy makes
    /// of them what a restart would, and a PostgreSQL node finishes them.
    @Test func aServerKilledMidRunIsCopiedAsARestartWouldFindIt() async throws {
        let scratch = Scratch()
        let state = scratch.state
        scratch.write("hooks/ops.yaml", "name: 'Ops'\nscript:\n  type: bash\nconfiguration:\n  data_attributes: {}\n")
        scratch.write("hooks/paced.yaml", "name: 'Paced'\nscript:\n  type: bash\nconfiguration:\n  data_attributes: {}\n")
        // Try 1 fails; try 2 waits for the gate, then succeeds.
        scratch.write("hooks/flaky.yaml", """
            integration: 'Ops'
            name: 'Flaky'
            type: Trigger
            script:
              code: |
                n=$(( $(cat "\(state)/flaky.count" 2>/dev/null || echo 0) + 1 ))
                echo $n > "\(state)/flaky.count"
                [ "$n" -ge 2 ] || { echo "down" >&2; exit 1; }
                while [ ! -e "\(state)/gate" ]; do sleep 0.05; done
                echo "flaky try $n"
            hook: [updateIncident]
            """)
        scratch.write("hooks/slow.yaml", """
            integration: 'Paced'
            name: 'Slow'
            type: Trigger
            script:
              code: |
                while [ ! -e "\(state)/gate" ]; do sleep 0.05; done
                printf 'slow %s' "$tasksDetail"
            hook: [createTask]
            """)
        let limits = """
            integrations: {'Paced': {max_concurrency: 1}}
            retry: {on: [failed], attempts: 3, delay: 0.3, jitter: 0}
            """
        let runner = "concurrency: 4, grace: 1, run_dir: runs, timeout: 60, sandbox_write: ['\(state)']"
        scratch.write("hookbus.yaml", "runner: {\(runner)}\n" + limits)
        let server = try ServerProcess(directory: scratch.path, arguments: ["--hooks", "hooks"])
        let flaky = try await Self.post(server, "updateIncident", #"{"incidentsBeforeUpdate": {"id": 4}, "incidentsAfterUpdate": {"id": 4}}"#).id
        let first = try await Self.post(server, "createTask", #"{"tasksDetail": {"id": 1}}"#).id
        let second = try await Self.post(server, "createTask", #"{"tasksDetail": {"id": 2}}"#).id
        let database = scratch.path + "/data/hookbus.sqlite"
        let busy = try await eventually(within: .seconds(30)) {
            try Self.sqlite(database, """
                SELECT (SELECT COUNT(*) FROM runs WHERE outcome = 'running'), (SELECT COUNT(*) FROM deferred_runs WHERE claimed = 1 AND run_id IS NOT NULL),
                       (SELECT COUNT(*) FROM deferred_runs WHERE claimed = 0 AND kind = 'limit')
                """) == ["2\u{1f}1\u{1f}1"]
        }
        #expect(busy, "\((try? Self.sqlite(database, "SELECT * FROM deferred_runs")) ?? []) \(server.log)")
        server.kill9()

        let url = try TestPostgres.freshDatabase()
        let copied = try Self.copy(scratch, url: url)
        #expect(copied.status == 0, "\(copied.stderr)")
        #expect(copied.stdout.contains("2 running runs marked interrupted, 1 claimed deferred run waiting again"), "\(copied.stdout)")

        // Events: a running one pending again with its attempt raised; the others as they were.
        let sqliteEvents = try Self.sqlite(database, "SELECT id, state, attempt FROM events ORDER BY seq")
        let expectedEvents = sqliteEvents.map { row -> String in
            let fields = row.split(separator: "\u{1f}").map(String.init)
            return fields[1] == "running" ? "\(fields[0])\u{1f}pending\u{1f}\(Int(fields[2])! + 1)" : row
        }
        #expect(sqliteEvents.contains { $0.contains("\u{1f}running\u{1f}") }, "\(sqliteEvents)")
        #expect(try Self.postgres(url, ["id", "state", "attempt"], "FROM events ORDER BY seq") == expectedEvents)
        try Self.checkSubjectPositions(url)

        // Runs: running ones interrupted, with a reason and an end; the others as they were.
        let runColumns = ["id", "event_id", "attempt", "outcome", "reason", "ended_at IS NULL"]
        let sqliteRuns = try Self.sqlite(database, "SELECT \(runColumns.joined(separator: ", ")) FROM runs ORDER BY id")
        let postgresRuns = try Self.postgres(url, runColumns, "FROM runs ORDER BY id")
        try #require(postgresRuns.count == sqliteRuns.count && sqliteRuns.count == 3, "\(sqliteRuns) \(postgresRuns)")
        for (before, after) in zip(sqliteRuns, postgresRuns) {
            let was = before.split(separator: "\u{1f}").map(String.init), now = after.split(separator: "\u{1f}").map(String.init)
            #expect(was[0...2] == now[0...2])
            if was[3] == "running" {
                #expect(now[3] == "interrupted" && now[4].hasPrefix("HookBus stopped while it ran") && now[5] == "false", "\(now)")
            } else {
                #expect(was == now.map { $0 == "false" ? "0" : $0 == "true" ? "1" : $0 })
            }
        }

        // Deferred runs: same ids; the claimed one waits again as the same try, linked to its
        // interrupted run; positions from the events' places in the database.
        let deferredColumns = ["id", "event_id", "kind", "claimed", "run_id", "previous_run", "attempt", "tries", "hold_key"]
        let sqliteDeferred = try Self.sqlite(database, "SELECT \(deferredColumns.joined(separator: ", ")) FROM deferred_runs ORDER BY id").map { $0.split(separator: "\u{1f}").map(String.init) }
        let postgresDeferred = try Self.postgres(url, deferredColumns.map { $0 == "claimed" ? "claimed::INT" : $0 }, "FROM deferred_runs ORDER BY id")
            .map { $0.split(separator: "\u{1f}").map(String.init) }
        try #require(sqliteDeferred.count == 2 && postgresDeferred.count == 2, "\(sqliteDeferred) \(postgresDeferred)")
        for (was, now) in zip(sqliteDeferred, postgresDeferred) {
            if was[3] == "1" {
                #expect(now == [was[0], was[1], was[2], "0", "∅", was[4], String(Int(was[6])! + 1), was[7], was[8]])
            } else {
                #expect(now == was)
            }
        }
        #expect(try Self.count(url, """
            SELECT COUNT(*) FROM deferred_runs d JOIN events e ON e.id = d.event_id
            WHERE d.position <> e.seq OR d.hold_position <> COALESCE(e.subject_position, e.seq) OR d.owner IS NOT NULL
            """) == 0)
        #expect(try Self.count(url, "SELECT pg_sequence_last_value(pg_get_serial_sequence('deferred_runs', 'id')::REGCLASS) - MAX(id) FROM deferred_runs") == 0)
        // Again: the recovered rows are recognised as this store's, and nothing changes.
        let before = try Self.digest(url, withSequences: true)
        let again = try Self.copy(scratch, url: url)
        #expect(again.status == 0 && again.stdout.contains("runs 3 (0 new), deferred runs 2 (0 new)"), "\(again.stdout) \(again.stderr)")
        #expect(try Self.digest(url, withSequences: true) == before)

        // A node finishes it all: the retry repeated once, linked to the interrupted try; the
        // limited run after the other.
        _ = FileManager.default.createFile(atPath: state + "/gate", contents: nil)
        let node = try Self.postgresNode(scratch, "pg", url: url, runner: runner, extra: limits)
        defer { node.stop() }
        var events: [String: JSONValue] = [:]
        let finished = try await eventually(within: .seconds(60)) {
            for id in [flaky, first, second] { events[id] = try await request("GET", node.base + "/api/v1/events/\(id)").1 }
            return events.values.allSatisfy { $0["state"] == .string("done") }
        }
        #expect(finished, "\(events.mapValues(\.jsonText)) \(node.log)")
        let flakyRuns = events[flaky]?["runs"]?.arrayValue ?? []
        #expect(flakyRuns.map { $0["outcome"] } == [.string("failed"), .string("interrupted"), .string("succeeded")], "\(flakyRuns)")
        if flakyRuns.count == 3 { #expect(flakyRuns[2]["previousRun"] == flakyRuns[1]["run"]) }
        for id in [first, second] {
            #expect(events[id]?["runs"]?.arrayValue.last?["outcome"] == .string("succeeded"), "\(events[id].map(\.jsonText) ?? "")")
        }
    }

    /// 50,000 events: a copy killed with SIGKILL after its first progress line, run again,
    /// gives what a copy that was never stopped gives.
    @Test func aCopyKilledHalfwayFinishesWhenRunAgainAsACleanCopyWould() async throws {
        let scratch = Scratch()
        Self.hooks(scratch)
        let events = 50_000
        var lines: [String] = []
        for n in 0..<events {
            // Tasks and triage events no trigger listens to (stored done), about 700 subjects.
            let (hook, params) = switch n % 3 {
            case 0: ("updateTask", #"{"tasksBeforeUpdate": {"id": \#(n % 700)}, "tasksAfterUpdate": {"id": \#(n % 700), "n": \#(n)}}"#)
            case 1: ("closeTask", #"{"tasksDetail": {"id": \#(n % 700), "status": "closed"}}"#)
            default: ("grabEvent", #"{"triage_eventsDetail": {"id": \#(n % 300), "status": "new", "owner": "ann"}}"#)
            }
            lines.append(#"{"id": "evt_bulk_\#(n)", "hook": "\#(hook)", "params": \#(params)}"#)
        }
        scratch.write("events.jsonl", lines.joined(separator: "\n") + "\n")
        let server = try ServerProcess(directory: scratch.path, arguments: ["--hooks", "hooks"])
        let replayed = try hookbus(["replay", "events.jsonl", "--to", server.base], in: scratch.path)
        #expect(replayed.status == 0, "\(replayed.stderr)")
        // A few events with runs too (a NUL in the output).
        for incident in 1...5 { _ = try await Self.post(server, "newIncident", #"{"incidentsDetail": {"id": \#(incident)}}"#) }
        let ran = try await eventually(within: .seconds(30)) {
            try await request("GET", server.base + "/api/v1/runs?limit=10").1?["runs"]?.arrayValue.count == 5
        }
        #expect(ran)
        server.stop()

        let clean = try TestPostgres.freshDatabase()
        let started = ContinuousClock.now
        let whole = try Self.copy(scratch, url: clean)
        let took = (ContinuousClock.now - started).components
        let seconds = Double(took.seconds) + Double(took.attoseconds) / 1e18
        #expect(whole.status == 0, "\(whole.stderr)")
        print("store copy: \(events + 5) events and 5 runs in \(String(format: "%.1f", seconds)) s (\(Int(Double(events) / seconds)) events/s)")

        // The same store into another database, killed after its first progress line.
        let resumed = try TestPostgres.freshDatabase()
        let output = scratch.path + "/copy.out"
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: hookbusBinary)
        process.arguments = ["store", "copy", "--from", "data"]
        process.currentDirectoryURL = scratch.url
        process.environment = ProcessInfo.processInfo.environment.merging(["HOOKBUS_POSTGRES_URL": resumed]) { $1 }
        process.standardOutput = FileHandle(forWritingAtPath: output)
        try process.run()
        let progressed = await eventually(within: .seconds(60)) {
            ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").contains("events ")
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(progressed)
        let partial = try Self.count(resumed, "SELECT COUNT(*) FROM events")
        #expect(partial > 0 && partial < events, "\(partial) events copied before the kill")

        let finish = try Self.copy(scratch, url: resumed)
        #expect(finish.status == 0, "\(finish.stderr)")
        #expect(finish.stdout.contains("events \(events + 5) (\(events + 5 - partial) new), runs 5 (5 new)"), "\(finish.stdout)")
        #expect(try Self.digest(resumed, withSequences: false) == (try Self.digest(clean, withSequences: false)))
        try Self.checkSubjectPositions(resumed)
        #expect(try TestPostgres.psql(resumed, "SELECT string_agg(id, ',' ORDER BY seq) FROM events")
            == (try Self.sqlite(scratch.path + "/data/hookbus.sqlite", "SELECT id FROM events ORDER BY seq").joined(separator: ",")))
    }

    /// What the copy refuses, each with one line and exit status 1, changing nothing.
    @Test func aCopyRefusesWhatItCannotCopySafely() async throws {
        let scratch = Scratch()
        Self.hooks(scratch)
        scratch.write("incident.json", #"{"incidentsDetail": {"id": 7}}"#)
        scratch.write("other/hookbus.yaml", "runner: {run_dir: runs}\n")
        scratch.write("other/incident.json", #"{"incidentsDetail": {"id": 8}}"#)
        #expect(try hookbus(["fire", "newIncident", "--params", "incident.json", "--hooks", "hooks"], in: scratch.path).status == 0)
        #expect(try hookbus(["fire", "newIncident", "--params", "incident.json", "--hooks", "../hooks"], in: scratch.path + "/other").status == 0)
        let url = try TestPostgres.freshDatabase()

        func refused(_ result: CommandResult, _ reason: String) {
            #expect(result.status == 1, "\(result.stdout)")
            #expect(result.stderr.hasPrefix("hookbus: \(reason)") && result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        }
        refused(try Self.copy(scratch, from: "nowhere", url: url), "store copy: no SQLite store to copy: nowhere/hookbus.sqlite does not exist")
        refused(try hookbus(["store", "copy", "--from", "data"], in: scratch.path, environment: ["HOOKBUS_POSTGRES_URL": ""]),
                "no database to copy into: give --to URL or set HOOKBUS_POSTGRES_URL")
        refused(try Self.copy(scratch, url: "mysql://somewhere/db"), "store copy: the PostgreSQL URL must look like")

        // Copied once; another store's events are not a continuation of it.
        let copied = try hookbus(["store", "copy", "--from", "data", "--to", url], in: scratch.path)
        #expect(copied.status == 0, "\(copied.stderr)")
        let before = try Self.digest(url, withSequences: true)
        refused(try Self.copy(scratch, from: "other/data", url: url), "store copy: the database's events are not a copy of this SQLite store's (its event number 1 is")
        #expect(try Self.digest(url, withSequences: true) == before)
        // The store used since (an event re-driven: attempt 2): what was copied is out of date.
        let event = try TestPostgres.psql(url, "SELECT id FROM events")
        #expect(try hookbus(["replay", "--event", event, "--hooks", "hooks"], in: scratch.path).status == 0)
        refused(try Self.copy(scratch, url: url), "store copy: the SQLite store was used since the database was copied from it (event \(event) is done (attempt 2)")
        #expect(try Self.digest(url, withSequences: true) == before)

        // A node running on the database, then one that has run there.
        let node = try Self.postgresNode(scratch, "pg", url: url)
        refused(try Self.copy(scratch, url: url), "store copy: HookBus nodes are running on the database (1 with a live lease")
        node.stop()
        refused(try Self.copy(scratch, url: url), "store copy: HookBus nodes have used the database")
    }
}
