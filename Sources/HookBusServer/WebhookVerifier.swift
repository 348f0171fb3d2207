import Crypto
public import Foundation
public import HookBus

/// Checks a webhook request against its endpoint's authentication scheme. It works on plain
/// values (a header lookup, the query, the raw body), so every scheme is tested without a socket.
/// Every comparison of a secret or a signature is constant time.
public struct WebhookVerifier: Sendable {
    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        case missingCredentials(String)
        case badCredentials
        case staleTimestamp
        case malformed(String)

        public var description: String {
            switch self {
            case let .missingCredentials(what): return "missing \(what)"
            case .badCredentials: return "credentials do not match"
            case .staleTimestamp: return "signature timestamp is outside the tolerance window"
            case let .malformed(what): return "malformed \(what)"
            }
        }

        /// The reason label of `hookbus_auth_failures_total`.
        public var reason: String {
            switch self {
            case .missingCredentials: return "missing_credentials"
            case .badCredentials: return "bad_credentials"
            case .staleTimestamp: return "stale_timestamp"
            case .malformed: return "malformed_credentials"
            }
        }
    }

    /// What a successful check established.
    public struct Verified: Sendable, Equatable {
        /// For a timestamped HMAC scheme: a digest of what the sender signed (the template with
        /// the timestamp and the body) and the time it was signed. It does not depend on how the
        /// header spells its signatures (hex case, order, blanks, repeats, which of several keys
        /// matched), so a replay cannot pass as new by rewriting the header (`SignatureReplayGuard`).
        var replay: (digest: SHA256.Digest, signedAt: Double)?

        public static func == (lhs: Verified, rhs: Verified) -> Bool {
            lhs.replay?.digest == rhs.replay?.digest && lhs.replay?.signedAt == rhs.replay?.signedAt
        }
    }

    /// An HMAC with its key already absorbed, per (algorithm, secret) of the configured
    /// endpoints: keying an HMAC hashes the key's two pads, which was half of a signature check's
    /// cost when done per request. A copy of the keyed state takes the message.
    private struct KeyedMAC: Sendable {
        enum State: Sendable {
            case sha1(HMAC<Insecure.SHA1>), sha256(HMAC<SHA256>), sha512(HMAC<SHA512>)
        }
        let state: State

        init(_ algorithm: WebhookEndpoint.Algorithm, key: [UInt8]) {
            let key = SymmetricKey(data: key)
            switch algorithm {
            case .sha1: state = .sha1(HMAC(key: key))
            case .sha256: state = .sha256(HMAC(key: key))
            case .sha512: state = .sha512(HMAC(key: key))
            }
        }

        /// The code of `message`, fed and read as raw buffers (the generic `DataProtocol` paths
        /// of an array cost more than the hashing of a small body).
        func code(for message: [UInt8]) -> [UInt8] {
            switch state {
            case var .sha1(mac):
                message.withUnsafeBytes { mac.update(data: $0) }
                return mac.finalize().withUnsafeBytes { Array($0) }
            case var .sha256(mac):
                message.withUnsafeBytes { mac.update(data: $0) }
                return mac.finalize().withUnsafeBytes { Array($0) }
            case var .sha512(mac):
                message.withUnsafeBytes { mac.update(data: $0) }
                return mac.finalize().withUnsafeBytes { Array($0) }
            }
        }
    }

    private struct KeyName: Hashable, Sendable {
        let algorithm: WebhookEndpoint.Algorithm
        let secret: String
    }

    private let keyed: [KeyName: KeyedMAC]

    /// - Parameter endpoints: the endpoints whose HMAC keys are prepared once (a scheme not among
    ///   them is checked all the same, keying its HMAC per request).
    public init(endpoints: some Sequence<WebhookEndpoint> = []) {
        var keyed: [KeyName: KeyedMAC] = [:]
        for endpoint in endpoints {
            guard case let .hmac(scheme) = endpoint.authentication else { continue }
            for secret in scheme.secrets where secret.isResolved {
                keyed[KeyName(algorithm: scheme.algorithm, secret: secret.reveal())] = KeyedMAC(scheme.algorithm, key: Array(secret.reveal().utf8))
            }
        }
        self.keyed = keyed
    }

    /// - Parameters:
    ///   - header: case-insensitive header lookup.
    ///   - query: the request's query parameters.
    public func verify(_ authentication: WebhookEndpoint.Authentication, header: (String) -> String?, query: [String: String],
                       body: [UInt8], now: Date = Date()) -> Result<Verified, Failure> {
        switch authentication {
        case .none:
            return .success(Verified())
        case let .token(headerName, queryName, secrets):
            var presented: String?
            if let headerName, var value = header(headerName) {
                if headerName.lowercased() == "authorization" {
                    guard value.lowercased().hasPrefix("bearer ") else { return .failure(.malformed("Authorization header (expected 'Bearer <token>')")) }
                    value = String(value.dropFirst("bearer ".count))
                }
                presented = value
            }
            if presented == nil, let queryName { presented = query[queryName] }
            guard let presented else { return .failure(.missingCredentials(headerName.map { "\($0) header" } ?? "'\(queryName ?? "token")' query parameter")) }
            return secrets.contains { Self.constantTimeEquals(Array(presented.utf8), Array($0.reveal().utf8)) } ? .success(Verified()) : .failure(.badCredentials)
        case let .hmac(scheme):
            return verifyHMAC(scheme, header: header, body: body, now: now)
        }
    }

    private func verifyHMAC(_ scheme: WebhookEndpoint.HMACScheme, header: (String) -> String?, body: [UInt8], now: Date) -> Result<Verified, Failure> {
        guard let signatureHeader = header(scheme.header), !signatureHeader.isEmpty else {
            return .failure(.missingCredentials("\(scheme.header) header"))
        }
        // The elements of the signature header: `v1=abc,v1=def` or `t=123,v1=abc` or one value.
        var elements: [Substring] = [Substring(signatureHeader)]
        if let separator = scheme.separator ?? (scheme.timestampField != nil ? "," : nil) {
            elements = Self.split(signatureHeader, by: separator)
        }
        var timestamp: String?
        if let field = scheme.timestampField {
            timestamp = elements.first { $0.hasPrefix(field + "=") }.map { String($0.dropFirst(field.count + 1)) }
            guard timestamp != nil else { return .failure(.missingCredentials("'\(field)=' timestamp in \(scheme.header)")) }
        } else if let timestampHeader = scheme.timestampHeader {
            guard let value = header(timestampHeader) else { return .failure(.missingCredentials("\(timestampHeader) header")) }
            timestamp = value
        }
        var signedAt: Double?
        if let timestamp {
            guard let seconds = Double(timestamp), seconds.isFinite else { return .failure(.malformed("timestamp '\(timestamp)'")) }
            guard abs(now.timeIntervalSince1970 - seconds) <= scheme.toleranceSeconds else { return .failure(.staleTimestamp) }
            signedAt = seconds
        }
        let prefix = scheme.prefix.utf8
        let candidates: [[UInt8]] = elements.compactMap { element in
            guard element.utf8.starts(with: prefix) else { return nil }
            let encoded = element.utf8.dropFirst(prefix.count)
            switch scheme.encoding {
            case .hex: return Self.hexBytes(encoded)
            case .base64: return Data(base64Encoded: String(Substring(encoded))).map { [UInt8]($0) }
            }
        }
        guard !candidates.isEmpty else { return .failure(.malformed("\(scheme.header) (expected '\(scheme.prefix)<signature>')")) }
        let signed = Self.signedBytes(template: scheme.template, timestamp: timestamp, body: body)
        for secret in scheme.secrets {
            let expected = keyed[KeyName(algorithm: scheme.algorithm, secret: secret.reveal())]?.code(for: signed)
                ?? Self.mac(scheme.algorithm, key: Array(secret.reveal().utf8), message: signed)
            // Check every candidate without stopping early, so timing says nothing about which matched.
            var matched = false
            for candidate in candidates where Self.constantTimeEquals(candidate, expected) { matched = true }
            if matched {
                return .success(Verified(replay: signedAt.map { (SHA256.hash(data: signed), $0) }))
            }
        }
        return .failure(.badCredentials)
    }

    /// The pieces of `text` between `separator`s, blanks around each trimmed.
    static func split(_ text: String, by separator: String) -> [Substring] {
        var pieces: [Substring] = []
        var rest = Substring(text)
        while true {
            let end = rest.firstRange(of: separator)
            let piece = end.map { rest[..<$0.lowerBound] } ?? rest
            pieces.append(Self.trimmed(piece))
            guard let end else { return pieces }
            rest = rest[end.upperBound...]
        }
    }

    private static func trimmed(_ piece: Substring) -> Substring {
        var piece = piece
        while let first = piece.first, first == " " || first == "\t" { piece = piece.dropFirst() }
        while let last = piece.last, last == " " || last == "\t" { piece = piece.dropLast() }
        return piece
    }

    /// The bytes the sender signed: the template with `{timestamp}` and `{body}` filled in; the
    /// body is used byte for byte.
    static func signedBytes(template: String, timestamp: String?, body: [UInt8]) -> [UInt8] {
        // The common case (GitHub, PagerDuty): the body itself, without a copy or Foundation.
        if template == "{body}" { return body }
        let parts = template.components(separatedBy: "{body}")
        var bytes: [UInt8] = []
        for (index, part) in parts.enumerated() {
            if index > 0 { bytes += body }
            bytes += Array(part.replacingOccurrences(of: "{timestamp}", with: timestamp ?? "").utf8)
        }
        return bytes
    }

    public static func mac(_ algorithm: WebhookEndpoint.Algorithm, key: [UInt8], message: [UInt8]) -> [UInt8] {
        let key = SymmetricKey(data: key)
        switch algorithm {
        case .sha1: return Array(HMAC<Insecure.SHA1>.authenticationCode(for: message, using: key))
        case .sha256: return Array(HMAC<SHA256>.authenticationCode(for: message, using: key))
        case .sha512: return Array(HMAC<SHA512>.authenticationCode(for: message, using: key))
        }
    }

    static func hexBytes(_ text: some StringProtocol) -> [UInt8]? {
        hexBytes(text.utf8)
    }

    /// The bytes of hex digits, read in pairs without copying them first.
    static func hexBytes(_ digits: some Collection<UInt8>) -> [UInt8]? {
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var high: UInt8?
        for digit in digits {
            guard let value = Hex.value(digit) else { return nil }
            if let first = high {
                bytes.append(first << 4 | value)
                high = nil
            } else {
                high = value
            }
        }
        return bytes
    }

    /// Compares in time that depends only on the lengths (`ConstantTime`, shared with the
    /// access tokens).
    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        ConstantTime.equals(a, b)
    }
}
