import ArgumentParser
import Foundation
import HookBus

/// What the retry and limit machinery costs on the run path when nothing fails: trivial bash
/// trigger completions per second with retry policies (global, per integration, per action),
/// strict order and limits configured but never reached, against none of them, in paired
/// rounds (this machine drifts by ±30% within minutes, so each round measures both, in turn
/// order swapped). Runs are about 64 incidents in turn, so every run passes the strict-order
/// check. Target: at least 95%.
struct RetryCostBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "retry-cost")

    @Option(help: "Runs per measurement.") var runs = 2000
    @Option(help: "Runs at once.") var concurrency = 2
    @Option(help: "Paired rounds; the median ratio is the figure.") var rounds = 5

    func run() async throws {
        let interpreters = Interpreters(configured: [:])
        guard interpreters.path(for: .bash) != nil else { throw ValidationError("bash not found") }
        let none: (inout HookBusConfiguration) -> Void = { configuration in
            configuration.retryPolicy.attempts = 1
        }
        let policies: (inout HookBusConfiguration) -> Void = { configuration in
            configuration.retryPolicy = RetryPolicy(on: [.failed, .timedOut, .error, .killed], finalExitCodes: [2], attempts: 5, delay: 1, factor: 2, maxDelay: 60, jitter: 0.2)
            var instance = configuration.instances["Bench"] ?? HookBusConfiguration.Instance()
            instance.retry = RetryPolicy(on: [.failed, .timedOut], attempts: 4, delay: 2)
            instance.actionRetries["Trivial"] = RetryPolicy(on: [.failed, .timedOut, .error], attempts: 3, delay: 0.5)
            instance.order = .strict
            // Far above what two run slots reach: counted on every run, never waited for.
            instance.limits = IntegrationLimits(maxConcurrency: 1000, maxPerMinute: 6_000_000)
            configuration.instances["Bench"] = instance
        }
        var ratios: [Double] = []
        for round in 1...max(1, rounds) {
            var rates: (none: Double, policies: Double) = (0, 0)
            for first in round % 2 == 0 ? [true, false] : [false, true] {
                let rate = try await RunnerBenchmark.hookbusRate(type: .bash, code: ":", interpreters: interpreters, count: runs, concurrency: concurrency,
                                                                 incidents: true, configure: first ? policies : none)
                if first { rates.policies = rate } else { rates.none = rate }
            }
            ratios.append(rates.policies / rates.none)
            print(String(format: "retry-cost: round %d: no policies %.0f runs/s; policies and limits %.0f runs/s = %.1f%%", round, rates.none, rates.policies, 100 * rates.policies / rates.none))
        }
        ratios.sort()
        print(String(format: "retry-cost: bash, %d at a time, %d runs per measurement: with retry policies, strict order and limits configured, HookBus completes %.1f%% of the runs per second it does without them, median of %d paired rounds (target >= 95%%)",
                     concurrency, runs, 100 * ratios[ratios.count / 2], ratios.count))
    }
}
