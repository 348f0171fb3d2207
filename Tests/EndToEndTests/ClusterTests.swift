import Foundation
import HookBus
import PostgresTestSupport
import Testing

/// Several `hookbus serve` nodes on one real PostgreSQL (`store: {kind: postgres}`): a node
/// killed with `kill -9` under load, PostgreSQL stopped and started under load, idempotency
/// keys across nodes, the daemons' lead moving to the node that survives. Every check reads
/// the audit trail in the database with psql (what both nodes wrote), and a client-side ledger
/// of every 202.
@Suite(.serialized) struct ClusterTests {
    /// A node: its own folder (run folders are per node: a starting node ends what it finds
    /// left in its own), the shared trigger definitions, the database's URL.
    static func node(_ scratch: Scratch, _ name: String, url: String, extra: String = "") throws -> ServerProcess {
        let folder = scratch.url.appendingPathComponent(name).path
        scratch.write("\(name)/hookbus.yaml", """
            runner: {concurrency: 4, grace: 1, run_dir: runs, timeout: 60}
            store: {kind: postgres, url: {env: HOOKBUS_POSTGRES_URL}}
            \(extra)
            """)
        return try ServerProcess(directory: folder, arguments: ["--hooks", scratch.url.appendingPathComponent("hooks").path],
                                 environment: ["HOOKBUS_POSTGRES_URL": url])
    }

    /// Integration `Ordered` (bash): `Track` on updateIncident takes 20 ms and prints the
    /// incident it was given.
    static func hooks(_ scratch: Scratch) {
        scratch.write("hooks/ordered.yaml", "name: 'Ordered'\nscript:\n  type: bash\nconfiguration:\n  data_attributes: {}\n")
        scratch.write("hooks/track.yaml", """
            integration: 'Ordered'
            name: 'Track'
            type: Trigger
            script:
              code: |
                sleep 0.02
                printf '%s' "$incidentsAfterUpdate"
            hook: [updateIncident]
            """)
    }

    static func update(incident: Int, n: Int) -> String {
        #"{"incidentsBeforeUpdate": {"id": \#(incident), "n": \#(n)}, "incidentsAfterUpdate": {"id": \#(incident), "n": \#(n)}}"#
    }

