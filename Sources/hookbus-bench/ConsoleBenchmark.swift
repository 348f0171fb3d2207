import ArgumentParser
import Foundation
import HookBus

/// The console's Events and Runs pages on a large store (target: each answers in under 200 ms
/// with one million stored events).
///
/// Fills a fresh store through the store's own write paths (`accept` in large batches, run
/// records through the recorder), then times every page twice: in this process through the
/// store (`eventPage`, `runs`), and as a user gets it, from a release `hookbus serve` on that
/// store with a logged-in session (curl's own timing, one kept-alive connection per page). The
/// same run prints reference figures: the newest page of a 10,000-event store, and the
/// server's login page, which reads nothing from the store (this machine drifts by ±30%).
struct ConsoleBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console",
        abstract: "Time the console's Events and Runs pages on a store of many events.",
        discussion: "Build the server first: swift build -c release --product hookbus (with the same --scratch-path).")

    @Option(help: "Events to store.") var events = 1_000_000
    @Option(help: "Timed requests per page; the median and 95th percentile are printed.") var repeats = 20
    @Option(help: "The hookbus binary to serve the store (default: the one beside this benchmark).") var hookbus: String?
    @Option(help: "Reuse the folder of an earlier run kept with --keep instead of filling a new store.") var reuse: String?
    @Flag(help: "Keep the folder (its store, for EXPLAIN QUERY PLAN) and print where it is.") var keep = false
    @Flag(help: "Only time the pages in this process; start no server.") var inProcessOnly = false

    func validate() throws {
        if events < 100 { throw ValidationError("--events must be at least 100") }
        if repeats < 1 { throw ValidationError("--repeats must be at least 1") }
    }

    func run() async throws {
        let server = inProcessOnly ? nil : try hookbus ?? Self.siblingBinary()
        let folder: URL
        if let reuse {
            folder = URL(fileURLWithPath: reuse)
        } else {
            folder = try BenchmarkFixtures.makeFolder()
        }
        defer {
            if keep || reuse != nil { Self.say("console: store kept in \(folder.path)/data/hookbus.sqlite") } else { try? FileManager.default.removeItem(at: folder) }
        }
        let databasePath = folder.appendingPathComponent("data/hookbus.sqlite").path
        if reuse == nil {
            let store = try SQLiteStore(path: databasePath)
            let started = ContinuousClock.now
            let filled = try await ConsoleFill(count: events).fill(store)
            let seconds = (ContinuousClock.now - started).seconds
            let size = (try? FileManager.default.attributesOfItem(atPath: databasePath)[.size] as? Int).map { Double($0) / 1_048_576 } ?? 0
            Self.say(String(format: "console: filled %d events and %d runs in %.1f s (%.0f events/s), %.0f MB (average event record %d bytes)",
                         filled.events, filled.runs, seconds, Double(filled.events) / seconds, size, filled.averageRecord))
        }
        let store = try SQLiteStore(path: databasePath)
        let pages = try await ConsolePage.all(store)
        Self.say("console: \(pages.stored) events stored; pages of 50, \(repeats) timed requests each after one untimed")

        let reference = try await Self.referenceStore()
        for page in pages.list {
            let rows = try await page.query(store)
            let times = try await Self.time(repeats) { _ = try await page.query(store) }
            Self.say(Self.line("in process", page.path, times, rows: rows))
        }
        Self.say(Self.line("reference, in process", "/ui/events on a 10,000-event store", reference.times, rows: reference.rows))

        guard let server else { return }
        let session = try ConsoleServer(binary: server, folder: folder)
        defer { session.stop() }
        Self.say(String(format: "console: hookbus serve answered after %.1f s; logged in", session.startSeconds))
        let login = try session.fetch("/ui/login", repeats: repeats, rowMarker: nil, withSession: false)
        for page in pages.list {
            let fetched = try session.fetch(page.path, repeats: repeats, rowMarker: page.rowMarker)
            Self.say(Self.line("HTTP", page.path, fetched.times, rows: fetched.rows))
        }
        Self.say(Self.line("reference, HTTP", "/ui/login without a session (reads nothing from the store)", login.times, rows: nil))
    }

    /// Prints a line at once, also into a file or a pipe (`print` holds it in a buffer there).
    static func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    /// The newest Events page of a fresh 10,000-event store, timed the same way.
    static func referenceStore() async throws -> (times: [Double], rows: Int) {
        let folder = try BenchmarkFixtures.makeFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try SQLiteStore(path: folder.appendingPathComponent("hookbus.sqlite").path)
        _ = try await ConsoleFill(count: 10_000).fill(store)
        let rows = try await store.eventPage(EventFilter()).count
        return (try await time(20) { _ = try await store.eventPage(EventFilter()) }, rows)
    }

    static func time(_ repeats: Int, _ body: () async throws -> Void) async throws -> [Double] {
        try await body()
        var times: [Double] = []
        for _ in 0..<repeats {
            let started = ContinuousClock.now
            try await body()
            times.append((ContinuousClock.now - started).seconds * 1000)
        }
        return times
    }

    static func line(_ how: String, _ page: String, _ times: [Double], rows: Int?) -> String {
        let sorted = times.sorted()
        let median = sorted[sorted.count / 2]
        let p95 = sorted[max(0, Int((Double(sorted.count) * 0.95).rounded(.up)) - 1)]
        let verdict = median < 200 ? "" : "  OVER THE 200 ms TARGET"
        return String(format: "console: %@ %@: median %.1f ms, p95 %.1f ms (target < 200 ms)%@%@", how, page, median, p95,
                      rows.map { ", \($0) rows" } ?? "", verdict)
    }

    /// `hookbus` beside this executable: `swift build -c release` puts both in one folder.
    static func siblingBinary() throws -> String {
        let own = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let path = URL(fileURLWithPath: own).deletingLastPathComponent().appendingPathComponent("hookbus").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw ValidationError("no hookbus binary at \(path): build it with swift build -c release --product hookbus (same --scratch-path), or pass --hookbus")
        }
        return path
    }
}

