/// A result path of the integration framework (`output[].path`, `table_view[].value`,
/// `exit_condition[].path`), parsed once and evaluated over an action's JSON result.
///
/// The language, as the framework describes it:
/// - keys separated by dots: `country`, `payload.headers.From`;
/// - a key with special characters quoted, as `."MIME-Version"` or `.["MIME-Version"]` (the forms
///   `headers["MIME-Version"]` and `headers[MIME-Version]` are refused, as the framework says they
///   do not parse);
/// - `[]` takes every element of an array: `detected_urls.[].url`, or `[].name` at the top;
/// - `{Name: path, …}` builds an object per element from paths relative to it:
///   `[].{Name: name, FriendName: friends.[].name}`;
/// - pipes on the whole result: `| unique()` (first occurrences, in order) and `| join(SEP)`
///   (text joined with SEP, taken literally: `join(,)`, `join( - )`).
///
/// Decisions where the framework is silent: `[]` over an object treats it as a one-element list
/// (the framework's own `detected_urls` example is an object); after a `[]`, elements missing the
/// rest of the path are left out rather than given as null; a path that finds nothing evaluates
/// to nil; `join` writes strings as they are, other scalars as their JSON text and containers as
/// compact JSON.
public struct OutputPath: Sendable, Hashable, CustomStringConvertible {
    indirect enum Step: Sendable, Hashable {
        case key(String)
        case each
        case project([(name: String, path: [Step])])

        static func == (lhs: Step, rhs: Step) -> Bool {
            switch (lhs, rhs) {
            case let (.key(a), .key(b)): return a == b
            case (.each, .each): return true
            case let (.project(a), .project(b)):
                return a.count == b.count && zip(a, b).allSatisfy { $0.name == $1.name && $0.path == $1.path }
            default: return false
            }
        }

        func hash(into hasher: inout Hasher) {
            switch self {
            case let .key(key): hasher.combine(0); hasher.combine(key)
            case .each: hasher.combine(1)
            case let .project(members):
                hasher.combine(2)
                for member in members { hasher.combine(member.name); hasher.combine(member.path) }
            }
        }
    }

    enum Pipe: Sendable, Hashable {
        case unique
        case join(String)
    }

    /// Why a path does not parse, with the 0-based character offset where it goes wrong.
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public let message: String
        public let offset: Int
        public var description: String { "\(message) (at character \(offset + 1))" }
    }

    public let text: String
    let steps: [Step]
    let pipes: [Pipe]

    public var description: String { text }

    public init(_ text: String) throws(ParseError) {
        self.text = text
        var parser = OutputPathParser(text)
        (steps, pipes) = try parser.parse()
    }

    /// The value the path finds in `result`, or nil when it finds nothing.
    /// - Parameter keepingGaps: after a `[]`, give null for an element without the rest of the
    ///   path instead of leaving it out — table columns stay aligned row by row.
    public func evaluate(_ result: JSONValue, keepingGaps: Bool = false) -> JSONValue? {
        var value = Self.walk(steps[...], in: result, keepingGaps: keepingGaps)
        for pipe in pipes {
            guard let current = value else { return nil }
            switch pipe {
            case .unique:
                let elements = current.arrayValue ?? [current]
                var seen: Set<JSONValue> = []
                value = .array(elements.filter { seen.insert($0).inserted })
            case let .join(separator):
                let elements = current.arrayValue ?? [current]
                value = .string(elements.map(Self.text).joined(separator: separator))
            }
        }
        return value
    }

    /// The result as the framework shows it: "All outputs are treated as strings."
    public func evaluateText(_ result: JSONValue) -> String? {
        evaluate(result).map(Self.text)
    }

    static func text(_ value: JSONValue) -> String {
        switch value {
        case let .string(text): return text
        case .null: return ""
        case .bool, .number: return value.scalarText ?? ""
        case .array, .object: return value.jsonText
        }
    }

    /// Walks `steps` from `value`. Once a `[]` has been taken the result is a list (flattened
    /// across nested `[]`), from which elements without the rest of the path are left out.
    static func walk(_ steps: ArraySlice<Step>, in value: JSONValue, keepingGaps: Bool = false) -> JSONValue? {
        guard let step = steps.first else { return value }
        let rest = steps.dropFirst()
        switch step {
        case let .key(key):
            guard let child = value[key] else { return nil }
            return walk(rest, in: child, keepingGaps: keepingGaps)
        case .each:
            let elements: [JSONValue]
            switch value {
            case let .array(items): elements = items
            case .object: elements = [value]
            default: return nil
            }
            var found: [JSONValue] = []
            let flattens = rest.contains(.each)
            for element in elements {
                guard let result = walk(rest, in: element, keepingGaps: keepingGaps) else {
                    if keepingGaps { found.append(.null) }
                    continue
                }
                if flattens, case let .array(items) = result { found.append(contentsOf: items) } else { found.append(result) }
            }
            return .array(found)
        case let .project(members):
            var object: [String: JSONValue] = [:]
            for member in members {
                object[member.name] = walk(member.path[...], in: value) ?? .null
            }
            return walk(rest, in: .object(object), keepingGaps: keepingGaps)
        }
    }
}

