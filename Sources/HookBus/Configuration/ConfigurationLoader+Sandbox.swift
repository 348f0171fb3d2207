import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Yams

/// `runner.sandbox`, `runner.sandbox_user`, `runner.run_uids`, `runner.private_tmp`, `runner.sandbox_read`, `runner.sandbox_write`,
/// `runner.limits`, and per
/// integration `network`, `limits`, `action_limits`, `sandbox_read`, `sandbox_write`.
///
/// Limits written for an integration or an action name only what differs from the limits they
/// refine (action over integration over `runner.limits` over `ResourceLimits.default`); `none`
/// lifts one.
extension ConfigurationLoader {
    static let limitKeys = ["memory", "cpu_seconds", "processes", "file_size"]

    /// Reads the `runner` section's sandbox keys.
    func readSandboxSettings(_ view: MappingView, into configuration: inout HookBusConfiguration, reader: inout NodeReader) {
        if let node = view["sandbox"], let text = reader.string(node, key: "runner.sandbox") {
            if let setting = SandboxSetting(rawValue: text.lowercased()) {
                configuration.sandbox = setting
            } else if ["off", "false", "no"].contains(text.lowercased()) {
                configuration.sandbox = .none
            } else {
                let names = SandboxSetting.allCases.map(\.rawValue)
                reader.sink.error("'runner.sandbox' is one of \(names.map { "'\($0)'" }.joined(separator: ", ")), not '\(text)'\(Suggestion.hint(for: text, in: names))", at: reader.position(node))
            }
        }
        if let node = view["sandbox_user"], let text = reader.string(node, key: "runner.sandbox_user") {
            configuration.sandboxUser = text
        }
        if let node = view["run_uids"], let text = reader.string(node, key: "runner.run_uids") {
            if let range = Self.uidRange(text) {
                configuration.runUIDs = range
            } else {
                reader.sink.error("'runner.run_uids' is a range of at least 16 uids written FIRST-LAST, above 0 and below 4294967295, not '\(text)'", at: reader.position(node))
            }
        }
        if let node = view["private_tmp"], let value = reader.bool(node, key: "runner.private_tmp") {
            configuration.privateTmp = value
        }
        if let node = view["sandbox_read"] {
            configuration.sandboxRead = paths(node, key: "runner.sandbox_read", reader: &reader)
        }
        if let node = view["sandbox_write"] {
            configuration.sandboxWrite = paths(node, key: "runner.sandbox_write", reader: &reader)
        }
        if let node = view["limits"], let limits = resourceLimits(node, key: "runner.limits", over: configuration.limits, reader: &reader) {
            configuration.limits = limits
        }
    }

