import Foundation
import Yams

/// Reads typed values out of a Yams node tree, reporting every type mismatch at the node's own
/// line and column. Definition files are read by hand rather than through `Codable` because a
/// decoding error only carries a coding path, and users need `file:line:column`.
struct NodeReader {
    var sink: DiagnosticSink

    init(file: String) {
        sink = DiagnosticSink(file: file)
    }

    var file: String { sink.file }

    func position(_ node: Node) -> SourcePosition {
        node.mark.map { SourcePosition(line: $0.line, column: $0.column) } ?? .file
    }

    func location(_ node: Node) -> SourceLocation {
        let position = position(node)
        return SourceLocation(file: file, line: position.line, column: position.column)
    }

    static func isNull(_ node: Node) -> Bool {
        guard case let .scalar(scalar) = node else { return false }
        return scalar.style == .plain && node.null != nil
    }

    /// A scalar as text; numbers and booleans keep their written form (`version: 1.0` → "1.0").
    mutating func string(_ node: Node, key: String) -> String? {
        guard case let .scalar(scalar) = node else {
            sink.error("'\(key)' must be a string, not a \(Self.kind(of: node))", at: position(node))
            return nil
        }
        if Self.isNull(node) { return nil }
        return scalar.string
    }

    mutating func bool(_ node: Node, key: String) -> Bool? {
        if Self.isNull(node) { return nil }
        if let value = node.bool { return value }
        if case let .scalar(scalar) = node {
            switch scalar.string.lowercased() {
            case "true", "yes", "on": return true
            case "false", "no", "off": return false
            default: break
            }
        }
        sink.error("'\(key)' must be true or false, not '\(Self.text(node))'", at: position(node))
        return nil
    }

    mutating func number(_ node: Node, key: String) -> Double? {
        if Self.isNull(node) { return nil }
        if let value = node.float ?? node.int.map(Double.init) { return value }
        sink.error("'\(key)' must be a number, not '\(Self.text(node))'", at: position(node))
        return nil
    }

    /// A value of a closed set; a near miss gets a suggestion, a case-only difference a warning.
    mutating func closed<Value: ClosedSet>(_ node: Node, key: String, as type: Value.Type = Value.self) -> Value? {
        guard let text = string(node, key: key) else { return nil }
        switch Value.match(text) {
        case let .exact(value):
            return value
        case let .caseInsensitive(value):
            sink.warning("\(Value.setName) '\(text)' should be written '\(value.rawValue)'; accepted as '\(value.rawValue)'", at: position(node))
            return value
        case let .unknown(suggestion):
            let hint = suggestion.map { " (did you mean '\($0)'?)" } ?? "; expected one of \(Value.listing)"
            sink.error("unknown \(Value.setName) '\(text)'\(hint)", at: position(node))
            return nil
        }
    }

    /// One value or a list of them: real exports write `observables: 'file'` as often as a list.
    func oneOrMany(_ node: Node) -> [Node] {
        switch node {
        case let .sequence(sequence): return Array(sequence)
        case _ where Self.isNull(node): return []
        default: return [node]
        }
    }

    mutating func mapping(_ node: Node, key: String) -> MappingView? {
        if case let .mapping(mapping) = node { return MappingView(mapping, node: node) }
        if Self.isNull(node) { return nil }
        sink.error("'\(key)' must be a mapping, not a \(Self.kind(of: node))", at: position(node))
        return nil
    }

    mutating func sequence(_ node: Node, key: String) -> [Node]? {
        if case let .sequence(sequence) = node { return Array(sequence) }
        if Self.isNull(node) { return [] }
        sink.error("'\(key)' must be a list, not a \(Self.kind(of: node))", at: position(node))
        return nil
    }

    /// `values:` of a list field: a mapping `{ip: IP Address}`, a list of one-pair mappings, or
    /// a list of plain strings (the key is then also the label).
    mutating func listValues(_ node: Node, key: String) -> [ListValue] {
        var values: [ListValue] = []
        switch node {
        case let .mapping(mapping):
            for (k, v) in mapping {
                values.append(ListValue(key: Self.text(k), label: Self.text(v)))
            }
        case let .sequence(sequence):
            for element in sequence {
                switch element {
                case let .mapping(mapping):
                    for (k, v) in mapping { values.append(ListValue(key: Self.text(k), label: Self.text(v))) }
                case .scalar:
                    let text = Self.text(element)
                    if let colon = text.firstIndex(of: ":") {
                        let k = text[..<colon].trimmingCharacters(in: .whitespaces)
                        let label = text[text.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                        values.append(ListValue(key: k, label: label))
                    } else {
                        values.append(ListValue(key: text, label: text))
                    }
                default:
                    sink.error("each entry of '\(key)' must be 'key: label'", at: position(element))
                }
            }
        default:
            if !Self.isNull(node) {
                sink.error("'\(key)' must be a list of 'key: label' entries", at: position(node))
            }
        }
        return values
    }

    /// Warns about keys the format does not define; they are kept, never fatal, because real
    /// exported files carry extras.
    mutating func reportUnknownKeys(in view: MappingView, known: [String], context: String) -> [String] {
        var extras: [String] = []
        for (name, keyNode) in view.keyNodes where !known.contains(name) {
            extras.append(name)
            let hint = Suggestion.hint(for: name, in: known)
            sink.warning("unknown key '\(name)' in \(context)\(hint); kept", at: position(keyNode))
        }
        return extras
    }

    static func kind(of node: Node) -> String {
        switch node {
        case .scalar: return "string"
        case .mapping: return "mapping"
        case .sequence: return "list"
        default: return "alias"
        }
    }

    static func text(_ node: Node) -> String {
        if case let .scalar(scalar) = node { return scalar.string }
        return "<\(kind(of: node))>"
    }
}

/// A YAML mapping with its keys as strings, in file order.
struct MappingView {
    let node: Node
    let entries: [(key: String, keyNode: Node, value: Node)]

    init(_ mapping: Node.Mapping, node: Node) {
        self.node = node
        entries = mapping.map { (key: NodeReader.text($0.key), keyNode: $0.key, value: $0.value) }
    }

    subscript(key: String) -> Node? {
        entries.first { $0.key == key }?.value
    }

    func keyNode(_ key: String) -> Node? {
        entries.first { $0.key == key }?.keyNode
    }

    var keyNodes: [(String, Node)] { entries.map { ($0.key, $0.keyNode) } }

    func has(_ key: String) -> Bool { entries.contains { $0.key == key } }
}
