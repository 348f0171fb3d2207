import ArgumentParser
import Foundation
import HookBus

/// `hookbus fire HOOK`: dispatch one event locally. With `--dry-run`, show what would run and
/// why the rest would not — the offline tester for a trigger before it is deployed.
struct FireCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fire",
        abstract: "Dispatch one event locally and show the runs (or, with --dry-run, what would run).")

    @OptionGroup var options: CommonOptions

    @Argument(help: "The hook, e.g. updateIncident.")
    var hook: String

    @Option(name: .long, help: "JSON object with the hook's params (a file, or - for stdin).")
    var params: String?

    @Option(name: .long, help: "Run only this trigger (required for custom-action hooks).")
    var trigger: String?

    @Flag(name: .long, help: "Show the invocations that would run, without running anything.")
    var dryRun = false

    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false

    func run() async throws {
        let context: CommandContext
        do { context = try CommandContext(options: options, quiet: json) } catch { throw CommandFailure.exit("\(error)") }
        var body = try params.map { try readInput($0) } ?? Array("{}".utf8)
        if let trigger {
            body = Self.addingTrigger(trigger, to: body)
        }
        let event: Event
        let decisions: [RouteDecision]
        do {
            event = try Event.fromHookBody(hook: hook, body: body, source: EventSource(kind: .cli))
            decisions = try context.router.route(event)
        } catch {
            throw CommandFailure.exit(error.message)
        }
        if dryRun {
            let report = DryRunReport(event: event, decisions: decisions, interpreters: context.interpreters)
            print(json ? report.json : report.text, terminator: "")
            return
        }
        try await FireExecution.run(event: event, decisions: decisions, context: context, json: json)
    }

    /// Adds `"trigger": NAME` to a JSON object body (the body is already known to be an object
    /// or is about to be refused as malformed, which the validator reports).
    static func addingTrigger(_ name: String, to body: [UInt8]) -> [UInt8] {
        var text = String(decoding: body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.hasPrefix("{") else { return body }
        text.removeFirst()
        let rest = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return Array(("{\"trigger\":" + JSONValue.quoted(name) + (rest.hasPrefix("}") ? "" : ",") + rest).utf8)
    }
}
