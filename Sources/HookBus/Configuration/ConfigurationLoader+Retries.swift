import Yams

/// `retry:` (global, per integration, per action), `order:`, `max_concurrency:` and
/// `max_per_minute:` of `hookbus.yaml`.
///
/// A policy written for an integration or an action names only what differs: the rest comes
/// from the policy it refines (action over integration over global over `RetryPolicy.default`).
extension ConfigurationLoader {
    static let retryKeys = ["on", "final_exit_codes", "attempts", "delay", "factor", "max_delay", "jitter"]

    /// Reads a `retry:` mapping over `base`; nil (and diagnostics) when it is not a mapping.
    func retryPolicy(_ node: Node, key: String, over base: RetryPolicy, reader: inout NodeReader) -> RetryPolicy? {
        guard let view = reader.mapping(node, key: key) else { return nil }
        _ = reader.reportUnknownKeys(in: view, known: Self.retryKeys, context: key)
        var policy = base
        if let onNode = view["on"] {
            var outcomes: Set<RunOutcome> = []
            for item in reader.oneOrMany(onNode) {
                guard let text = reader.string(item, key: "\(key).on") else { continue }
                guard let outcome = RunOutcome(rawValue: text.lowercased()), RetryPolicy.retryable.contains(outcome) else {
                    let names = RetryPolicy.retryable.map(\.rawValue)
                    reader.sink.error("'\(key).on' lists outcomes to retry, one of \(names.map { "'\($0)'" }.joined(separator: ", ")), not '\(text)'\(Suggestion.hint(for: text, in: names))", at: reader.position(item))
                    continue
                }
                outcomes.insert(outcome)
            }
            policy.on = outcomes
        }
        if let codesNode = view["final_exit_codes"] {
            var codes: Set<Int32> = []
            for item in reader.oneOrMany(codesNode) {
                guard let value = reader.number(item, key: "\(key).final_exit_codes") else { continue }
                guard value == value.rounded(), (1...255).contains(value) else {
                    reader.sink.error("'\(key).final_exit_codes' lists exit codes (1-255), not '\(NodeReader.text(item))'", at: reader.position(item))
                    continue
                }
                codes.insert(Int32(value))
            }
            policy.finalExitCodes = codes
        }
        if let node = view["attempts"], let value = reader.number(node, key: "\(key).attempts") {
            if value == value.rounded(), (1...100).contains(value) { policy.attempts = Int(value) } else {
                reader.sink.error("'\(key).attempts' is the number of tries in all, 1 (no retry) to 100, not '\(NodeReader.text(node))'", at: reader.position(node))
            }
        }
        if let value = view["delay"].flatMap({ positiveNumber($0, key: "\(key).delay", reader: &reader) }) { policy.delay = value }
        if let node = view["factor"], let value = reader.number(node, key: "\(key).factor") {
            if (1...10).contains(value) { policy.factor = value } else {
                reader.sink.error("'\(key).factor' must be between 1 (equal delays) and 10, not '\(NodeReader.text(node))'", at: reader.position(node))
            }
        }
        if let value = view["max_delay"].flatMap({ positiveNumber($0, key: "\(key).max_delay", reader: &reader) }) { policy.maxDelay = value }
        for (field, value) in [("delay", policy.delay), ("max_delay", policy.maxDelay)] where value > 7 * 86400 {
            reader.sink.error("'\(key).\(field)' is at most a week (604800 s), not \(value) s", at: reader.position(view[field] ?? node))
        }
        if let node = view["jitter"], let value = reader.number(node, key: "\(key).jitter") {
            if (0...1).contains(value) { policy.jitter = value } else {
                reader.sink.error("'\(key).jitter' is the fraction of a delay taken off at random, 0 to 1, not '\(NodeReader.text(node))'", at: reader.position(node))
            }
        }
        if policy.maxDelay < policy.delay {
            reader.sink.error("'\(key).max_delay' (\(policy.maxDelay) s) is shorter than its 'delay' (\(policy.delay) s)", at: reader.position(node))
        }
        return policy
    }

    /// The retry, order and limit settings of one integration's section.
    func readDeliverySettings(_ section: MappingView, integration: Integration, global: RetryPolicy, into instance: inout HookBusConfiguration.Instance, reader: inout NodeReader) {
        let name = integration.name
        if let node = section["retry"] {
            instance.retry = retryPolicy(node, key: "integrations.\(name).retry", over: global, reader: &reader)
        }
        if let node = section["action_retry"] {
            for entry in actionEntries(node, key: "action_retry", of: integration, reader: &reader) {
                if let policy = retryPolicy(entry.value, key: "integrations.\(name).action_retry.\(entry.key)", over: instance.retry ?? global, reader: &reader) {
                    instance.actionRetries[entry.key] = policy
                }
            }
        }
        if let node = section["order"], let text = reader.string(node, key: "order") {
            if let mode = OrderMode(rawValue: text.lowercased()) { instance.order = mode } else {
                reader.sink.error("'order' of integration '\(name)' must be 'strict' or 'relaxed', not '\(text)'", at: reader.position(node))
            }
        }
        if let node = section["max_concurrency"], let value = positiveNumber(node, key: "max_concurrency", reader: &reader) {
            if value == value.rounded(), value <= 100_000 { instance.limits.maxConcurrency = Int(value) } else {
                reader.sink.error("'max_concurrency' of integration '\(name)' must be a whole number up to 100000, not '\(NodeReader.text(node))'", at: reader.position(node))
            }
        }
        if let node = section["max_per_minute"], let value = positiveNumber(node, key: "max_per_minute", reader: &reader) {
            if value <= 60_000_000 { instance.limits.maxPerMinute = value } else {
                reader.sink.error("'max_per_minute' of integration '\(name)' is at most 60000000 (a million a second), not '\(NodeReader.text(node))'", at: reader.position(node))
            }
        }
    }

    /// The entries of a per-action mapping (`action_retry`, `action_timeouts`, `action_limits`)
    /// that name an action of `integration`; any other is an error with a "did you mean".
    func actionEntries(_ node: Node, key: String, of integration: Integration, reader: inout NodeReader) -> [(key: String, value: Node)] {
        guard let view = reader.mapping(node, key: key) else { return [] }
        var entries: [(key: String, value: Node)] = []
        for entry in view.entries {
            guard integration.actions.contains(where: { $0.name == entry.key }) else {
                reader.sink.error("integration '\(integration.name)' has no action '\(entry.key)'\(Suggestion.hint(for: entry.key, in: integration.actions.map(\.name)))", at: reader.position(entry.keyNode))
                continue
            }
            entries.append((entry.key, entry.value))
        }
        return entries
    }
}
