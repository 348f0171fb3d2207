public import ArgumentParser
import Foundation
import HookBus
import Subprocess
import Synchronization
#if canImport(System)
import System
#else
import SystemPackage
#endif

/// Completed trigger runs per second (trivial bash and python triggers, audit trail on), next to
/// the raw rate of starting the same interpreter the same way, two at a time with output
/// captured — the physical limit on this machine (target: at least 80% of the raw rate).
struct RunnerBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "runner")

    @Option(help: "Runs per measurement.") var runs = 2000
    @Option(help: "Runs at once.") var concurrency = 2
    @Option(help: "Python interpreter (default: as HookBus resolves it).") var python: String?
    @Option(help: "Measure only this script type (bash or python).") var only: ScriptType?

    @Option(help: "Rounds of raw-then-HookBus measurements; the median ratio is the figure, because this machine's speed drifts between runs.")
    var rounds = 3

    @Flag(help: "Print only the raw start rate (the load benchmark compares the server's run rate with it).")
    var rawOnly = false

    func run() async throws {
        let interpreters = Interpreters(configured: python.map { [.python: $0] } ?? [:])
        for (type, code, count) in [(ScriptType.bash, ":", runs), (.python, "pass", max(200, runs / 8))] where only == nil || only == type {
            guard let path = interpreters.path(for: type) else { print("runner: \(type.rawValue) not found"); continue }
            let rawArguments = type == .bash ? ["-c", ":"] : ["-c", "pass"]
            if rawOnly {
                let raw = try await Self.rawRate(path: path, arguments: rawArguments, count: count, concurrency: concurrency)
                print(String(format: "runner: %@ raw %.0f starts/s, %d at a time", type.rawValue, raw, concurrency))
                continue
            }
            var cpu = ProcessCPU()
            let engineOnly = try await Self.hookbusRate(type: type, code: code, interpreters: interpreters, count: count * 5, concurrency: concurrency, runner: InstantRunner())
            print(String(format: "runner: %@ HookBus without processes (routing, pool, audit trail): %.0f runs/s, %@", type.rawValue, engineOnly, cpu.lap(runs: count * 5)))
            // The same at the pace of real runs, where every hand-off wakes a sleeping thread.
            let paced = try await Self.hookbusRate(type: type, code: code, interpreters: interpreters, count: count, concurrency: concurrency, runner: InstantRunner(pause: .microseconds(2500)))
            print(String(format: "runner: %@ HookBus without processes, each run 2.5 ms asleep: %.0f runs/s, %@", type.rawValue, paced, cpu.lap(runs: count)))
            let runnerOnly = try await Self.runnerOnlyRate(type: type, code: code, interpreters: interpreters, count: count, concurrency: concurrency)
            print(String(format: "runner: %@ process runner alone (no store): %.0f runs/s, %@", type.rawValue, runnerOnly, cpu.lap(runs: count)))
            var ratios: [Double] = []
            for round in 1...max(1, rounds) {
                let raw = try await Self.rawRate(path: path, arguments: rawArguments, count: count, concurrency: concurrency)
                let rawCPU = cpu.lap(runs: count)
                let hookbus = try await Self.hookbusRate(type: type, code: code, interpreters: interpreters, count: count, concurrency: concurrency)
                let hookbusCPU = cpu.lap(runs: count)
                ratios.append(hookbus / raw)
                print(String(format: "runner: %@ round %d: raw %.0f starts/s (%@); HookBus %.0f runs/s with audit trail (%@) = %.0f%%",
                             type.rawValue, round, raw, rawCPU, hookbus, hookbusCPU, 100 * hookbus / raw))
            }
            ratios.sort()
            print(String(format: "runner: %@ (%@), %d at a time: HookBus reaches %.0f%% of the raw start rate, median of %d rounds (target >= 80%%)",
                         type.rawValue, path, concurrency, 100 * ratios[ratios.count / 2], ratios.count))
        }
    }

    static func rawRate(path: String, arguments: [String], count: Int, concurrency: Int) async throws -> Double {
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<concurrency {
                group.addTask {
                    for _ in stride(from: worker, to: count, by: concurrency) {
                        _ = try await Subprocess.run(.path(FilePath(path)), arguments: Arguments(arguments), environment: .custom(["PATH": "/usr/bin:/bin"]),
                                                     output: .string(limit: 1 << 20), error: .string(limit: 1 << 20))
                    }
                }
            }
            try await group.waitForAll()
        }
        return Double(count) / (ContinuousClock.now - started).seconds
    }

    static func runnerOnlyRate(type: ScriptType, code: String, interpreters: Interpreters, count: Int, concurrency: Int) async throws -> Double {
        let runner = ProcessRunner(interpreters: interpreters)
        let invocation = Invocation(eventID: "evt", hook: .webhook, integration: "Bench", trigger: "Trivial", scriptType: type, code: code,
                                    arguments: [], environment: [InvocationEntry("PATH", .plain("/usr/bin:/bin"))], stdin: "{}", files: [:],
                                    oversizedParams: [], timeoutSeconds: 60, orderingKey: nil)
        let started = ContinuousClock.now
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<concurrency {
                group.addTask {
                    for _ in stride(from: worker, to: count, by: concurrency) { _ = await runner.run(invocation, token: "") }
                }
            }
        }
        return Double(count) / (ContinuousClock.now - started).seconds
    }

    /// Stands in for the process runner, to measure what HookBus itself costs per run (routing,
    /// the pool, the audit trail) apart from starting processes.
    struct InstantRunner: TriggerRunner {
        var pause: Duration? = nil
        func run(_ invocation: Invocation, token: String) async -> RunResult {
            if let pause { try? await Task.sleep(for: pause) }
            return RunResult(outcome: .succeeded, exitCode: 0, startedAt: Date(), endedAt: Date())
        }
    }

    /// - Parameters:
    ///   - configure: changes to the default configuration (retry policies, limits).
    ///   - incidents: `updateIncident` events about 64 incidents in turn (ordered runs) instead
    ///     of webhook events (unordered).
    static func hookbusRate(type: ScriptType, code: String, interpreters: Interpreters, count: Int, concurrency: Int,
                            runner: (any TriggerRunner)? = nil, incidents: Bool = false,
                            configure: (inout HookBusConfiguration) -> Void = { _ in }) async throws -> Double {
        let folder = try BenchmarkFixtures.makeFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data("name: 'Bench'\nscript:\n  type: \(type.rawValue)\nconfiguration:\n  data_attributes: {}\n".utf8).write(to: folder.appendingPathComponent("i.yaml"))
        try Data("integration: 'Bench'\nname: 'Trivial'\ntype: Trigger\nscript:\n  code: '\(code)'\nhook: [\(incidents ? "updateIncident" : "webhook")]\n".utf8).write(to: folder.appendingPathComponent("a.yaml"))
        let catalog = DefinitionLoader().load([folder.path]).catalog
        var configuration = HookBusConfiguration()
        configuration.concurrency = concurrency
        configure(&configuration)
        let store = try SQLiteStore(path: folder.appendingPathComponent("data/hookbus.sqlite").path)
        let engine = Engine(store: store, router: Router(catalog: catalog, configuration: configuration),
                            runner: runner ?? ProcessRunner(interpreters: interpreters))
        var events: [Event] = []
        for index in 0..<count {
            if incidents {
                let incident = index % 64
                events.append(try Event.fromHookBody(hook: "updateIncident", body: Array(#"{"incidentsBeforeUpdate": {"id": \#(incident)}, "incidentsAfterUpdate": {"id": \#(incident), "n": \#(index)}}"#.utf8),
                                                     source: EventSource(kind: .cli)))
            } else {
                events.append(try Event.fromWebhook(body: Array("{\"n\": \(index)}".utf8), endpoint: "bench"))
            }
        }
        _ = try await store.accept(events.map { ($0, nil) }, idempotencyWindow: 0, claimed: true)
        let started = ContinuousClock.now
        // As the server's dispatcher does (Dispatcher.swift): claim a batch when the pool's line
        // is short, prepare its events in arrival order, one task per event.
        // Nobody waits for each event's result (a discarding group): the dispatcher only counts.
        let limit = engine.pool.limit
        let succeededRuns = Counter()
        let problem = ProblemNote()
        await withDiscardingTaskGroup { group in
            for batch in stride(from: 0, to: events.count, by: max(128, 16 * limit)).map({ events[$0..<min(events.count, $0 + max(128, 16 * limit))] }) {
                await engine.pool.waitForRoom(maxWaiting: max(32, 4 * limit))
                for event in batch {
                    let plan = await engine.prepare(StoredEvent(event: event, state: .running, attempt: 1))
                    group.addTask {
                        let execution = await engine.execute(plan, waitForDisk: false)
                        succeededRuns.value.add(execution.runs.filter { $0.result.outcome == .succeeded }.count, ordering: .relaxed)
                        if let other = execution.runs.first(where: { $0.result.outcome != .succeeded }) {
                            problem.note("\(other.result.outcome.rawValue): \(other.result.reason ?? other.result.stderr)")
                        } else if let row = execution.waiting.first {
                            problem.note("waiting: \(row.reason)")
                        }
                    }
                }
            }
        }
        let succeeded = succeededRuns.value.load(ordering: .relaxed)
        let seconds = (ContinuousClock.now - started).seconds
        guard succeeded == count else { throw ValidationError("only \(succeeded) of \(count) runs succeeded; one other: \(problem.first ?? "none")") }
        return Double(count) / seconds
    }
}