    /// "FIRST-LAST" as a range of at least 16 uids, without 0 and -1 (which the kernel reads as
    /// "unchanged").
    static func uidRange(_ text: String) -> ClosedRange<UInt32>? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, let first = UInt32(parts[0]), let last = UInt32(parts[1]),
              first > 0, last < UInt32.max, last >= first, last - first >= 15 else { return nil }
        return first...last
    }

    /// Reads an integration section's sandbox keys.
    func readRunPolicy(_ section: MappingView, integration: Integration, global: ResourceLimits, into instance: inout HookBusConfiguration.Instance, reader: inout NodeReader) {
        let name = integration.name
        if let node = section["network"], let value = reader.bool(node, key: "integrations.\(name).network") {
            instance.network = value
        }
        if let node = section["sandbox_read"] {
            instance.sandboxRead = paths(node, key: "integrations.\(name).sandbox_read", reader: &reader)
        }
        if let node = section["sandbox_write"] {
            instance.sandboxWrite = paths(node, key: "integrations.\(name).sandbox_write", reader: &reader)
        }
        if let node = section["limits"] {
            instance.resourceLimits = resourceLimits(node, key: "integrations.\(name).limits", over: global, reader: &reader)
        }
        if let node = section["action_limits"] {
            for entry in actionEntries(node, key: "action_limits", of: integration, reader: &reader) {
                if let limits = resourceLimits(entry.value, key: "integrations.\(name).action_limits.\(entry.key)", over: instance.resourceLimits ?? global, reader: &reader) {
                    instance.actionResourceLimits[entry.key] = limits
                }
            }
        }
    }

    /// A `limits:` mapping over `base`: sizes as bytes or with a binary unit (`512MiB`, `1G`),
    /// counts as whole numbers, `none` for no limit.
    func resourceLimits(_ node: Node, key: String, over base: ResourceLimits, reader: inout NodeReader) -> ResourceLimits? {
        guard let view = reader.mapping(node, key: key) else { return nil }
        _ = reader.reportUnknownKeys(in: view, known: Self.limitKeys, context: key)
        var limits = base
        if let node = view["memory"] { limits.memoryBytes = size(node, key: "\(key).memory", minimum: 16 << 20, reader: &reader) ?? limits.memoryBytes }
        if let node = view["file_size"] { limits.fileSizeBytes = size(node, key: "\(key).file_size", minimum: 1 << 10, reader: &reader) ?? limits.fileSizeBytes }
        if let node = view["cpu_seconds"] { limits.cpuSeconds = count(node, key: "\(key).cpu_seconds", range: 1...(30 * 86400), reader: &reader) ?? limits.cpuSeconds }
        if let node = view["processes"] { limits.processes = count(node, key: "\(key).processes", range: 1...1_000_000, reader: &reader) ?? limits.processes }
        return limits
    }

    /// A size in bytes: `536870912`, `512MiB`, `512M`, `2GiB`, `64KiB`; `none` lifts the limit.
    /// Returns the outer nil when the node is in error (the limit it refines stays).
    private func size(_ node: Node, key: String, minimum: Int, reader: inout NodeReader) -> Int?? {
        guard let text = reader.string(node, key: key)?.trimmingCharacters(in: .whitespaces) else { return nil }
        if text.lowercased() == "none" { return .some(nil) }
        let units: [(String, Int)] = [("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30), ("", 1)]
        for (unit, factor) in units where text.hasSuffix(unit) {
            let digits = text.dropLast(unit.count).trimmingCharacters(in: .whitespaces)
            guard let value = Int(digits), value > 0, value <= (1 << 62) / factor else { break }
            guard value * factor >= minimum else {
                reader.sink.error("'\(key)' is at least \(minimum) bytes, not '\(text)'", at: reader.position(node))
                return nil
            }
            return .some(value * factor)
        }
        reader.sink.error("'\(key)' is a size in bytes, or with a unit (KiB, MiB, GiB), or 'none'; not '\(text)'", at: reader.position(node))
        return nil
    }

    private func count(_ node: Node, key: String, range: ClosedRange<Int>, reader: inout NodeReader) -> Int?? {
        if case let .scalar(scalar) = node, scalar.string.lowercased() == "none" { return .some(nil) }
        guard let value = reader.number(node, key: key) else { return nil }
        guard value == value.rounded(), value >= Double(range.lowerBound), value <= Double(range.upperBound) else {
            reader.sink.error("'\(key)' is a whole number from \(range.lowerBound) to \(range.upperBound), or 'none'; not '\(NodeReader.text(node))'", at: reader.position(node))
            return nil
        }
        return .some(Int(value))
    }

    /// Absolute paths, one or a list, kept as real paths (links resolved: a run's grants
    /// follow none). `/` and `/tmp` are refused: the one would open everything, the other is
    /// each run's own.
    private func paths(_ node: Node, key: String, reader: inout NodeReader) -> [String] {
        var paths: [String] = []
        for item in reader.oneOrMany(node) {
            guard let path = reader.string(item, key: key) else { continue }
            guard path.hasPrefix("/") else {
                reader.sink.error("'\(key)' lists absolute paths, not '\(path)'", at: reader.position(item))
                continue
            }
            let real = realpath(path, nil).map { pointer in defer { free(pointer) }; return String(cString: pointer) }
                ?? URL(fileURLWithPath: path).standardizedFileURL.path
            guard real != "/", real != "/tmp" else {
                reader.sink.error("'\(key)' cannot list '\(path)': \(real == "/" ? "it would open every file to every run" : "each run has a /tmp of its own")", at: reader.position(item))
                continue
            }
            if access(real, F_OK) != 0 {
                reader.sink.warning("'\(key)' lists '\(path)', which does not exist: runs will be refused until it does", at: reader.position(item))
            }
            paths.append(real)
        }
        return paths
    }
}
