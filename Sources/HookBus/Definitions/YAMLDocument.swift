public import Foundation
import Yams

/// Limits applied to every YAML file HookBus reads (definitions and configuration), because those
/// files are untrusted input too: a definition may come from a vendor, a colleague or a download.
public struct YAMLLimits: Sendable, Hashable {
    /// Largest file accepted. Integration files carry base64 icons, so the default is generous.
    public var maximumBytes: Int
    /// Deepest nesting accepted (block levels plus flow brackets); real definitions stay under 10.
    public var maximumDepth: Int
    /// Most nodes that aliases may add to a file, all aliases together (a repeated list of
    /// values adds a few dozen; a "billion laughs" file adds a billion). Scalar bytes that
    /// aliases add are bounded by `maximumBytes`.
    public var maximumAliasNodes: Int

    public init(maximumBytes: Int = 8 << 20, maximumDepth: Int = 64, maximumAliasNodes: Int = 100_000) {
        self.maximumBytes = maximumBytes
        self.maximumDepth = maximumDepth
        self.maximumAliasNodes = maximumAliasNodes
    }

    public static let `default` = YAMLLimits()
}

/// A YAML file read into a node tree, or the diagnostics that explain why it could not be.
struct YAMLDocument {
    let root: Node?
    let diagnostics: [Diagnostic]

    /// Reads `url` and parses it, refusing oversized, binary and over-deep input before the
    /// parser sees it, and aliases that expand past the budget before anything walks the tree.
    static func load(url: URL, displayPath: String, limits: YAMLLimits) -> YAMLDocument {
        var sink = DiagnosticSink(file: displayPath)
        // Opened only when it is a regular file: a FIFO or a device would block the read, or
        // never end it.
        if let reason = DefinitionLoader.notAFile(url.path) {
            sink.error("cannot read file: it is \(reason)", at: .file)
            return YAMLDocument(root: nil, diagnostics: sink.diagnostics)
        }
        let data: Data
        do {
            let handle = try FileHandle(forReadingFrom: url)
            defer { try? handle.close() }
            // Read one byte past the limit so an oversized file is detected without reading it all.
            data = try handle.read(upToCount: limits.maximumBytes + 1) ?? Data()
        } catch {
            sink.error("cannot read file: \(error.localizedDescription)", at: .file)
            return YAMLDocument(root: nil, diagnostics: sink.diagnostics)
        }
        if data.count > limits.maximumBytes {
            sink.error("file is larger than the \(limits.maximumBytes)-byte limit for YAML files", at: .file)
            return YAMLDocument(root: nil, diagnostics: sink.diagnostics)
        }
        return parse(data: data, displayPath: displayPath, limits: limits)
    }

    /// Parses YAML held in memory (the same checks as `load(url:)` except the size limit).
    static func parse(data: Data, displayPath: String, limits: YAMLLimits) -> YAMLDocument {
        var sink = DiagnosticSink(file: displayPath)
        // YAML allows no C0 control character but tab, line feed and carriage return, nor DEL:
        // the first is reported where it is — the first NUL byte, if any: the file is binary.
        if let offset = data.firstIndex(of: 0) ?? data.firstIndex(where: { ($0 < 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D) || $0 == 0x7F }) {
            let byte = data[offset]
            let position = position(ofByte: offset - data.startIndex, in: data)
            sink.error(byte == 0 ? "file is binary (it contains a NUL byte), not YAML"
                                 : "control character U+\(String(format: "%04X", byte)) is not allowed in YAML", at: position)
            return YAMLDocument(root: nil, diagnostics: sink.diagnostics)
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            let offset = firstInvalidUTF8Offset(data)
            let position = position(ofByte: offset, in: data)
            sink.error("file is not valid UTF-8 text (byte \(offset))", at: position)
            return YAMLDocument(root: nil, diagnostics: sink.diagnostics)
        }
        return parse(text: text, displayPath: displayPath, limits: limits)
    }