/// One page of the console as the benchmark asks for it: its address, and the same query
/// through the store.
struct ConsolePage: Sendable {
    let path: String
    /// What marks one row in the page's HTML.
    let rowMarker: String
    let query: @Sendable (SQLiteStore) async throws -> Int

    static func events(_ path: String, _ filter: EventFilter) -> ConsolePage {
        ConsolePage(path: path, rowMarker: "data-event=\"") { store in try await store.eventPage(filter).count }
    }

    static func runs(_ path: String, _ filter: RunFilter) -> ConsolePage {
        ConsolePage(path: path, rowMarker: "#run-") { store in try await store.runs(filter).count }
    }

    /// The pages timed, with cursors from the middle of the store.
    static func all(_ store: SQLiteStore) async throws -> (stored: Int64, list: [ConsolePage]) {
        guard let newest = try await store.eventPage(EventFilter(limit: 1)).first else { throw ValidationError("the store has no events") }
        let middle = newest.cursor / 2
        guard let middleEvent = try await store.eventPage(EventFilter(before: middle + 1, limit: 1)).first,
              let middleRun = try await store.runs(RunFilter(eventID: middleEvent.id, limit: 1)).first
        else { throw ValidationError("no event with a run in the middle of the store") }
        let since = Date().addingTimeInterval(-3600)
        let until = Date().addingTimeInterval(-20 * 86_400)
        let untilText = ISO8601DateFormatter().string(from: until)
        return (newest.cursor, [
            events("/ui/events", EventFilter()),
            events("/ui/events?before=\(middle)", EventFilter(before: middle)),
            events("/ui/events?hook=closeTask", EventFilter(hook: "closeTask")),
            events("/ui/events?source=webhook&endpoint=alertmanager", EventFilter(sourceKind: "webhook", sourceName: "alertmanager")),
            events("/ui/events?subject=1742", EventFilter(subject: "1742")),
            events("/ui/events?outcome=any+failure", EventFilter(outcome: EventFilter.anyFailure)),
            events("/ui/events?outcome=dead", EventFilter(outcome: "dead")),
            events("/ui/events?state=waiting", EventFilter(state: "waiting")),
            events("/ui/events?trigger=Close+task", EventFilter(trigger: "Close task")),
            events("/ui/events?trigger=Bench+Tools%2FEscalate", EventFilter(trigger: "Bench Tools/Escalate")),
            events("/ui/events?trigger=No+such+trigger", EventFilter(trigger: "No such trigger")),
            events("/ui/events?text=\(ConsoleFill.needle)", EventFilter(text: ConsoleFill.needle)),
            events("/ui/events?since=1h", EventFilter(since: since)),
            events("/ui/events?until=\(untilText)", EventFilter(until: until)),
            events("/ui/events?hook=closeIncident", EventFilter(hook: "closeIncident")),
            runs("/ui/runs", RunFilter(limit: 50)),
            runs("/ui/runs?outcome=failed", RunFilter(outcome: "failed", limit: 50)),
            runs("/ui/runs?before=\(middleRun.id)", RunFilter(beforeID: middleRun.id, limit: 50)),
            runs("/ui/runs?trigger=Bench+Tools%2FEscalate", RunFilter(trigger: "Bench Tools/Escalate", limit: 50)),
            runs("/ui/runs?trigger=No+such+trigger", RunFilter(trigger: "No such trigger", limit: 50)),
            runs("/ui/runs?until=\(untilText)", RunFilter(until: until, limit: 50)),
        ])
    }
}

