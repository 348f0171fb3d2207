import Crypto
import Foundation
import Testing
@testable import HookBus

/// A catalog, configuration, SQLite store and engine over real interpreters, in a temp folder.
struct RunnerFixture {
    let folder = TempFolder()
    let engine: Engine
    let store: SQLiteStore
    let router: Router

    /// `integrations`: (name, language, attributes YAML) ; `actions`: (file, YAML).
    init(language: String = "python", attributes: String? = nil, actions: [(String, String)], config: String = "", environment: [String: String] = [:],
         concurrency: Int = 4, outputLimit: Int = 1 << 20, grace: Double = 0.5, runRoot: String? = nil, sandbox: Sandbox = .automatic) throws {
        folder.write("hooks/int.yaml", integrationYAML(language: language, attributes: attributes ?? "    note:\n      label: Note\n      type: text\n      required: false"))
        for (file, yaml) in actions { folder.write("hooks/\(file)", yaml) }
        let loaded = DefinitionLoader().load([folder.url.appendingPathComponent("hooks").path])
        guard loaded.errorCount == 0 else { throw EventError(.malformed, "\(loaded.diagnostics)") }
        let path = folder.write("hookbus.yaml", config)
        let configured = ConfigurationLoader(environment: environment).load(path: path, catalog: loaded.catalog)
        guard var configuration = configured.configuration else { throw EventError(.malformed, "\(configured.diagnostics)") }
        configuration.concurrency = concurrency
        router = Router(catalog: loaded.catalog, configuration: configuration)
        store = try SQLiteStore(path: folder.url.appendingPathComponent("data/hookbus.sqlite").path)
        let runner = ProcessRunner(interpreters: Interpreters(configured: [:]), outputLimit: outputLimit, graceSeconds: grace,
                                   folders: RunFolders(configured: runRoot ?? folder.url.appendingPathComponent("runs").path), sandbox: sandbox)
        engine = Engine(store: store, router: router, runner: runner)
    }

    /// Stores the event and dispatches it like the server does; returns the runs.
    func fire(_ event: Event) async throws -> [Engine.CompletedRun] {
        _ = try await store.accept([(event, nil)], idempotencyWindow: 60, claimed: true)
        return await engine.dispatch(StoredEvent(event: event, state: .running, attempt: 1)).runs
    }

    func event(_ hook: Hook, _ body: String) throws -> Event {
        try Event.fromHookBody(hook: hook.rawValue, body: Array(body.utf8), source: EventSource(kind: .cli))
    }
}

@Suite struct ProcessRunnerTests {
    static let echoPython = """
        import json, os, sys, hashlib
        data = sys.stdin.read()
        print(json.dumps({"argv": sys.argv[1:], "env": dict(os.environ), "stdin": data, "cwd": os.getcwd()}))
        """

    @Test func argvEnvironmentAndStdinArriveAsDocumented() async throws {
        setenv("HOOKBUS_TEST_LEAK", "must-not-leak", 1)
        let fixture = try RunnerFixture(actions: [("echo.yaml", triggerYAML("Echo", hooks: ["incidentCustomAction"], code: Self.echoPython.replacingOccurrences(of: "\n", with: "\n    ")))],
                                        config: "incident_system: {url: 'https://soar.example.com', token: {env: TOKEN}}\nintegrations: {'Incident Tools': {settings: {note: 'n1'}}}",
                                        environment: ["TOKEN": "static-token-1"])
        let event = try fixture.event(.incidentCustomAction, #"{"incidentsDetail": {"id": 5, "title": "it's \"quoted\" $(rm -rf /)"}, "trigger": "Echo", "text": "-x; echo pwned"}"#)
        let runs = try await fixture.fire(event)
        let run = try #require(runs.first)
        #expect(run.result.outcome == .succeeded, "\(run.result)")
        let output = try #require(try JSONParser.parse(run.result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)).objectValue)
        let argv = output["argv"]!
        #expect(argv == .array([
            .string(#"--incidentsDetail={"id": 5, "title": "it's \"quoted\" $(rm -rf /)"}"#),
            .string("--text=-x; echo pwned"),
            .string("--token=••••••"),  // the script printed its token: scrubbed from the audit copy
            .string("--incmanurl=https://soar.example.com"),
        ]))
        let environment = try #require(output["env"]?.objectValue)
        #expect(environment["HOOKBUS_TEST_LEAK"] == nil)
        #expect(environment["incidentsDetail"] == .string(#"{"id": 5, "title": "it's \"quoted\" $(rm -rf /)"}"#))
        #expect(environment["text"] == .string("-x; echo pwned"))
        #expect(environment["note"] == .string("n1"))
        #expect(environment["PATH"] == .string(Router.safePath))
        let cwd = try #require(output["cwd"]?.stringValue)
        #expect(environment["HOME"] == .string(cwd) && environment["TMPDIR"] == .string(cwd))
        #expect(!FileManager.default.fileExists(atPath: cwd), "run folder removed afterwards")
        let stdin = try JSONParser.parse(try #require(output["stdin"]?.stringValue))
        #expect(stdin["text"] == .string("-x; echo pwned"))
        #expect(stdin["incidentsDetail"]?["id"] == .number("5"))
    }

