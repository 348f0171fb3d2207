import Crypto
public import Foundation

/// Makes the `--token` each run receives: a configured static token, or a short-lived HS256 JWT
/// minted per run with the trigger and the event as claims, so the incident system can tell
/// which automation called it and refuse a token replayed after it expired.
public struct TokenMinter: Sendable {
    public let source: HookBusConfiguration.TokenSource

    public init(source: HookBusConfiguration.TokenSource) {
        self.source = source
    }

    public func token(for invocation: Invocation, now: Date = Date()) -> String {
        switch source {
        case .none:
            return ""
        case let .staticToken(secret):
            return secret.reveal()
        case let .jwt(key, lifetime, issuer):
            let issuedAt = Int(now.timeIntervalSince1970)
            let claims: JSONValue = .object([
                "iss": .string(issuer),
                "sub": .string("\(invocation.integration)/\(invocation.trigger)"),
                "iat": .number(String(issuedAt)),
                "exp": .number(String(issuedAt + lifetime)),
                "jti": .string(UUID().uuidString.lowercased()),
                "event": .string(invocation.eventID),
                "hook": .string(invocation.hook.rawValue),
                "trigger": .string(invocation.trigger),
                "integration": .string(invocation.integration),
            ])
            return Self.sign(claims: claims, key: key)
        }
    }

    static func sign(claims: JSONValue, key: Secret) -> String {
        let header = Self.base64URL(Data(#"{"alg":"HS256","typ":"JWT"}"#.utf8))
        let payload = Self.base64URL(Data(claims.jsonText.utf8))
        let signingInput = header + "." + payload
        let mac = HMAC<SHA256>.authenticationCode(for: Data(signingInput.utf8), using: SymmetricKey(data: Data(key.reveal().utf8)))
        return signingInput + "." + Self.base64URL(Data(mac))
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
