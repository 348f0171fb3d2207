/// A strict JSON parser (RFC 8259) over UTF-8 bytes that also reports, for a top-level object,
/// the exact bytes of each member's value. HookBus needs those bytes: a webhook payload is passed
/// to triggers byte for byte, and recorded events keep params exactly as they arrived.
///
/// Nesting is bounded (`maximumDepth`) so a hostile body of a million `[` is refused with an
/// error instead of exhausting the stack.
public struct JSONParser {
    public struct Error: Swift.Error, Sendable, Equatable, CustomStringConvertible {
        public let message: String
        /// Byte offset where the problem was found.
        public let offset: Int
        public var description: String { "\(message) at byte \(offset)" }
    }

    /// A member of the top-level object: its key, its parsed value and the bytes it was written as.
    public struct Member: Sendable {
        public let key: String
        public let value: JSONValue
        public let raw: String
    }

    /// The nesting allowed by default.
    public static let defaultDepth = 256

    private let bytes: [UInt8]
    private var index = 0
    private let maximumDepth: Int

    public init(_ bytes: [UInt8], maximumDepth: Int = JSONParser.defaultDepth) {
        self.bytes = bytes
        self.maximumDepth = maximumDepth
    }

    public init(_ text: String, maximumDepth: Int = JSONParser.defaultDepth) {
        self.init(Array(text.utf8), maximumDepth: maximumDepth)
    }

    /// Parses one complete JSON text.
    public static func parse(_ text: String, maximumDepth: Int = JSONParser.defaultDepth) throws(Error) -> JSONValue {
        var parser = JSONParser(text, maximumDepth: maximumDepth)
        return try parser.parseDocument()
    }

    public mutating func parseDocument() throws(Error) -> JSONValue {
        skipWhitespace()
        let value = try parseValue(depth: 0)
        skipWhitespace()
        guard index == bytes.count else { throw fail("unexpected content after the JSON value") }
        return value
    }