    @Test func aOneMebibytePayloadArrivesIntact() async throws {
        let code = """
            import hashlib, os, sys
            data = sys.stdin.buffer.read()
            with open(os.environ["HOOKBUS_FILE_payload"], "rb") as f:
                payload = f.read()
            print(hashlib.sha256(payload).hexdigest(), len(payload), len(data))
            """
        let fixture = try RunnerFixture(actions: [("big.yaml", triggerYAML("Big", hooks: ["webhook"], code: code.replacingOccurrences(of: "\n", with: "\n    ")))])
        let payload = "{\"blob\":\"" + String(repeating: "abcdefgh", count: 131_072) + "\"}"
        let event = try Event.fromWebhook(body: Array(payload.utf8), endpoint: "any")
        let run = try #require(try await fixture.fire(event).first)
        #expect(run.result.outcome == .succeeded, "\(run.result.stderr)")
        let expectedHash = SHA256Hex.digest(payload)
        #expect(run.result.stdout == "\(expectedHash) \(payload.utf8.count) \(payload.utf8.count + 12)\n")
    }

    @Test func aTimedOutTriggerIsEndedWithItsBackgroundChild() async throws {
        let code = """
            trap '' TERM
            sleep 300 &
            echo "child $!"
            sleep 300
            """
        let fixture = try RunnerFixture(language: "bash", actions: [("slow.yaml", triggerYAML("Slow", hooks: ["webhook"], code: code.replacingOccurrences(of: "\n", with: "\n    ")))],
                                        config: "runner: {timeout: 1}")
        let started = ContinuousClock.now
        let run = try #require(try await fixture.fire(try Event.fromWebhook(body: Array("{}".utf8), endpoint: "x")).first)
        let elapsed = ContinuousClock.now - started
        #expect(run.result.outcome == .timedOut)
        // The default retry policy runs a timed-out trigger again, and says so in the reason.
        #expect(run.result.reason?.hasPrefix("ran past its time limit of 1 s; retry: try 2 of 3 due at ") == true, "\(run.result.reason ?? "")")
        #expect(run.retry?.kind == .retry)
        #expect(elapsed < .seconds(30), "ended at its time limit, not after its child's 300 s (a generous bound: the machine may be busy)")
        let pid = try #require(Int32(run.result.stdout.replacingOccurrences(of: "child ", with: "").trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(await Self.isDead(pid), "background child \(pid) survived")
        let stored = try await fixture.store.runs(RunFilter(eventID: run.invocation.eventID))
        #expect(stored.first?.outcome == "timed out")
    }

    /// A script that closes its output and goes on is still bounded by its time limit (its end
    /// is its process's end, not its pipes').
    @Test func aTriggerThatClosesItsOutputIsStillEndedAtItsTimeLimit() async throws {
        let code = "echo started\nexec >&- 2>&-\nsleep 300"
        let fixture = try RunnerFixture(language: "bash", actions: [("quiet.yaml", triggerYAML("Quiet", hooks: ["webhook"], code: code.replacingOccurrences(of: "\n", with: "\n    ")))],
                                        config: "runner: {timeout: 1, grace: 1}")
        let started = ContinuousClock.now
        let run = try #require(try await fixture.fire(try Event.fromWebhook(body: Array("{}".utf8), endpoint: "x")).first)
        #expect(run.result.outcome == .timedOut, "\(run.result)")
        #expect(run.result.stdout == "started\n")
        #expect(ContinuousClock.now - started < .seconds(30), "ended at its time limit, not after 300 s (a generous bound)")
    }