    static func parse(text: String, displayPath: String, limits: YAMLLimits) -> YAMLDocument {
        var sink = DiagnosticSink(file: displayPath)
        let scan: YAMLPreScan
        do {
            scan = try YAMLPreScan(text, maximumDepth: limits.maximumDepth)
        } catch {
            switch error {
            case let .tooDeep(line, column, limit):
                sink.error("nesting is deeper than \(limit) levels; refusing to parse", at: SourcePosition(line: line, column: column))
            }
            return YAMLDocument(root: nil, diagnostics: sink.diagnostics)
        }
        // Any `*` may start an alias; a file without one (most) skips the counting pass.
        if text.utf8.contains(UInt8(ascii: "*")) {
            do {
                try YAMLAliasBudget.check(text, maximumNodes: limits.maximumAliasNodes, maximumBytes: limits.maximumBytes, maximumDepth: limits.maximumDepth)
            } catch {
                switch error {
                case let .exceeded(line, column, name, nodes, bytes):
                    sink.error("YAML alias '*\(name)' takes what aliases expand to past the limit of \(nodes) nodes or \(bytes) bytes of text; refusing to expand it", at: SourcePosition(line: line, column: column))
                case let .aliasInKey(line, column, name):
                    sink.error("YAML alias '*\(name)' is not allowed in a mapping key", at: SourcePosition(line: line, column: column))
                case let .tooDeep(line, column, name, limit):
                    sink.error("YAML alias '*\(name)' nests its node deeper than \(limit) levels where it is used; refusing to expand it", at: SourcePosition(line: line, column: column))
                }
                return YAMLDocument(root: nil, diagnostics: sink.diagnostics)
            }
        }
        do {
            let root = try Yams.compose(yaml: text)
            return YAMLDocument(root: root, diagnostics: [])
        } catch let error as YamlError {
            let (message, problemPosition, contextPosition) = describe(error, text: text)
            var full = message
            var position = problemPosition
            for candidate in [contextPosition, problemPosition].compactMap({ $0 }) {
                if let hint = blockScalarHint(for: candidate, scan: scan) {
                    full += "; \(hint)"
                    position = candidate
                    break
                }
            }
            sink.error(full, at: position)
            return YAMLDocument(root: nil, diagnostics: sink.diagnostics)
        } catch {
            sink.error("YAML error: \(error)", at: .file)
            return YAMLDocument(root: nil, diagnostics: sink.diagnostics)
        }
    }

    /// Turns libyaml's error into a one-line message, the position it points at, and the
    /// position of what it was reading when it failed (often the real culprit).
    private static func describe(_ error: YamlError, text: String) -> (String, SourcePosition, SourcePosition?) {
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _), let .composer(context, problem, mark, _):
            var message = "YAML syntax error: \(problem)"
            if let context { message += " (\(context.text) at \(context.mark.line):\(context.mark.column))" }
            return (message, SourcePosition(line: mark.line, column: mark.column), context.map { SourcePosition(line: $0.mark.line, column: $0.mark.column) })
        case let .duplicatedKeysInMapping(duplicates, context):
            return ("duplicate key \(duplicates.map { "'\($0)'" }.joined(separator: ", ")) in mapping", SourcePosition(line: context.mark.line, column: context.mark.column), nil)
        case let .reader(problem, offset, _, _):
            // libyaml gives the byte where reading stopped (a control character it refuses):
            // shown as the line and column every other error has.
            guard let offset else { return ("YAML reader error: \(problem)", .file, nil) }
            let bytes = Data(text.utf8)
            return ("YAML reader error: \(problem)", position(ofByte: min(offset, max(0, bytes.count - 1)), in: bytes), nil)
        default:
            return ("YAML error: \(error)", .file, nil)
        }
    }

    /// When a parse error comes right after a block scalar ended, the usual cause is a code line
    /// indented less than the rest of the block (often a comment wrapped by an editor).
    private static func blockScalarHint(for position: SourcePosition, scan: YAMLPreScan) -> String? {
        for block in scan.blockScalars.reversed() {
            guard let end = block.endLine else { continue }
            if end <= position.line, position.line <= end + 1 {
                return "the block scalar ('|' or '>') that starts at line \(block.headerLine) ended at line \(end) because that line is indented less than its content (\(block.contentIndent) spaces); indent every line of the block by at least \(block.contentIndent) spaces"
            }
        }
        return nil
    }

    /// The offset of the first byte that does not start or continue a valid UTF-8 sequence.
    private static func firstInvalidUTF8Offset(_ data: Data) -> Int {
        let bytes = [UInt8](data)
        var index = 0
        while index < bytes.count {
            let lead = bytes[index]
            let length: Int
            switch lead {
            case 0x00...0x7F: length = 1
            case 0xC2...0xDF: length = 2
            case 0xE0...0xEF: length = 3
            case 0xF0...0xF4: length = 4
            default: return index
            }
            guard index + length <= bytes.count else { return index }
            let sequence = bytes[index..<(index + length)]
            if String(validating: sequence, as: UTF8.self) == nil { return index }
            index += length
        }
        return index
    }

    private static func position(ofByte offset: Int, in data: Data) -> SourcePosition {
        var line = 1
        var column = 1
        for byte in data.prefix(offset) {
            if byte == UInt8(ascii: "\n") { line += 1; column = 1 } else { column += 1 }
        }
        return SourcePosition(line: line, column: column)
    }
}
