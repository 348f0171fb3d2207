import ArgumentParser
import Foundation
import HookBus

/// What the sandbox costs, against the physical limit: in paired, interleaved rounds of one run
/// (this machine drifts by ±30% within minutes), the raw `posix_spawn` rate of the interpreter
/// from the shared harness (`../shared/bench/spawn.c`: output captured, ~600 B of environment),
/// then HookBus completing trivial triggers of the same interpreter with the sandbox off, then
/// on. Targets: sandbox on ≥ 80% of raw for bash and ≥ 90% for python, and on ≥ 85% of off.
///
/// HookBus runs with its default pool (`runner.concurrency`, 4 on this machine). The raw
/// reference is the harness's better rate of two in flight (as the issue measured it) and the
/// same number in flight as HookBus: the comparison is with the best the machine can do.
struct SandboxBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sandbox")

    @Option(help: "bash runs per HookBus measurement (python: a fifth).") var runs = 1500
    @Option(help: "Rounds of raw, off, on.") var rounds = 3
    @Option(help: "Runs at once (default: HookBus's default pool); the harness runs 2 and this many in flight.") var concurrency = HookBusConfiguration().concurrency
    @Option(help: "Seconds of each raw measurement.") var seconds = 3
    @Option(help: "The shared harness, built (default: ../shared/bench/spawn.c compiled with cc).") var spawn: String?
    @Option(help: "Measure only this script type (bash or python).") var only: ScriptType?

    func run() async throws {
        let harness = try spawn ?? Self.buildHarness()
        let interpreters = Interpreters(configured: [:])
        let sandboxed = Sandbox.automatic
        guard sandboxed.isConfined else { throw ValidationError("runs cannot be sandboxed here: \(sandboxed.summary)") }
        // The same without a private /tmp (`runner.private_tmp: false`): no mount namespace per run.
        let withoutTmp = try Sandbox.resolve(setting: .required, privateTmp: false)
        print("sandbox: \(sandboxed.summary)")
        for (type, code, count) in [(ScriptType.bash, ":", runs), (.python, "pass", max(100, runs / 5))] where only == nil || only == type {
            guard let path = interpreters.path(for: type) else { print("sandbox: \(type.rawValue) not found"); continue }
            var onRaw: [Double] = [], offRaw: [Double] = [], onOff: [Double] = [], lightRaw: [Double] = [], lightOff: [Double] = []
            for round in 1...max(1, rounds) {
                var raw = 0.0
                for inFlight in Set([2, concurrency]).sorted() {
                    raw = max(raw, try Self.harnessRate(harness, arguments: ["-j", String(inFlight), "-p", "-e", "-t", String(seconds), path, "-c", code]))
                }
                let off = try await RunnerBenchmark.hookbusRate(type: type, code: code, interpreters: interpreters, count: count, concurrency: concurrency,
                                                                runner: ProcessRunner(interpreters: interpreters, sandbox: .off))
                let on = try await RunnerBenchmark.hookbusRate(type: type, code: code, interpreters: interpreters, count: count, concurrency: concurrency,
                                                               runner: ProcessRunner(interpreters: interpreters, sandbox: sandboxed))
                let light = try await RunnerBenchmark.hookbusRate(type: type, code: code, interpreters: interpreters, count: count, concurrency: concurrency,
                                                                  runner: ProcessRunner(interpreters: interpreters, sandbox: withoutTmp))
                onRaw.append(on / raw)
                offRaw.append(off / raw)
                onOff.append(on / off)
                lightRaw.append(light / raw)
                lightOff.append(light / off)
                print(String(format: "sandbox: %@ round %d: raw posix_spawn %.0f/s; HookBus sandbox off %.0f runs/s (%.0f%% of raw), on %.0f runs/s (%.0f%% of raw, %.0f%% of off), on without a private /tmp %.0f runs/s (%.0f%% of raw, %.0f%% of off)",
                             type.rawValue, round, raw, off, 100 * off / raw, on, 100 * on / raw, 100 * on / off, light, 100 * light / raw, 100 * light / off))
            }
            func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
            print(String(format: "sandbox: %@ (%@), %d at a time (raw: the better of 2 and that many in flight), median of %d rounds: sandbox on %.0f%% of raw (target >= %d%%), off %.0f%% of raw, on %.0f%% of off (target >= 85%%); without a private /tmp %.0f%% of raw, %.0f%% of off",
                         type.rawValue, path, concurrency, rounds, 100 * median(onRaw), type == .bash ? 80 : 90, 100 * median(offRaw), 100 * median(onOff),
                         100 * median(lightRaw), 100 * median(lightOff)))
        }
    }

    /// Compiles the shared harness into a temporary folder.
    static func buildHarness() throws -> String {
        let source = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("../shared/bench/spawn.c").standardized.path
        guard FileManager.default.fileExists(atPath: source) else { throw ValidationError("no harness at \(source): pass --spawn") }
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("hookbus-spawn-\(getpid())").path
        let compile = Process()
        compile.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        compile.arguments = ["cc", "-O2", "-o", output, source]
        try compile.run()
        compile.waitUntilExit()
        guard compile.terminationStatus == 0 else { throw ValidationError("cc could not build \(source)") }
        return output
    }

    /// The harness's `spawns_per_s`.
    static func harnessRate(_ harness: String, arguments: [String]) throws -> Double {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: harness)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard let value = try? JSONParser.parse(text.trimmingCharacters(in: .whitespacesAndNewlines))["spawns_per_s"], case let .number(rate) = value,
              let figure = Double(rate) else {
            throw ValidationError("the harness printed no rate: \(text)")
        }
        return figure
    }
}