/// A store's worth of realistic events: incident and task hooks over about 50,000 incidents
/// and tasks, 5% webhooks from three endpoints, records of 300-800 bytes, a run per event
/// (plus 1% escalations) of which 3% fail and 0.1% are dead letters, spread over the last 30
/// days. Deterministic: the same count gives the same store.
struct ConsoleFill {
    let count: Int
    /// Text that exactly one event's record contains, for the text filter.
    static let needle = "needle-7f3a9c"
    static let batch = 20_000
    static let span: TimeInterval = 30 * 86_400

    struct Filled {
        var events = 0
        var runs = 0
        /// Record sizes of every 100th event.
        var recordBytes = 0
        var recordsMeasured = 0
        var averageRecord: Int { recordsMeasured == 0 ? 0 : recordBytes / recordsMeasured }
    }

    func fill(_ store: SQLiteStore) async throws -> Filled {
        var filled = Filled()
        let start = Date().addingTimeInterval(-Self.span)
        let step = Self.span / Double(count)
        var next: [Event]? = try Self.events(0..<min(count, Self.batch), count: count, start: start, step: step)
        var offset = 0
        while let events = next {
            let upcoming = offset + events.count
            // The next batch is made while this one is written.
            async let made = upcoming < count ? Self.events(upcoming..<min(count, upcoming + Self.batch), count: count, start: start, step: step) : nil
            _ = try await store.accept(events.map { ($0, nil) }, idempotencyWindow: 0, claimed: false, settled: Set(events.map(\.id)))
            for (index, event) in zip(offset..., events) {
                if index % 100 == 0 {
                    filled.recordBytes += event.recordJSON.utf8.count
                    filled.recordsMeasured += 1
                }
                var random = SplitMix(seed: UInt64(index) &* 7 &+ 1)
                filled.runs += try await Self.recordRuns(of: event, random: &random, store: store)
            }
            try await store.flush()
            filled.events += events.count
            offset = upcoming
            next = try await made
        }
        return filled
    }

