// libyaml itself, as Yams builds it: Yams composes aliases without counting what they expand to
// and offers no event API, so the budget reads the same parser's events directly.
import CYaml

/// Bounds what YAML aliases expand to, so that a file may use an anchor for a repeated value
/// (`values: &levels [low, high]` … `values: *levels`) while a "billion laughs" file (nine
/// levels of ten aliases: a billion nodes from a few hundred bytes) is refused before anything
/// walks the expanded tree.
///
/// Yams composes an alias as a copy of the anchored node: cheap (copy on write), but every later
/// walk over the tree — reading a definition, hashing a mapping key — visits each copy. So one
/// linear pass over libyaml's events counts, for every anchor, the nodes and scalar bytes of its
/// node including the aliases inside it, and sums what each alias adds. An alias in a mapping
/// key is refused outright: Yams hashes keys to find duplicates, which visits the whole
/// expansion before any budget could apply.
///
/// Run only when the pre-scan saw an alias (most files have none).
struct YAMLAliasBudget {
    enum Problem: Error, Equatable {
        /// Aliases would add more nodes or scalar bytes than allowed; at the alias that crossed it.
        case exceeded(line: Int, column: Int, name: String, nodes: Int, bytes: Int)
        /// An alias used as (or inside) a mapping key.
        case aliasInKey(line: Int, column: Int, name: String)
        /// An alias whose node, where it is used, nests deeper than the depth bound (aliases of
        /// deep anchors inside deep anchors; the tree walks that follow recurse that deep).
        case tooDeep(line: Int, column: Int, name: String, limit: Int)
    }

    /// Nodes, scalar bytes and depth (1 for a scalar) of a node with its aliases expanded.
    private struct Size {
        var nodes = 0
        var bytes = 0
        var depth = 1
        mutating func add(_ other: Size) {
            nodes += other.nodes
            bytes += other.bytes
            depth = max(depth, other.depth + 1)
        }
    }

    /// A collection being read: its anchor, its size so far, and whether the next node in it is
    /// a mapping key.
    private struct Frame {
        var anchor: String?
        var isMapping: Bool
        var size = Size(nodes: 1)
        var nextIsKey: Bool
        var inKey: Bool
    }

    /// Checks `text`. A syntax error ends the check without a problem: the parser that follows
    /// reports it with its position.
    static func check(_ text: String, maximumNodes: Int, maximumBytes: Int, maximumDepth: Int) throws(Problem) {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return }
        defer { yaml_parser_delete(&parser) }
        var bytes = Array(text.utf8)
        try bytes.withUnsafeMutableBufferPointer { (buffer) throws(Problem) in
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var budget = Budget(maximumNodes: maximumNodes, maximumBytes: maximumBytes, maximumDepth: maximumDepth)
            var event = yaml_event_t()
            while yaml_parser_parse(&parser, &event) == 1 {
                defer { yaml_event_delete(&event) }
                if event.type == YAML_STREAM_END_EVENT { return }
                try budget.read(event)
            }
        }
    }

    /// The pass's state: anchors' sizes (a later anchor of the same name shadows an earlier one,
    /// as in the composer), open collections, and what aliases added so far.
    private struct Budget {
        let maximumNodes: Int
        let maximumBytes: Int
        let maximumDepth: Int
        var anchors: [String: Size] = [:]
        var stack: [Frame] = []
        var added = Size()

        mutating func read(_ event: yaml_event_t) throws(Problem) {
            switch event.type {
            case YAML_SCALAR_EVENT:
                let size = Size(nodes: 1, bytes: Int(event.data.scalar.length))
                if let anchor = YAMLAliasBudget.string(event.data.scalar.anchor) { anchors[anchor] = size }
                finished(size)
            case YAML_ALIAS_EVENT:
                let name = YAMLAliasBudget.string(event.data.alias.anchor) ?? ""
                let line = Int(event.start_mark.line) + 1
                let column = Int(event.start_mark.column) + 1
                if nextIsInKey { throw .aliasInKey(line: line, column: column, name: name) }
                // An undefined alias is the composer's error to report.
                let size = anchors[name] ?? Size(nodes: 1)
                added.add(size)
                if added.nodes > maximumNodes || added.bytes > maximumBytes {
                    throw .exceeded(line: line, column: column, name: name, nodes: maximumNodes, bytes: maximumBytes)
                }
                if stack.count + size.depth > maximumDepth {
                    throw .tooDeep(line: line, column: column, name: name, limit: maximumDepth)
                }
                finished(size)
            case YAML_SEQUENCE_START_EVENT:
                stack.append(Frame(anchor: YAMLAliasBudget.string(event.data.sequence_start.anchor), isMapping: false, nextIsKey: false, inKey: nextIsInKey))
            case YAML_MAPPING_START_EVENT:
                stack.append(Frame(anchor: YAMLAliasBudget.string(event.data.mapping_start.anchor), isMapping: true, nextIsKey: true, inKey: nextIsInKey))
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                guard let frame = stack.popLast() else { return }
                if let anchor = frame.anchor { anchors[anchor] = frame.size }
                finished(frame.size)
            default:
                break
            }
        }

        /// Whether the node about to be read is a mapping key or inside one.
        private var nextIsInKey: Bool {
            guard let top = stack.last else { return false }
            return top.inKey || (top.isMapping && top.nextIsKey)
        }

        /// A node ended: it counts in its parent, and a mapping's next node swaps key and value.
        private mutating func finished(_ size: Size) {
            guard !stack.isEmpty else { return }
            stack[stack.count - 1].size.add(size)
            if stack[stack.count - 1].isMapping { stack[stack.count - 1].nextIsKey.toggle() }
        }
    }

    private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        pointer.map { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
    }
}