    /// Posts one event as a sender that retries does: on a refused connection or a 503 it
    /// tries the other node, with the same idempotency key, until one answers 202.
    static func send(_ body: String, key: String, to nodes: [ServerProcess], first: Int, statuses: Ledger) async -> String? {
        for attempt in 0..<400 {
            let server = nodes[(first + attempt) % nodes.count]
            do {
                let (status, answer) = try await request("POST", server.base + "/api/v1/hooks/updateIncident", body: body, headers: ["Idempotency-Key": key])
                statuses.record(status)
                if status == 202, let id = answer?["event"]?.stringValue { return id }
            } catch {
                statuses.record(0)
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    /// What the client saw: every 202's event, and every answer's status (0: no answer).
    final class Ledger: @unchecked Sendable {
        private let lock = NSLock()
        private var accepted: [String: String] = [:]
        private var counts: [Int: Int] = [:]

        func record(_ status: Int) { lock.withLock { counts[status, default: 0] += 1 } }
        func accept(_ key: String, _ id: String) { lock.withLock { accepted[key] = id } }
        var events: [String: String] { lock.withLock { accepted } }
        var statuses: [Int: Int] { lock.withLock { counts } }
    }

    /// The succeeded `Track` runs per incident, in the order they started, with their node.
    struct TrackRun {
        let event: String
        let subject: String
        let position: Int
        let started: Double
        let ended: Double
        let node: String
    }

    static func trackRuns(_ url: String) throws -> [TrackRun] {
        let text = try TestPostgres.psql(url, """
            SELECT e.id, e.subject, e.subject_position, r.started_at, r.ended_at, r.node FROM runs r JOIN events e ON e.id = r.event_id
            WHERE r.trigger = 'Track' AND r.outcome = 'succeeded' ORDER BY e.subject, r.started_at
            """)
        return text.split(separator: "\n").map { line in
            let fields = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            return TrackRun(event: fields[0], subject: fields[1], position: Int(fields[2])!, started: Double(fields[3])!, ended: Double(fields[4])!, node: fields[5])
        }
    }

    /// Every accepted event has a succeeded run; runs about one incident start in arrival order
    /// and never overlap; an event ran twice only when its first run was on `killed`.
    static func checkTrail(_ url: String, ledger: Ledger, killedNode: String?) throws {
        let runs = try trackRuns(url)
        let byEvent = Dictionary(grouping: runs, by: \.event)
        for (key, id) in ledger.events {
            #expect(byEvent[id] != nil, "accepted event \(id) (\(key)) has no succeeded run")
        }
        for (id, eventRuns) in byEvent where eventRuns.count > 1 {
            #expect(killedNode != nil && eventRuns.contains { $0.node == killedNode }, "event \(id) ran \(eventRuns.count) times without a killed node's run among them")
        }
        for (subject, subjectRuns) in Dictionary(grouping: runs, by: \.subject) {
            for (earlier, later) in zip(subjectRuns, subjectRuns.dropFirst()) {
                #expect(earlier.position <= later.position, "\(subject): position \(later.position) started after \(earlier.position)")
                #expect(earlier.ended <= later.started, "\(subject): a run started at \(later.started) before the one before it ended at \(earlier.ended)")
            }
        }
    }

    static func nodeID(_ url: String, of server: ServerProcess) throws -> String {
        try TestPostgres.psql(url, "SELECT id FROM nodes WHERE name LIKE '%:pid\(server.process.processIdentifier)'")
    }

    @Test func aNodeKilledUnderLoadLosesNoAcceptedEventAndIncidentsKeepTheirOrder() async throws {
        let scratch = Scratch()
        Self.hooks(scratch)
        let url = try TestPostgres.freshDatabase()
        let a = try Self.node(scratch, "a", url: url)
        let b = try Self.node(scratch, "b", url: url)
        let killedNode = try Self.nodeID(url, of: a)
        #expect(!killedNode.isEmpty)
        let ledger = Ledger()
        let incidents = 16, perIncident = 12
        let sent = Counter()
        let killedAt = Shared<ContinuousClock.Instant?>(nil)
        // Each incident's events go one after another (its arrival order is the client's),
        // alternating between the nodes; incidents go side by side. A third of the way
        // through, node a is killed.
        await withTaskGroup(of: Void.self) { group in
            for incident in 1...incidents {
                group.addTask {
                    for n in 1...perIncident {
                        let key = "incident-\(incident)-\(n)"
                        if let id = await Self.send(Self.update(incident: incident, n: n), key: key, to: [a, b], first: n + incident, statuses: ledger) {
                            ledger.accept(key, id)
                        }
                        if sent.increment() == incidents * perIncident / 3 {
                            a.kill9()
                            killedAt.value = .now
                        }
                    }
                }
            }
        }
        #expect(ledger.events.count == incidents * perIncident, "every event was accepted by one node or the other: \(ledger.statuses)")
        // Node b takes node a's work over once a's lease runs out.
        let tookOver = await eventually(within: .seconds(60)) { (try? TestPostgres.psql(url, "SELECT count(*) FROM nodes WHERE id = '\(killedNode)'")) == "0" }
        #expect(tookOver, "node a's row is still there: \(b.log)")
        if let killed = killedAt.value { print("failover: node a's work taken over \(ContinuousClock.now - killed) after its kill -9") }
        let finished = await eventually(within: .seconds(90)) {
            (try? TestPostgres.psql(url, "SELECT count(*) FROM events WHERE state <> 'done'")) == "0"
        }
        #expect(finished, "events left unfinished: \((try? TestPostgres.psql(url, "SELECT id, state, owner FROM events WHERE state <> 'done'")) ?? "")")
        try Self.checkTrail(url, ledger: ledger, killedNode: killedNode)
        let interrupted = try TestPostgres.psql(url, "SELECT count(*) FROM runs WHERE outcome = 'interrupted' AND node = '\(killedNode)'")
        print("runs interrupted by the kill: \(interrupted); answers: \(ledger.statuses)")
        b.stop()
    }

    @Test func postgresStoppedUnderLoadGives503sAndNoAcceptedEventIsLost() async throws {
        let scratch = Scratch()
        Self.hooks(scratch)
        let cluster = try PrivateCluster()
        let a = try Self.node(scratch, "a", url: cluster.url)
        let b = try Self.node(scratch, "b", url: cluster.url)
        let ledger = Ledger()
        let stopped = Shared(false)
        let outageOver = Shared(false)
        let refusedWhileDown = Counter()
        await withTaskGroup(of: Void.self) { group in
            for incident in 1...8 {
                group.addTask {
                    // Senders go on until PostgreSQL is back (and a while after).
                    var n = 0
                    while !outageOver.value || n < 20 {
                        n += 1
                        let server = [a, b][(n + incident) % 2]
                        let key = "incident-\(incident)-\(n)"
                        do {
                            let (status, answer) = try await request("POST", server.base + "/api/v1/hooks/updateIncident", body: Self.update(incident: incident, n: n),
                                                                     headers: ["Idempotency-Key": key])
                            ledger.record(status)
                            if status == 202, let id = answer?["event"]?.stringValue { ledger.accept(key, id) }
                            if status == 503, stopped.value { refusedWhileDown.increment() }
                            #expect(status == 202 || status == 503, "answered \(status) with PostgreSQL \(stopped.value ? "down" : "up")")
                        } catch {
                            Issue.record("a node did not answer: \(error)")
                        }
                        try? await Task.sleep(for: .milliseconds(40))
                    }
                }
            }
            group.addTask {
                try? await Task.sleep(for: .milliseconds(500))
                do {
                    try cluster.stop()
                    stopped.value = true
                    // The outage's length, not a wait for something: longer than a call's time
                    // limit (5 s, PostgresDatabase.callLimit), so that a request made as it begins
                    // is refused before it ends, whether or not a statement was cut off by the stop
                    // (one that merely waited for a connection would otherwise succeed once
                    // PostgreSQL is back).
                    try await Task.sleep(for: .seconds(7))
                    try cluster.startAgain()
                    stopped.value = false
                } catch {
                    Issue.record("cannot stop and start PostgreSQL: \(error)")
                }
                outageOver.value = true
            }
        }
        #expect(refusedWhileDown.value > 0, "no 503 while PostgreSQL was down: \(ledger.statuses)")
        #expect(ledger.events.count > 0)
        // Both nodes recover by themselves: every 202 runs, and they accept again.
        let finished = await eventually(within: .seconds(90)) {
            (try? TestPostgres.psql(cluster.url, "SELECT count(*) FROM events WHERE state <> 'done'")) == "0"
        }
        #expect(finished, "events left unfinished: \((try? TestPostgres.psql(cluster.url, "SELECT id, state, owner FROM events WHERE state <> 'done'")) ?? "")")
        try Self.checkTrail(cluster.url, ledger: ledger, killedNode: nil)
        for server in [a, b] {
            let (status, _) = try await request("POST", server.base + "/api/v1/hooks/updateIncident", body: Self.update(incident: 99, n: 1))
            #expect(status == 202, "a node did not recover: \(server.log.suffix(2000))")
        }
        print("answers with PostgreSQL stopped for 7 s: \(ledger.statuses)")
        a.stop()
        b.stop()
    }

    /// A node that stops (SIGSTOP: a hang, a network cut) longer than its lease has its event
    /// run by the other node; when it wakes up, its late end of that run completes nothing, and
    /// it stops itself (its supervisor would start it again as a new node).
    @Test func aNodeThatLostItsLeaseCannotCompleteWorkItLost() async throws {
        let scratch = Scratch()
        scratch.write("hooks/ordered.yaml", "name: 'Ordered'\nscript:\n  type: bash\nconfiguration:\n  data_attributes: {}\n")
        scratch.write("hooks/hold.yaml", """
            integration: 'Ordered'
            name: 'Hold'
            type: Trigger
            script:
              code: 'sleep 2'
            hook: [updateIncident]
            """)
        let url = try TestPostgres.freshDatabase()
        let a = try Self.node(scratch, "a", url: url)
        let nodeA = try Self.nodeID(url, of: a)
        let (status, answer) = try await request("POST", a.base + "/api/v1/hooks/updateIncident", body: Self.update(incident: 1, n: 1))
        #expect(status == 202)
        let id = try #require(answer?["event"]?.stringValue)
        #expect(await eventually(within: .seconds(20)) { (try? TestPostgres.psql(url, "SELECT count(*) FROM runs WHERE outcome = 'running' AND node = '\(nodeA)'")) == "1" })
        kill(a.process.processIdentifier, SIGSTOP)
        let b = try Self.node(scratch, "b", url: url)
        let nodeB = try Self.nodeID(url, of: b)
        // Node b takes the event over once a's lease has run out, and runs it to the end.
        let rerun = await eventually(within: .seconds(60)) {
            (try? TestPostgres.psql(url, "SELECT count(*) FROM runs WHERE event_id = '\(id)' AND outcome = 'succeeded' AND node = '\(nodeB)'")) == "1"
        }
        #expect(rerun, "node b did not run the event again: \(b.log.suffix(2000))")
        kill(a.process.processIdentifier, SIGCONT)
        // Node a wakes up, finds its lease gone and stops, its last run records written (or
        // refused) before it exits: what the trail holds then is final.
        #expect(await eventually(within: .seconds(60)) { !a.process.isRunning }, "node a did not stop: \(a.log.suffix(2000))")
        #expect(a.log.contains("lease ran out"), "\(a.log.suffix(2000))")
        let runs = try TestPostgres.psql(url, "SELECT node, outcome FROM runs WHERE event_id = '\(id)' ORDER BY id")
        #expect(runs == "\(nodeA)|interrupted\n\(nodeB)|succeeded", "the run a lost was completed late: \(runs)")
        #expect(try TestPostgres.psql(url, "SELECT state, attempt, owner FROM events WHERE id = '\(id)'") == "done|2|\(nodeB)")
        a.stop()
        b.stop()
    }

    /// Retries and dead letters on the shared store: a failed try's retry runs when due on
    /// whichever node claims it, linked to the try it repeats; the last failure is a dead letter.
    @Test func retriesAndDeadLettersWorkAcrossNodes() async throws {
        let scratch = Scratch()
        scratch.write("hooks/ordered.yaml", "name: 'Ordered'\nscript:\n  type: bash\nconfiguration:\n  data_attributes: {}\n")
        scratch.write("hooks/fail.yaml", """
            integration: 'Ordered'
            name: 'AlwaysFails'
            type: Trigger
            script:
              code: 'echo "incident system down" >&2; exit 1'
            hook: [updateIncident]
            """)
        let url = try TestPostgres.freshDatabase()
        let retry = "retry: {on: [failed], attempts: 3, delay: 0.3, jitter: 0}"
        let a = try Self.node(scratch, "a", url: url, extra: retry)
        let b = try Self.node(scratch, "b", url: url, extra: retry)
        var ids: [String] = []
        for incident in 1...6 {
            let (status, answer) = try await request("POST", [a, b][incident % 2].base + "/api/v1/hooks/updateIncident", body: Self.update(incident: incident, n: 1))
            #expect(status == 202)
            ids.append(try #require(answer?["event"]?.stringValue))
        }
        let settled = await eventually(within: .seconds(60)) {
            (try? TestPostgres.psql(url, "SELECT count(*) FROM events WHERE state <> 'done'")) == "0"
        }
        #expect(settled, "events did not settle: \((try? TestPostgres.psql(url, "SELECT id, state FROM events")) ?? "")")
        for id in ids {
            // Three tries, each after the one it repeats, the last a dead letter.
            let chain = try TestPostgres.psql(url, """
                SELECT r.outcome, r.previous_run = p.id FROM runs r LEFT JOIN runs p ON p.id = r.previous_run
                WHERE r.event_id = '\(id)' ORDER BY r.id
                """)
            #expect(chain == "failed|\nfailed|t\ndead|t", "event \(id): \(chain)")
        }
        #expect(try TestPostgres.psql(url, "SELECT count(*) FROM deferred_runs") == "0")
        a.stop()
        b.stop()
    }

    @Test func anIdempotencyKeyIsHonouredAcrossNodes() async throws {
        let scratch = Scratch()
        Self.hooks(scratch)
        let url = try TestPostgres.freshDatabase()
        let a = try Self.node(scratch, "a", url: url)
        let b = try Self.node(scratch, "b", url: url)
        let body = Self.update(incident: 7, n: 1)
        let (firstStatus, first) = try await request("POST", a.base + "/api/v1/hooks/updateIncident", body: body, headers: ["Idempotency-Key": "same-key"])
        let (secondStatus, second) = try await request("POST", b.base + "/api/v1/hooks/updateIncident", body: body, headers: ["Idempotency-Key": "same-key"])
        #expect(firstStatus == 202 && secondStatus == 202)
        #expect(first?["duplicate"] == .bool(false))
        #expect(second?["duplicate"] == .bool(true))
        #expect(second?["event"] == first?["event"])
        #expect(try TestPostgres.psql(url, "SELECT count(*) FROM events") == "1")
        a.stop()
        b.stop()
    }

    @Test func theDaemonsMoveToTheNodeThatSurvives() async throws {
        let scratch = Scratch()
        scratch.write("hooks/feed.yaml", "name: 'Feed'\nscript:\n  type: bash\nconfiguration:\n  data_attributes: {}\n")
        scratch.write("hooks/poll.yaml", """
            integration: 'Feed'
            name: 'Poll'
            type: Daemon
            script:
              code: 'echo "[]"'
            """)
        let daemons = "daemons: {alerts: {integration: 'Feed', action: 'Poll', every: 1s}}"
        let url = try TestPostgres.freshDatabase()
        let a = try Self.node(scratch, "a", url: url, extra: daemons)
        let b = try Self.node(scratch, "b", url: url, extra: daemons)
        let nodes = [try Self.nodeID(url, of: a), try Self.nodeID(url, of: b)]
        func pollNodes() throws -> Set<String> {
            Set(try TestPostgres.psql(url, "SELECT DISTINCT node FROM runs WHERE trigger = 'Poll'").split(separator: "\n").map(String.init))
        }
        // One node at a time: whichever took the lead runs every poll (both nodes run their
        // daemon loops every second all along; five polls are five chances for the other).
        #expect(await eventually(within: .seconds(30)) {
            (try? TestPostgres.psql(url, "SELECT count(*) FROM runs WHERE trigger = 'Poll'")).flatMap { Int($0) } ?? 0 >= 5
        })
        let before = try pollNodes()
        #expect(before.count == 1, "both nodes ran the daemon: \(before)")
        let leader = try #require(before.first)
        let (dying, surviving) = leader == nodes[0] ? (a, b) : (b, a)
        let survivor = leader == nodes[0] ? nodes[1] : nodes[0]
        dying.kill9()
        let killed = ContinuousClock.now
        #expect(await eventually(within: .seconds(30)) { ((try? pollNodes()) ?? []).contains(survivor) }, "the daemon did not move: \(surviving.log.suffix(2000))")
        print("the daemon moved \(ContinuousClock.now - killed) after its node's kill -9")
        surviving.stop()
    }
}

/// A value shared by a test's tasks.
final class Shared<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value

    init(_ value: Value) { stored = value }

    var value: Value {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

/// A count shared by a test's tasks.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0

    @discardableResult
    func increment() -> Int { lock.withLock { count += 1; return count } }
    var value: Int { lock.withLock { count } }
}
