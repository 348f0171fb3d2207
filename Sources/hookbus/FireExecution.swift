import ArgumentParser
import Foundation
import HookBus

/// `hookbus fire` without `--dry-run`: store the event, run its triggers, print each run.
enum FireExecution {
    static func run(event: Event, decisions: [RouteDecision], context: CommandContext, json: Bool) async throws {
        let engine = try await context.makeEngine()
        let accepted = try await engine.store.accept([(event, nil)], idempotencyWindow: 0, claimed: true)
        guard let first = accepted.first, !first.duplicate else { throw CommandFailure.exit("event \(event.id) was already stored") }
        let (plan, firstRuns, waiting) = await engine.dispatch(StoredEvent(event: event, state: .running, attempt: 1))
        let printer = RunPrinter(json: json)
        if !json { print("event \(event.id) \(event.hook.rawValue): \(firstRuns.count) run\(firstRuns.count == 1 ? "" : "s"), \(plan.skipped.count) skipped") }
        for skip in plan.skipped { printer.skip(eventID: event.id, integration: skip.integration, trigger: skip.trigger, reason: skip.reason) }
        var runs = firstRuns
        for run in firstRuns { printer.run(eventID: event.id, run) }
        if !waiting.isEmpty || firstRuns.contains(where: { $0.retry != nil }) {
            let left = try await engine.runDeferredRuns(of: [event.id], announce: RunPrinter.announce) { run in
                printer.run(eventID: event.id, run)
                runs.append(run)
            }
            RunPrinter.leftToServer(left)
            if !left.isEmpty { throw ExitCode(1) }
        }
        if Engine.CompletedRun.anyFinalFailure(runs) { throw ExitCode(1) }
    }
}

/// Prints completed runs as readable lines, or JSON Lines with `--json`.
struct RunPrinter {
    let json: Bool

    func run(eventID: String, _ run: Engine.CompletedRun) {
        let result = run.result
        if json {
            print(run.jsonValue().jsonText)
            return
        }
        var status = result.outcome.rawValue
        if let code = result.exitCode, result.outcome == .failed { status += " (exit \(code))" }
        if let signal = result.signal { status += " (signal \(signal))" }
        print("\(pad(status, 12)) \(String(format: "%7.3f s", result.duration))  \(run.invocation.integration)/\(run.invocation.trigger)")
        if let reason = result.reason { print("    \(reason)") }
        let stdout = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        if !stdout.isEmpty { print(indent("stdout", stdout)) }
        let stderr = result.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        if !stderr.isEmpty { print(indent("stderr", stderr)) }
    }

    /// A run that waits on disk (a retry, a run held behind one), on stderr.
    static func announce(_ row: DeferredRun) {
        let wait = row.dueAt.timeIntervalSinceNow
        let when = wait > 0.5 ? String(format: " (in %.1f s; Ctrl-C leaves it in the store for `hookbus serve`)", wait) : ""
        FileHandle.standardError.write(Data("\(row.eventID) \(row.qualifiedTrigger) waits: \(row.reason)\(when)\n".utf8))
    }

    /// Deferred runs a command stops waiting for (they cannot go on here), on stderr.
    static func leftToServer(_ rows: [DeferredRun]) {
        for row in rows {
            FileHandle.standardError.write(Data("\(row.eventID) \(row.qualifiedTrigger) is left in the store for `hookbus serve`: \(row.reason)\n".utf8))
        }
    }

    func skip(eventID: String, integration: String, trigger: String, reason: String) {
        if json {
            print(JSONValue.object(["event": .string(eventID), "integration": .string(integration), "trigger": .string(trigger),
                                    "outcome": .string("skipped"), "reason": .string(reason)]).jsonText)
        } else {
            print("\(pad("skipped", 12))            \(integration)/\(trigger): \(reason)")
        }
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    private func indent(_ label: String, _ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { "    \(label)| \($0)" }.joined(separator: "\n")
    }
}

extension CommandContext {
    /// The engine over the configured store and the real process runner.
    func makeEngine() async throws -> Engine {
        let store = try await StoreOpener.open(configuration)
        let runner = ProcessRunner(interpreters: interpreters, configuration: configuration, sandbox: sandbox)
        return Engine(store: store, router: router, runner: runner)
    }
}