    /// Parses a document that must be an object, returning its members with their raw text.
    /// Duplicate keys: the last one wins, as in most JSON implementations.
    /// - Parameter skipping: keys whose value is only checked and kept as raw text (its `value`
    ///   is `.null`): for a value the caller parses again from `raw`, so it is not built twice.
    public mutating func parseObjectMembers(skipping: Set<String> = []) throws(Error) -> [Member] {
        skipWhitespace()
        guard peek() == UInt8(ascii: "{") else { throw fail("expected a JSON object") }
        index += 1
        // A repeated key: the last one wins, in the place of its last occurrence. Found through
        // a table, not by searching the members: a body of 70,000 keys must not cost 70,000²
        // comparisons (it took minutes).
        var members: [Member?] = []
        var positions: [String: Int] = [:]
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            index += 1
        } else {
            while true {
                skipWhitespace()
                guard peek() == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                let key = try parseString()
                skipWhitespace()
                guard peek() == UInt8(ascii: ":") else { throw fail("expected ':' after key") }
                index += 1
                skipWhitespace()
                let start = index
                let value: JSONValue
                if skipping.contains(key) {
                    try skipValue(depth: 1)
                    value = .null
                } else {
                    value = try parseValue(depth: 1)
                }
                let raw = String(decoding: bytes[start..<index], as: UTF8.self)
                if let earlier = positions.updateValue(members.count, forKey: key) { members[earlier] = nil }
                members.append(Member(key: key, value: value, raw: raw))
                skipWhitespace()
                if peek() == UInt8(ascii: ",") { index += 1; continue }
                if peek() == UInt8(ascii: "}") { index += 1; break }
                throw fail("expected ',' or '}' in object")
            }
        }
        skipWhitespace()
        guard index == bytes.count else { throw fail("unexpected content after the JSON value") }
        return members.compactMap { $0 }
    }

    private func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

    private func fail(_ message: String) -> Error { Error(message: message, offset: index) }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private mutating func parseValue(depth: Int) throws(Error) -> JSONValue {
        guard let byte = peek() else { throw fail("unexpected end of JSON") }
        switch byte {
        case UInt8(ascii: "{"):
            guard depth < maximumDepth else { throw fail("JSON nested deeper than \(maximumDepth) levels") }
            index += 1
            var members: [String: JSONValue] = [:]
            skipWhitespace()
            if peek() == UInt8(ascii: "}") { index += 1; return .object(members) }
            while true {
                skipWhitespace()
                guard peek() == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                let key = try parseString()
                skipWhitespace()
                guard peek() == UInt8(ascii: ":") else { throw fail("expected ':' after key") }
                index += 1
                skipWhitespace()
                members[key] = try parseValue(depth: depth + 1)
                skipWhitespace()
                if peek() == UInt8(ascii: ",") { index += 1; continue }
                if peek() == UInt8(ascii: "}") { index += 1; return .object(members) }
                throw fail("expected ',' or '}' in object")
            }
        case UInt8(ascii: "["):
            guard depth < maximumDepth else { throw fail("JSON nested deeper than \(maximumDepth) levels") }
            index += 1
            var elements: [JSONValue] = []
            skipWhitespace()
            if peek() == UInt8(ascii: "]") { index += 1; return .array(elements) }
            while true {
                skipWhitespace()
                elements.append(try parseValue(depth: depth + 1))
                skipWhitespace()
                if peek() == UInt8(ascii: ",") { index += 1; continue }
                if peek() == UInt8(ascii: "]") { index += 1; return .array(elements) }
                throw fail("expected ',' or ']' in array")
            }
        case UInt8(ascii: "\""):
            return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .number(try parseNumber())
        default:
            throw fail("unexpected character '\(Character(Unicode.Scalar(byte)))'")
        }
    }

    /// Validates one value without building it.
    private mutating func skipValue(depth: Int) throws(Error) {
        guard let byte = peek() else { throw fail("unexpected end of JSON") }
        switch byte {
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            guard depth < maximumDepth else { throw fail("JSON nested deeper than \(maximumDepth) levels") }
            let isObject = byte == UInt8(ascii: "{")
            let close = isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
            index += 1
            skipWhitespace()
            if peek() == close { index += 1; return }
            while true {
                skipWhitespace()
                if isObject {
                    guard peek() == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                    _ = try parseString()
                    skipWhitespace()
                    guard peek() == UInt8(ascii: ":") else { throw fail("expected ':' after key") }
                    index += 1
                    skipWhitespace()
                }
                try skipValue(depth: depth + 1)
                skipWhitespace()
                if peek() == UInt8(ascii: ",") { index += 1; continue }
                if peek() == close { index += 1; return }
                throw fail(isObject ? "expected ',' or '}' in object" : "expected ',' or ']' in array")
            }
        default:
            _ = try parseValue(depth: depth)
        }
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(Error) {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw fail("invalid literal") }
        let expected = UnsafeBufferPointer(start: literal.utf8Start, count: count)
        for offset in 0..<count where bytes[index + offset] != expected[offset] {
            throw fail("invalid literal")
        }
        index += count
    }

    private mutating func parseNumber() throws(Error) -> String {
        let start = index
        if peek() == UInt8(ascii: "-") { index += 1 }
        guard let first = peek(), isDigit(first) else { throw fail("invalid number") }
        if first == UInt8(ascii: "0") {
            index += 1
        } else {
            while let byte = peek(), isDigit(byte) { index += 1 }
        }
        if peek() == UInt8(ascii: ".") {
            index += 1
            guard let byte = peek(), isDigit(byte) else { throw fail("invalid number") }
            while let byte = peek(), isDigit(byte) { index += 1 }
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            index += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { index += 1 }
            guard let byte = peek(), isDigit(byte) else { throw fail("invalid number") }
            while let byte = peek(), isDigit(byte) { index += 1 }
        }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private mutating func parseString() throws(Error) -> String {
        index += 1  // opening quote
        let start = index
        // Fast path: no escapes. ASCII needs no validation, and decoding from a buffer pointer
        // avoids the generic (unspecialised) validating initialiser, which dominated replays.
        var ascii = true
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let slice = bytes[start..<index]
                index += 1
                if ascii { return slice.withUnsafeBufferPointer { String(decoding: $0, as: UTF8.self) } }
                guard let text = String(validating: slice, as: UTF8.self) else { throw Error(message: "invalid UTF-8 in string", offset: start) }
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw fail("control character in string") }
            if byte >= 0x80 { ascii = false }
            index += 1
        }
        var scalars = [UInt8](bytes[start..<index])
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                guard let text = String(validating: scalars, as: UTF8.self) else { throw Error(message: "invalid UTF-8 in string", offset: start) }
                return text
            case UInt8(ascii: "\\"):
                index += 1
                guard let escape = peek() else { throw fail("unterminated string") }
                index += 1
                switch escape {
                case UInt8(ascii: "\""): scalars.append(0x22)
                case UInt8(ascii: "\\"): scalars.append(0x5C)
                case UInt8(ascii: "/"): scalars.append(0x2F)
                case UInt8(ascii: "b"): scalars.append(0x08)
                case UInt8(ascii: "f"): scalars.append(0x0C)
                case UInt8(ascii: "n"): scalars.append(0x0A)
                case UInt8(ascii: "r"): scalars.append(0x0D)
                case UInt8(ascii: "t"): scalars.append(0x09)
                case UInt8(ascii: "u"):
                    var code = try parseHex4()
                    if (0xD800...0xDBFF).contains(code) {
                        guard peek() == UInt8(ascii: "\\"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "u") else { throw fail("unpaired surrogate") }
                        index += 2
                        let low = try parseHex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw fail("unpaired surrogate") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(code) {
                        throw fail("unpaired surrogate")
                    }
                    scalars.append(contentsOf: String(Character(Unicode.Scalar(code)!)).utf8)
                default:
                    throw fail("invalid escape")
                }
            default:
                if byte < 0x20 { throw fail("control character in string") }
                scalars.append(byte)
                index += 1
            }
        }
        throw fail("unterminated string")
    }

    private mutating func parseHex4() throws(Error) -> UInt32 {
        guard index + 4 <= bytes.count else { throw fail("invalid \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw fail("invalid \\u escape")
            }
            value = value * 16 + digit
            index += 1
        }
        return value
    }
}