    private static func recordRuns(of event: Event, random: inout SplitMix, store: SQLiteStore) async throws -> Int {
        let action = switch event.hook {
        case .updateIncident: "Update ticket"
        case .newIncident: "Open case"
        case .closeTask: "Close task"
        default: "Forward alert"
        }
        var triggers = [(event.hook == .webhook ? "Bench Webhooks" : "Bench Tools", action)]
        if random.unit() < 0.01 { triggers.append(("Bench Tools", "Escalate")) }
        for (integration, trigger) in triggers {
            let started = event.receivedAt.addingTimeInterval(0.05)
            let ended = started.addingTimeInterval(0.02 + random.unit() * 0.3)
            let roll = random.unit()
            let result: RunResult
            if roll < 0.001 {
                result = RunResult(outcome: .dead, exitCode: 1, startedAt: started, endedAt: ended, stderr: "ConnectionError: ticketing API unreachable",
                                   reason: "failed (exit 1) on the last of 3 tries")
            } else if roll < 0.031 {
                result = RunResult(outcome: .failed, exitCode: 1, startedAt: started, endedAt: ended,
                                   stderr: "Traceback (most recent call last):\n  File \"run.py\", line 12\nHTTPError: 502 Bad Gateway\n")
            } else {
                result = RunResult(outcome: .succeeded, exitCode: 0, startedAt: started, endedAt: ended, stdout: #"{"ok": true, "ticket": "SOC-\#(random.below(90_000))"}"#)
            }
            let id = try await store.runStarted(eventID: event.id, attempt: 1, integration: integration, trigger: trigger, invocation: nil, previousRun: nil,
                                                requestedBy: nil, at: started)
            try await store.runEnded(id: id, result: result, keepOutput: true)
        }
        return triggers.count
    }

    static func events(_ range: Range<Int>, count: Int, start: Date, step: TimeInterval) throws -> [Event] {
        try range.map { index in
            var random = SplitMix(seed: UInt64(index))
            let receivedAt = start.addingTimeInterval(Double(index) * step)
            let extra = index == count / 2 + 1 ? " " + needle : ""
            if random.unit() < 0.05 {
                let endpoint = ["github", "pagerduty", "alertmanager"][random.below(3)]
                return try Event.fromWebhook(body: Array(webhookBody(endpoint, &random, extra).utf8), endpoint: endpoint, receivedAt: receivedAt)
            }
            let roll = random.unit()
            let (hook, body): (String, String)
            if roll < 0.5 {
                let id = 1 + random.below(35_000)
                hook = "updateIncident"
                body = #"{"incidentsBeforeUpdate": \#(incident(id, status: "open", &random)), "incidentsAfterUpdate": \#(incident(id, status: "in progress", &random, extra))}"#
            } else if roll < 0.65 {
                hook = "newIncident"
                body = #"{"incidentsDetail": \#(incident(1 + random.below(35_000), status: "open", &random, extra))}"#
            } else {
                hook = "closeTask"
                let id = 1 + random.below(15_000)
                body = #"{"tasksDetail": {"id": \#(id), "name": "\#(words(4, &random))", "status": "closed", "incident_id": \#(1 + random.below(35_000)), "owner": "analyst\#(random.below(40))", "description": "\#(words(20 + random.below(60), &random))\#(extra)"}}"#
            }
            return try Event.fromHookBody(hook: hook, body: Array(body.utf8), source: EventSource(kind: .hook), receivedAt: receivedAt)
        }
    }

    static func incident(_ id: Int, status: String, _ random: inout SplitMix, _ extra: String = "") -> String {
        let severity = ["low", "medium", "high", "critical"][random.below(4)]
        let category = ["Phishing", "Malware", "Account compromise", "Data loss"][random.below(4)]
        return #"{"id": \#(id), "title": "\#(words(5, &random))", "status": "\#(status)", "severity": "\#(severity)", "category": "\#(category)", "owner": "analyst\#(random.below(40))", "description": "\#(words(5 + random.below(30), &random))\#(extra)"}"#
    }

    static func webhookBody(_ endpoint: String, _ random: inout SplitMix, _ extra: String) -> String {
        switch endpoint {
        case "github":
            return #"{"action": "opened", "repository": {"full_name": "acme/api", "private": true}, "issue": {"number": \#(random.below(5000)), "title": "\#(words(6, &random))", "body": "\#(words(20 + random.below(40), &random))\#(extra)"}, "sender": {"login": "dev\#(random.below(90))"}}"#
        case "pagerduty":
            return #"{"event": {"event_type": "incident.triggered", "data": {"id": "P\#(random.below(99_999))", "title": "\#(words(8, &random))\#(extra)", "urgency": "high", "service": {"summary": "payments"}}}}"#
        default:
            return #"{"status": "firing", "alerts": [{"labels": {"alertname": "HighCPU", "instance": "host-\#(random.below(300))", "severity": "warning"}, "annotations": {"summary": "\#(words(10 + random.below(20), &random))\#(extra)"}}]}"#
        }
    }

    static let vocabulary = ["phishing", "login", "from", "unusual", "host", "blocked", "analyst", "reviewed", "escalated", "ticket", "mailbox", "rule",
                             "firewall", "endpoint", "quarantine", "user", "reported", "suspicious", "attachment", "domain", "password", "reset", "vpn", "alert"]

    static func words(_ count: Int, _ random: inout SplitMix) -> String {
        (0..<count).map { _ in vocabulary[random.below(vocabulary.count)] }.joined(separator: " ")
    }
}

/// A small deterministic random generator (SplitMix64), so a fill is the same every time.
struct SplitMix {
    var state: UInt64

    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}

/// `hookbus serve` on the benchmark's store, with an operator token and a logged-in session.
final class ConsoleServer {
    let process = Process()
    let base: String
    let cookie: String
    let startSeconds: Double
    private let folder: URL

