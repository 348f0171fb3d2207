public import Foundation

/// The fields of a form body, as the JSON object triggers receive as `payloadForm` and rules
/// test with `form:`. A field sent once is a string; a field sent several times is an array of
/// its values in order. A file part of a multipart body is an object: `filename`, `contentType`,
/// and its content as `text` (UTF-8) or `base64`.
///
/// Written here rather than taken from a package: none of the packages HookBus may use parses
/// form bodies outside a server framework's request type (Hummingbird's form decoder decodes into
/// a `Decodable` type of known fields; webhook forms have fields the sender chooses), and a
/// webhook's form must be parsed from the stored bytes, on replay too. Both formats are small:
/// URL encoding (WHATWG `application/x-www-form-urlencoded`) and RFC 7578 multipart.
public enum FormFields {
    /// The form view of a body, nil when its media type is not a form.
    /// - Throws: `EventError.malformed` for a multipart body that does not follow RFC 7578 (no
    ///   boundary, a part without a name, no closing delimiter).
    public static func parse(_ body: WebhookBody) throws(EventError) -> JSONValue? {
        switch body.kind {
        case .urlEncodedForm:
            return object(urlEncoded(body.bytes).map { ($0.name, .string($0.value)) })
        case .multipartForm:
            // RFC 2046: 1 to 70 characters (which also bounds the delimiter search per byte).
            guard let boundary = body.contentTypeParameter("boundary"), !boundary.isEmpty, boundary.utf8.count <= 70 else {
                throw EventError(.malformed, "multipart/form-data needs a boundary parameter of 1 to 70 characters in its Content-Type")
            }
            return object(try multipart(body.bytes, boundary: boundary))
        case .json, .other:
            return nil
        }
    }

    /// Fields in order into one object; repeated names collect their values into an array
    /// (gathered first: appending to an array inside the object would copy it each time, and a
    /// body of one name repeated would take quadratic time).
    static func object(_ fields: [(String, JSONValue)]) -> JSONValue {
        var values: [String: [JSONValue]] = [:]
        for (name, value) in fields { values[name, default: []].append(value) }
        return .object(values.mapValues { $0.count == 1 ? $0[0] : .array($0) })
    }

    // MARK: URL encoding