extension ScriptType: ExpressibleByArgument {}

final class Counter: Sendable {
    let value = Atomic<Int>(0)
}

/// CPU time and context switches of this process (HookBus's own work) and CPU time of its
/// children (the interpreters) between laps, per run.
struct ProcessCPU {
    private var last = ProcessCPU.now()

    static func now() -> (cpu: Double, switches: Int, children: Double) {
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        var children = rusage()
        getrusage(RUSAGE_CHILDREN.rawValue, &children)
        return (seconds(usage.ru_utime) + seconds(usage.ru_stime), usage.ru_nvcsw + usage.ru_nivcsw,
                seconds(children.ru_utime) + seconds(children.ru_stime))
    }

    mutating func lap(runs: Int) -> String {
        let current = Self.now()
        defer { last = current }
        return String(format: "%.0f µs CPU and %.1f context switches per run in HookBus's process, %.0f µs CPU per child",
                      (current.cpu - last.cpu) * 1e6 / Double(runs), Double(current.switches - last.switches) / Double(runs),
                      (current.children - last.children) * 1e6 / Double(runs))
    }
}

/// The first thing that went wrong in a measurement, for its error message.
final class ProblemNote: Sendable {
    private let text = Mutex<String?>(nil)
    func note(_ problem: String) { text.withLock { $0 = $0 ?? problem } }
    var first: String? { text.withLock { $0 } }
}
