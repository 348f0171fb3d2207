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

    @Option(name: .long, help: "For the webhook hook: the endpoint the event comes through (its trigger list and rules apply).")
    var webhook: String?

    @Option(name: .long, help: "For the webhook hook: the request's raw body (a file, or - for stdin), instead of --params.")
    var body: String?

    @Option(name: .long, help: "For --body: its Content-Type.")
    var contentType: String?

    @Option(name: .customLong("header"), help: "For the webhook hook: a request header, 'Name: value' (repeatable).")
    var headers: [String] = []

    @Flag(name: .long, help: "Show the invocations that would run, without running anything.")
    var dryRun = false

    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false

    func run() async throws {
        let context: CommandContext
        do { context = try CommandContext(options: options, quiet: json) } catch { throw CommandFailure.exit("\(error)") }
        let event: Event
        let decisions: [RouteDecision]
        do {
            event = try makeEvent(configuration: context.router.configuration)
            decisions = try context.router.route(event)
        } catch let error as EventError {
            throw CommandFailure.exit(error.message)
        }
        if dryRun {
            let report = DryRunReport(event: event, decisions: decisions, interpreters: context.interpreters)
            print(json ? report.json : report.text, terminator: "")
            return
        }
        try await FireExecution.run(event: event, decisions: decisions, context: context, json: json)
    }

    /// The event: from `--params` (a hook body), or for a webhook from `--body` with its content
    /// type and headers, as the endpoint named by `--webhook` would receive it.
    private func makeEvent(configuration: HookBusConfiguration) throws -> Event {
        let isWebhook = hook.caseInsensitiveCompare(Hook.webhook.rawValue) == .orderedSame
        if !isWebhook, webhook != nil || body != nil || contentType != nil || !headers.isEmpty {
            throw CommandFailure.exit("--webhook, --body, --content-type and --header are for the webhook hook")
        }
        if body != nil, params != nil { throw CommandFailure.exit("give --body or --params, not both") }
        if contentType != nil, body == nil { throw CommandFailure.exit("--content-type describes --body") }
        var endpoint: WebhookEndpoint?
        if let webhook {
            guard let found = configuration.webhooks[webhook] else {
                throw CommandFailure.exit("no webhook endpoint named '\(webhook)' is configured\(Suggestion.hint(for: webhook, in: Array(configuration.webhooks.keys)))")
            }
            endpoint = found
        }
        // As the server keeps them: only the endpoint's kept headers (never credentials), a name
        // given several times joined into one value.
        var given: [(name: String, values: [String])] = []
        for header in headers {
            guard let colon = header.firstIndex(of: ":") else { throw CommandFailure.exit("--header '\(header)' must be 'Name: value'") }
            let name = header[..<colon].trimmingCharacters(in: .whitespaces)
            let value = header[header.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            let keeps = endpoint.map { $0.keptHeaders.contains { $0.caseInsensitiveCompare(name) == .orderedSame } }
                ?? (name.caseInsensitiveCompare("Authorization") != .orderedSame)
            guard keeps else { continue }
            if let index = given.firstIndex(where: { $0.name.caseInsensitiveCompare(name) == .orderedSame }) {
                given[index].values.append(value)
            } else {
                given.append((name, [value]))
            }
        }
        let kept = given.map { KeptHeader(name: $0.name, value: $0.values.joined(separator: ", ")) }
        let source = EventSource(kind: .cli, name: webhook)
        if let body {
            return try Event.webhook(WebhookBody(bytes: try readInput(body), contentType: contentType, headers: kept), source: source, trigger: trigger)
        }
        var hookBody = try params.map { try readInput($0) } ?? Array("{}".utf8)
        if let trigger { hookBody = Self.addingTrigger(trigger, to: hookBody) }
        var event = try Event.fromHookBody(hook: hook, body: hookBody, source: source)
        if isWebhook, let webhookBody = event.webhookBody, !kept.isEmpty {
            event = try Event.webhook(WebhookBody(bytes: webhookBody.bytes, contentType: webhookBody.contentType, headers: kept),
                                      source: source, id: event.id, trigger: event.trigger, receivedAt: event.receivedAt)
        }
        return event
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