    init(binary: String, folder: URL) throws {
        self.folder = folder
        let token = (0..<4).map { _ in String(format: "%016llx", UInt64.random(in: 0...UInt64.max)) }.joined()
        let hooks = folder.appendingPathComponent("hooks/bench")
        try FileManager.default.createDirectory(at: hooks, withIntermediateDirectories: true)
        try Data(Self.integration.utf8).write(to: hooks.appendingPathComponent("integration.yaml"))
        try Data(Self.trigger.utf8).write(to: hooks.appendingPathComponent("trigger.yaml"))
        let configuration = folder.appendingPathComponent("hookbus.yaml")
        try Data("server:\n  tokens:\n    - {name: bench, role: operator, secret: {env: BENCH_TOKEN}}\n".utf8).write(to: configuration)

        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["serve", "--port", "0", "--config", configuration.path, "--hooks", hooks.deletingLastPathComponent().path,
                             "--data-dir", folder.appendingPathComponent("data").path, "--log-level", "warning"]
        process.currentDirectoryURL = folder
        var environment = ProcessInfo.processInfo.environment
        environment["BENCH_TOKEN"] = token
        process.environment = environment
        let output = Pipe()
        let errors = folder.appendingPathComponent("serve.stderr")
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        process.standardOutput = output
        process.standardError = try FileHandle(forWritingTo: errors)
        let started = ContinuousClock.now
        try process.run()
        var seen = ""
        while !seen.contains("\n") || !seen.contains("listening on http://") {
            let data = output.fileHandleForReading.availableData
            if data.isEmpty {
                let stderr = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
                throw ValidationError("hookbus serve ended before it listened:\n\(seen)\(stderr)")
            }
            seen += String(decoding: data, as: UTF8.self)
        }
        startSeconds = (ContinuousClock.now - started).seconds
        guard let range = seen.range(of: #"listening on http://127\.0\.0\.1:[0-9]+"#, options: .regularExpression) else {
            throw ValidationError("no address in hookbus serve's output: \(seen)")
        }
        base = String(seen[range].dropFirst("listening on ".count))

        let form = folder.appendingPathComponent("login.form")
        try Data("token=\(token)".utf8).write(to: form)
        let headers = try Self.curl(["-s", "-o", "/dev/null", "-D", "-", "--data", "@" + form.path, base + "/ui/login"])
        guard headers.hasPrefix("HTTP/1.1 303"),
              let line = headers.split(whereSeparator: \.isNewline).first(where: { $0.lowercased().hasPrefix("set-cookie: hookbus_session=") }),
              let value = line.split(separator: ";").first?.split(separator: "=", maxSplits: 1).last
        else { throw ValidationError("the login was not answered 303 with a session cookie:\n\(headers)") }
        cookie = "hookbus_session=" + value
    }

    /// One untimed request (whose rows are counted), then `repeats` timed ones on one kept-alive
    /// connection; each must answer 200. Times are curl's, from the request to the last byte.
    func fetch(_ path: String, repeats: Int, rowMarker: String?, withSession: Bool = true) throws -> (times: [Double], rows: Int?) {
        let body = folder.appendingPathComponent("page.html")
        var arguments = (withSession ? ["-b", cookie] : []) + ["-s", "-w", "%{http_code} %{time_total}\n", "-o", body.path, base + path]
        for _ in 0..<repeats { arguments += ["-o", "/dev/null", base + path] }
        let lines = try Self.curl(arguments).split(separator: "\n")
        guard lines.count == repeats + 1, lines.allSatisfy({ $0.hasPrefix("200 ") }) else {
            throw ValidationError("GET \(path) did not answer 200 every time: \(lines.prefix(3).joined(separator: "; "))")
        }
        let times = lines.dropFirst().compactMap { $0.split(separator: " ").last.flatMap { Double($0) }.map { $0 * 1000 } }
        let html = try String(contentsOf: body, encoding: .utf8)
        return (times, rowMarker.map { html.components(separatedBy: $0).count - 1 })
    }

    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    static func curl(_ arguments: [String]) throws -> String {
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        curl.arguments = ["curl", "--noproxy", "*"] + arguments
        let output = Pipe()
        curl.standardOutput = output
        try curl.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        curl.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    static let integration = """
    name: 'Bench Tools'
    official_name: 'Bench Tools'
    version: '1.0'
    icon: 'aWNvbg=='
    script:
      type: bash
      test_connection_code: 'exit 0'
    docker_repo_tag: 'bench:1'
    configuration:
      testable_connection: false
      require_proxy_config: false
      data_attributes: {}
    """

    static let trigger = """
    integration: 'Bench Tools'
    name: 'Close task'
    type: Trigger
    script:
      code: |
        exit 0
    hook:
      - updateIncident
      - newIncident
      - closeTask
    """
}