    /// `a=1&b=x+y&c=%C3%A9` → [(a, 1), (b, "x y"), (c, é)]. A name without `=` has the empty
    /// value; empty pieces (`a=1&&b=2`) are skipped. A `%` not followed by two hex digits stays
    /// as it is, and bytes that are not UTF-8 decode to U+FFFD (`payload` keeps the exact bytes).
    public static func urlEncoded(_ bytes: [UInt8]) -> [(name: String, value: String)] {
        var fields: [(name: String, value: String)] = []
        for piece in bytes.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            if let equals = piece.firstIndex(of: UInt8(ascii: "=")) {
                fields.append((decodePercent(piece[..<equals]), decodePercent(piece[(equals + 1)...])))
            } else {
                fields.append((decodePercent(piece), ""))
            }
        }
        return fields
    }

    static func decodePercent(_ bytes: ArraySlice<UInt8>) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "+") {
                output.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%"), index + 2 < bytes.endIndex,
                      let high = Hex.value(bytes[index + 1]), let low = Hex.value(bytes[index + 2]) {
                output.append(high << 4 | low)
                index += 2
            } else {
                output.append(byte)
            }
            index += 1
        }
        return String(decoding: output, as: UTF8.self)
    }

    // MARK: Multipart

    /// The parts of an RFC 7578 body: between `--boundary` delimiter lines, each part's header
    /// lines (`Content-Disposition: form-data; name="…"`, optionally `filename` and
    /// `Content-Type`), a blank line, then its content up to the CRLF before the next delimiter.
    static func multipart(_ bytes: [UInt8], boundary: String) throws(EventError) -> [(String, JSONValue)] {
        let dashBoundary = Array(("--" + boundary).utf8)
        let delimiter = [0x0D, 0x0A] + dashBoundary
        // The first delimiter may open the body (no preamble) or follow a preamble's CRLF.
        var position: Int
        if bytes.starts(with: dashBoundary) {
            position = dashBoundary.count
        } else if let found = find(delimiter, in: bytes, from: 0) {
            position = found + delimiter.count
        } else {
            throw EventError(.malformed, "multipart body has no '--\(boundary)' delimiter")
        }
        var fields: [(String, JSONValue)] = []
        while true {
            // After a delimiter: `--` closes the body; otherwise (optional blanks) CRLF opens a part.
            if bytes[position...].starts(with: [UInt8(ascii: "-"), UInt8(ascii: "-")]) { return fields }
            while position < bytes.count, bytes[position] == 0x20 || bytes[position] == 0x09 { position += 1 }
            guard bytes[position...].starts(with: [0x0D, 0x0A]) else {
                throw EventError(.malformed, "multipart delimiter is not followed by a line break")
            }
            position += 2
            // The part ends at the next delimiter; its headers end at a blank line before it.
            guard let partEnd = find(delimiter, in: bytes, from: position) else {
                throw EventError(.malformed, "multipart body has no closing '--\(boundary)--' delimiter")
            }
            guard let headersEnd = find([0x0D, 0x0A, 0x0D, 0x0A], in: Array(bytes[(position - 2)..<partEnd]), from: 0).map({ $0 + position - 2 }) else {
                throw EventError(.malformed, "multipart part \(fields.count + 1) has no blank line after its headers")
            }
            let headerText = String(decoding: bytes[position..<max(position, headersEnd)], as: UTF8.self)
            let contentStart = headersEnd + 4
            let contentEnd = max(contentStart, partEnd)
            let content = Array(bytes[contentStart..<contentEnd])
            fields.append(try part(headers: headerText, content: content, number: fields.count + 1))
            position = contentEnd + delimiter.count
        }
    }

    private static func part(headers: String, content: [UInt8], number: Int) throws(EventError) -> (String, JSONValue) {
        var name: String?
        var filename: String?
        var contentType: String?
        for line in headers.split(separator: "\r\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let field = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            let value = String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
            switch field {
            case "content-disposition":
                name = dispositionParameter("name", in: value)
                filename = dispositionParameter("filename", in: value)
            case "content-type":
                contentType = value
            default:
                continue
            }
        }
        guard let name else { throw EventError(.malformed, "multipart part \(number) has no Content-Disposition name") }
        let text = WebhookBody(bytes: content, contentType: contentType).text
        if filename == nil, let text { return (name, .string(text)) }
        // A file, or a field whose content is not text: described, its content kept exactly.
        var file: [String: JSONValue] = [:]
        if let filename { file["filename"] = .string(filename) }
        if let contentType { file["contentType"] = .string(contentType) }
        if let text { file["text"] = .string(text) } else { file["base64"] = .string(Data(content).base64EncodedString()) }
        return (name, .object(file))
    }

    /// `name="value"` (or unquoted) in a Content-Disposition value (`form-data; name="a";
    /// filename="b;c"`): its parameters read in order, quoted strings whole (`\"` inside them is
    /// a quote), so a quoted value holding `;` or `name=` is not mistaken for a parameter.
    static func dispositionParameter(_ parameter: String, in value: String) -> String? {
        var rest = Substring(value)
        guard let first = rest.firstIndex(of: ";") else { return nil }
        rest = rest[rest.index(after: first)...]
        while !rest.isEmpty {
            rest = rest.drop { $0 == " " || $0 == "\t" || $0 == ";" }
            guard let equals = rest.firstIndex(of: "=") else { return nil }
            let name = rest[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            rest = rest[rest.index(after: equals)...].drop { $0 == " " }
            var text = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                var escaped = false
                var closed = false
                while let character = rest.first {
                    rest = rest.dropFirst()
                    if escaped { text.append(character); escaped = false; continue }
                    if character == "\\" { escaped = true; continue }
                    if character == "\"" { closed = true; break }
                    text.append(character)
                }
                guard closed else { return nil }
            } else {
                let end = rest.firstIndex(of: ";") ?? rest.endIndex
                text = rest[..<end].trimmingCharacters(in: .whitespaces)
                rest = rest[end...]
            }
            if name == parameter { return text }
            rest = rest.drop { $0 != ";" }
        }
        return nil
    }

    /// The first index of `needle` in `haystack` at or after `start`.
    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard let first = needle.first, needle.count <= haystack.count else { return nil }
        var index = max(0, start)
        let last = haystack.count - needle.count
        while index <= last {
            if haystack[index] == first && haystack[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }
}
