import Foundation
import HookBus

/// What `--dry-run` prints: per trigger, the invocation (argv, environment, stdin size; secrets
/// masked) or the reason it would not run.
struct DryRunReport {
    let event: Event
    let decisions: [RouteDecision]
    let interpreters: Interpreters

    /// Long values (a 4 KiB incident) are shortened in the text form only; `--json` is complete.
    private static func shorten(_ text: String, to limit: Int = 160) -> String {
        text.count <= limit ? text : String(text.prefix(limit)) + "… (\(text.utf8.count) bytes)"
    }

    var text: String {
        let runs = decisions.filter { if case .run = $0 { return true } else { return false } }.count
        var output = "event \(event.id) \(event.hook.rawValue): \(runs) of \(decisions.count) trigger\(decisions.count == 1 ? "" : "s") would run\n"
        if decisions.isEmpty { output += "  (no trigger listens to \(event.hook.rawValue))\n" }
        for decision in decisions {
            switch decision {
            case let .run(invocation):
                let interpreter = interpreters.resolutions[invocation.scriptType]
                output += "run  \(invocation.integration)/\(invocation.trigger)\n"
                output += "     interpreter: \(interpreter?.path ?? "not found (\(Interpreters.command(for: invocation.scriptType)))") [\(invocation.scriptType.rawValue)], timeout \(Int(invocation.timeoutSeconds)) s\n"
                for argument in invocation.maskedArguments { output += "     argv: \(Self.shorten(argument))\n" }
                for (name, value) in invocation.maskedEnvironment.sorted(by: { $0.key < $1.key }) {
                    output += "     env:  \(Self.shorten("\(name)=\(value)"))\n"
                }
                output += "     stdin: \(invocation.stdin.utf8.count) bytes of JSON\n"
                if !invocation.oversizedParams.isEmpty {
                    output += "     oversized (stdin and $HOOKBUS_FILE_<name> only): \(invocation.oversizedParams.joined(separator: ", "))\n"
                }
            case let .skip(integration, trigger, reason):
                output += "skip \(integration)/\(trigger): \(reason)\n"
            }
        }
        return output
    }

    var json: String {
        var entries: [String] = []
        for decision in decisions {
            var fields: [String: JSONValue] = [
                "integration": .string(decision.integrationName),
                "trigger": .string(decision.triggerName),
            ]
            switch decision {
            case let .run(invocation):
                fields["decision"] = .string("run")
                fields["interpreter"] = interpreters.path(for: invocation.scriptType).map(JSONValue.string) ?? .null
                fields["scriptType"] = .string(invocation.scriptType.rawValue)
                fields["argv"] = .array(invocation.maskedArguments.map(JSONValue.string))
                fields["env"] = .object(invocation.maskedEnvironment.mapValues(JSONValue.string))
                fields["stdinBytes"] = .number(String(invocation.stdin.utf8.count))
                fields["oversizedParams"] = .array(invocation.oversizedParams.map(JSONValue.string))
                fields["timeoutSeconds"] = .number(String(invocation.timeoutSeconds))
            case let .skip(_, _, reason):
                fields["decision"] = .string("skip")
                fields["reason"] = .string(reason.description)
            }
            entries.append(JSONValue.object(fields).jsonText)
        }
        return "{\"event\":\(JSONValue.quoted(event.id)),\"hook\":\(JSONValue.quoted(event.hook.rawValue)),\"decisions\":[\(entries.joined(separator: ","))]}\n"
    }
}