/// The parser behind `OutputPath`; a hand-written scanner, so every error has a position.
struct OutputPathParser {
    private let characters: [Character]
    private var index = 0

    init(_ text: String) {
        characters = Array(text)
    }

    private func fail(_ message: String, at offset: Int? = nil) -> OutputPath.ParseError {
        OutputPath.ParseError(message: message, offset: offset ?? index)
    }

    private var current: Character? { index < characters.count ? characters[index] : nil }

    private mutating func skipSpaces() {
        while let character = current, character == " " { index += 1 }
    }

    mutating func parse() throws(OutputPath.ParseError) -> ([OutputPath.Step], [OutputPath.Pipe]) {
        skipSpaces()
        guard current != nil, current != "|" else { throw fail("empty path") }
        let steps = try parseSteps(until: ["|"])
        var pipes: [OutputPath.Pipe] = []
        while current == "|" {
            index += 1
            skipSpaces()
            pipes.append(try parsePipe())
            skipSpaces()
        }
        if let character = current { throw fail("unexpected '\(character)'") }
        return (steps, pipes)
    }

    /// Steps separated by dots, up to one of `terminators` (not consumed) or the end.
    private mutating func parseSteps(until terminators: Set<Character>) throws(OutputPath.ParseError) -> [OutputPath.Step] {
        var steps: [OutputPath.Step] = []
        while true {
            skipSpaces()
            let start = index
            guard let character = current, !terminators.contains(character) else {
                throw fail(steps.isEmpty ? "expected a key" : "a path cannot end with '.'")
            }
            switch character {
            case "\"":
                steps.append(.key(try parseQuoted()))
            case "[":
                index += 1
                skipSpaces()
                if current == "]" {
                    index += 1
                    steps.append(.each)
                } else if current == "\"" {
                    let key = try parseQuoted()
                    skipSpaces()
                    guard current == "]" else { throw fail("expected ']' after the quoted key") }
                    index += 1
                    steps.append(.key(key))
                } else {
                    throw fail("a key in brackets must be quoted: [\"key\"]", at: start)
                }
            case "{":
                steps.append(try parseProjection())
            default:
                steps.append(.key(try parseBareKey()))
            }
            skipSpaces()
            guard let next = current, !terminators.contains(next) else { return steps }
            if next == "[" {
                throw fail("separate a bracket from the key before it with a dot: use .[\"key\"] or .\"key\" (key[\"…\"] and key[…] are not valid)")
            }
            guard next == "." else { throw fail("expected '.' between keys, found '\(next)'") }
            index += 1
        }
    }

    private mutating func parseBareKey() throws(OutputPath.ParseError) -> String {
        let start = index
        while let character = current, !".[]{}|,:\" ".contains(character) { index += 1 }
        guard index > start else { throw fail("expected a key, found '\(current.map(String.init) ?? "end")'") }
        return String(characters[start..<index])
    }

    private mutating func parseQuoted() throws(OutputPath.ParseError) -> String {
        let start = index
        index += 1  // opening quote
        var key = ""
        while let character = current {
            index += 1
            if character == "\"" { return key }
            if character == "\\", let escaped = current {
                index += 1
                key.append(escaped)
            } else {
                key.append(character)
            }
        }
        throw fail("unterminated quoted key", at: start)
    }

    /// `{Name: path, Other: path}`.
    private mutating func parseProjection() throws(OutputPath.ParseError) -> OutputPath.Step {
        index += 1  // {
        var members: [(name: String, path: [OutputPath.Step])] = []
        while true {
            skipSpaces()
            let name = current == "\"" ? try parseQuoted() : try parseBareKey()
            skipSpaces()
            guard current == ":" else { throw fail("expected ':' after '\(name)' in {Name: path}") }
            index += 1
            let path = try parseSteps(until: [",", "}"])
            members.append((name, path))
            if current == "," { index += 1; continue }
            guard current == "}" else { throw fail("expected ',' or '}'") }
            index += 1
            return .project(members)
        }
    }

    private mutating func parsePipe() throws(OutputPath.ParseError) -> OutputPath.Pipe {
        let start = index
        while let character = current, character.isLetter { index += 1 }
        let name = String(characters[start..<index])
        guard current == "(" else { throw fail("expected '(' after '\(name)'") }
        index += 1
        let argumentStart = index
        // The separator is literal text: everything up to the last ')' of the pipe.
        var depth = 0
        while let character = current {
            if character == "(" { depth += 1 }
            if character == ")" { if depth == 0 { break }; depth -= 1 }
            index += 1
        }
        guard current == ")" else { throw fail("unterminated '\(name)('", at: start) }
        let argument = String(characters[argumentStart..<index])
        index += 1
        switch name {
        case "unique":
            guard argument.allSatisfy(\.isWhitespace) else { throw fail("unique() takes no argument", at: argumentStart) }
            return .unique
        case "join":
            return .join(argument)
        default:
            throw fail("unknown function '\(name)' (known: unique(), join(SEPARATOR))", at: start)
        }
    }
}