    /// A process that leaves the run's process group (setsid) escapes the group kill; if it holds
    /// the run's output open, HookBus stops reading after the time limit and grace period, so
    /// the run ends and frees its slot, and says why.
    @Test func aProcessThatLeftTheGroupCannotHoldTheRunOpen() async throws {
        let code = "setsid -f sh -c 'echo escaped $$; exec sleep 300'\nsleep 0.2\necho main done"
        let fixture = try RunnerFixture(language: "bash", actions: [("escape.yaml", triggerYAML("Escape", hooks: ["webhook"], code: code.replacingOccurrences(of: "\n", with: "\n    ")))],
                                        config: "runner: {timeout: 1, grace: 1}")
        let started = ContinuousClock.now
        let run = try #require(try await fixture.fire(try Event.fromWebhook(body: Array("{}".utf8), endpoint: "x")).first)
        let elapsed = ContinuousClock.now - started
        let escaped = run.result.stdout.split(separator: "\n").first { $0.hasPrefix("escaped ") }.flatMap { Int32($0.dropFirst("escaped ".count)) }
        if let escaped { kill(escaped, SIGKILL) }
        #expect(escaped != nil, "\(run.result.stdout)")
        #expect(run.result.stdout.contains("main done"))
        #expect(run.result.outcome == .timedOut, "\(run.result)")
        #expect(run.result.reason?.contains("a process that left its process group still held its output open") == true, "\(run.result.reason ?? "")")
        #expect(elapsed < .seconds(30), "ended after its time limit and grace, not after 300 s (a generous bound)")
    }

