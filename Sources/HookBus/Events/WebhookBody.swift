public import Foundation

/// One request header a webhook endpoint keeps with its events (its `pass_headers`, and the
/// headers its rules test), named as the configuration spells it.
public struct KeptHeader: Sendable, Hashable {
    public let name: String
    public let value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }

    /// The environment variable a run gets it in: `X-GitHub-Event` → `HOOKBUS_HEADER_X_GITHUB_EVENT`.
    public var environmentName: String {
        "HOOKBUS_HEADER_" + String(name.uppercased().map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }
}

/// A webhook request's body as it arrived — every byte, whatever its content type — with its
/// `Content-Type` and the headers its endpoint keeps. The stored event holds exactly this; what a
/// trigger receives (`payload`, `payloadForm`, `payloadJSON`, `headers`) is derived from it, so a
/// replay or an export → import gives the trigger the same bytes again.
public struct WebhookBody: Sendable, Hashable {
    public let bytes: [UInt8]
    /// The `Content-Type` as sent (parameters included), nil when the request had none.
    public let contentType: String?
    public let headers: [KeptHeader]

    /// - Parameter headers: in the endpoint's order; a name given again (in any letter case) is
    ///   dropped — a request's repeated field arrives joined into one value.
    public init(bytes: [UInt8], contentType: String?, headers: [KeptHeader] = []) {
        self.bytes = bytes
        self.contentType = contentType
        var kept: [KeptHeader] = []
        for header in headers where !kept.contains(where: { $0.name.caseInsensitiveCompare(header.name) == .orderedSame }) {
            kept.append(header)
        }
        self.headers = kept
    }

    /// How `payload` carries the bytes.
    public enum Encoding: String, Sendable {
        /// The bytes themselves: they are UTF-8 without a NUL (argv and the environment cannot
        /// hold a NUL byte).
        case text
        /// Base64 of the bytes: anything else (binary, Latin-1, UTF-16 …).
        case base64
    }

    /// The media type, lower-cased, without parameters: `application/json`.
    public var mediaType: String? { contentType.map(Self.mediaType(of:)) }

    /// What the body is, from its declared media type.
    public enum Kind: Sendable, Equatable {
        case json, urlEncodedForm, multipartForm, other
    }

    public var kind: Kind {
        guard let mediaType else { return .other }
        return Self.kind(of: mediaType)
    }

    public static func kind(of mediaType: String) -> Kind {
        if mediaType == "application/json" || (mediaType.hasPrefix("application/") && mediaType.hasSuffix("+json")) { return .json }
        if mediaType == "application/x-www-form-urlencoded" { return .urlEncodedForm }
        if mediaType == "multipart/form-data" { return .multipartForm }
        return .other
    }

    /// The bytes as text, when they are UTF-8 without a NUL.
    public var text: String? {
        guard !bytes.contains(0), let text = String(validating: bytes, as: UTF8.self) else { return nil }
        return text
    }

    /// A parameter of the content type (`boundary`, `charset`), unquoted.
    func contentTypeParameter(_ name: String) -> String? {
        guard let contentType else { return nil }
        for piece in contentType.split(separator: ";").dropFirst() {
            let pair = piece.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces).lowercased() == name else { continue }
            var value = pair[1].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            return value
        }
        return nil
    }

    /// The media type of a Content-Type value, lower-cased, without parameters or blanks
    /// (`Application/JSON; charset=utf-8` → `application/json`). Plain byte work: it is asked on
    /// every accept, and Foundation's trimming and lower-casing cost a sixth of a request's CPU.
    public static func mediaType(of contentType: String) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        for byte in contentType.utf8 {
            if byte == UInt8(ascii: ";") { break }
            if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { continue }
            bytes.append(byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