    /// Gone, or a zombie waiting for its (re)parent to reap it: either way no longer running.
    /// SIGKILL is delivered asynchronously, so allow a moment.
    static func isDead(_ pid: Int32) async -> Bool {
        for _ in 0..<40 {
            guard let handle = FileHandle(forReadingAtPath: "/proc/\(pid)/stat"), let data = try? handle.readToEnd() else { return true }
            let stat = String(decoding: data, as: UTF8.self)
            if let close = stat.lastIndex(of: ")"), stat[stat.index(close, offsetBy: 2)] == "Z" { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    @Test func outputIsCappedAndTheDropIsRecorded() async throws {
        let fixture = try RunnerFixture(language: "perl", actions: [("loud.yaml", triggerYAML("Loud", hooks: ["webhook"], code: #"print "x" x 3000000; print STDERR "e" x 5000; exit 3;"#))],
                                        outputLimit: 1000)
        let run = try #require(try await fixture.fire(try Event.fromWebhook(body: Array("{}".utf8), endpoint: "x")).first)
        #expect(run.result.outcome == .failed && run.result.exitCode == 3)
        #expect(run.result.stdout.utf8.count == 1000 && run.result.stdoutDropped == 2_999_000)
        #expect(run.result.stderr.utf8.count == 1000 && run.result.stderrDropped == 4000)
        let stored = try #require(try await fixture.store.runs(RunFilter(eventID: run.invocation.eventID)).first)
        #expect(stored.stdoutDropped == 2_999_000 && stored.stderr?.utf8.count == 1000)
    }

    @Test func stderrOfAFailureIsInTheAuditTrailAndPasswordsAreMasked() async throws {
        let fixture = try RunnerFixture(
            language: "bash",
            attributes: "    api_key:\n      label: Key\n      type: password\n      required: true",
            actions: [("fail.yaml", triggerYAML("Fails", hooks: ["newIncident"], code: #"echo "using key $api_key" >&2; echo "bad things" >&2; exit 4"#))],
            config: "integrations: {'Incident Tools': {settings: {api_key: {env: KEY}}}}", environment: ["KEY": "hunter2-very-secret"])
        let run = try #require(try await fixture.fire(try fixture.event(.newIncident, #"{"incidentsDetail": {"id": 1}}"#)).first)
        #expect(run.result.outcome == .failed && run.result.exitCode == 4)
        let stored = try #require(try await fixture.store.runs(RunFilter(eventID: run.invocation.eventID)).first)
        #expect(stored.stderr == "using key ••••••\nbad things\n")
        #expect(stored.invocation?.contains("hunter2") == false)
        #expect(stored.invocation?.contains("\"api_key\":\"••••••\"") == true)
        let database = try Data(contentsOf: URL(fileURLWithPath: fixture.store.path))
        #expect(database.range(of: Data("hunter2-very-secret".utf8)) == nil)
    }

    @Test func aMissingInterpreterIsAClearErrorRun() async throws {
        let fixture = try RunnerFixture(language: "powershell", actions: [("ps.yaml", triggerYAML("PS", hooks: ["webhook"], code: "Write-Output 'hi'"))])
        let run = try #require(try await fixture.fire(try Event.fromWebhook(body: Array("{}".utf8), endpoint: "x")).first)
        if Interpreters(configured: [:]).path(for: .powershell) == nil {
            #expect(run.result.outcome == .error)
            #expect(run.result.reason?.hasPrefix("interpreter pwsh not found; retry: try 2 of 3") == true, "\(run.result.reason ?? "")")
            #expect(run.result.reason?.contains("after try 1 could not start (interpreter pwsh not found)") == true)
        }
    }

    @Test func perlReadsItsParamsFromTheEnvironment() async throws {
        let code = #"use JSON::PP; my $d = decode_json($ENV{tasksDetail}); print "task $d->{id} owner $d->{assigned_to}\n";"#
        let fixture = try RunnerFixture(language: "perl", actions: [("p.yaml", triggerYAML("P", hooks: ["closeTask"], code: code))])
        let run = try #require(try await fixture.fire(try fixture.event(.closeTask, #"{"tasksDetail": {"id": 77, "assigned_to": "bob"}}"#)).first)
        #expect(run.result.stdout == "task 77 owner bob\n", "\(run.result)")
    }

    @Test func runsAboutTheSameIncidentKeepArrivalOrderAndNeverOverlap() async throws {
        let folder = TempFolder()
        let shared = folder.sharedWithRuns("shared")
        let log = shared + "/order.log"
        let code = #"id=$(echo "$incidentsDetail" | sed -E 's/.*"id": *([0-9]+).*"seq": *([0-9]+).*/\1 \2/'); echo "start $id" >> "$note"; sleep 0.05; echo "end $id" >> "$note""#
        let fixture = try RunnerFixture(language: "bash", actions: [("o.yaml", triggerYAML("Order", hooks: ["newIncident"], code: code))],
                                        config: "integrations: {'Incident Tools': {settings: {note: '\(log)'}, sandbox_write: ['\(shared)']}}", concurrency: 4)
        var plans: [Engine.Plan] = []
        for seq in 0..<8 {
            for incident in 1...4 {
                let event = try fixture.event(.newIncident, #"{"incidentsDetail": {"id": \#(incident), "seq": \#(seq)}}"#)
                _ = try await fixture.store.accept([(event, nil)], idempotencyWindow: 60, claimed: true)
                plans.append(await fixture.engine.prepare(StoredEvent(event: event, state: .running, attempt: 1)))
            }
        }
        let engine = fixture.engine
        await withTaskGroup(of: Void.self) { group in
            for plan in plans { group.addTask { _ = await engine.execute(plan) } }
        }
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.count == 64)
        var open: Set<String> = []
        var seenOverlap = false
        var order: [String: [Int]] = [:]
        for line in lines {
            let parts = line.split(separator: " ")
            let incident = String(parts[1]), seq = Int(parts[2])!
            if parts[0] == "start" {
                if open.contains(incident) { seenOverlap = true }
                open.insert(incident)
                order[incident, default: []].append(seq)
            } else {
                open.remove(incident)
            }
        }
        #expect(!seenOverlap)
        for incident in 1...4 { #expect(order["\(incident)"] == Array(0..<8)) }
        // Different incidents did run in parallel: some start came before another incident's end.
        #expect(lines.prefix(8).filter { $0.hasPrefix("start") }.count > 1)
    }
}

enum SHA256Hex {
    static func digest(_ text: String) -> String {
        SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}
