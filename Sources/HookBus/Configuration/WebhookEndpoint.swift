import Foundation

/// A named webhook endpoint (`POST /api/v1/webhooks/{name}`): how senders authenticate, and
/// which triggers its events may reach.
public struct WebhookEndpoint: Sendable {
    public enum Algorithm: String, Sendable, Hashable, CaseIterable {
        case sha1, sha256, sha512
    }

    public enum Encoding: String, Sendable, Hashable, CaseIterable {
        case hex, base64
    }

    /// An HMAC signature scheme, general enough for GitHub, PagerDuty, Slack and Stripe:
    ///
    /// - GitHub: header `X-Hub-Signature-256`, prefix `sha256=`, template `{body}`.
    /// - PagerDuty: header `X-PagerDuty-Signature`, prefix `v1=`, several signatures separated
    ///   by `,` during key rotation.
    /// - Slack: header `X-Slack-Signature`, prefix `v0=`, timestamp header
    ///   `X-Slack-Request-Timestamp`, template `v0:{timestamp}:{body}`.
    /// - Stripe: header `Stripe-Signature: t=…,v1=…`, with `timestampField: t`, prefix `v1=`,
    ///   template `{timestamp}.{body}`.
    public struct HMACScheme: Sendable {
        public var algorithm: Algorithm = .sha256
        public var header: String
        public var prefix: String = ""
        public var encoding: Encoding = .hex
        /// Keys accepted; several during a rotation. A signature made with any of them passes.
        public var secrets: [Secret]
        /// Separator between several signatures in the header (nil: one signature).
        public var separator: String?
        /// Header carrying the signing time (Slack style).
        public var timestampHeader: String?
        /// Name of a `name=value` element of the signature header carrying the time (Stripe style).
        public var timestampField: String?
        /// Largest accepted distance between the signing time and now.
        public var toleranceSeconds: Double = 300
        /// The signed string: `{body}` and `{timestamp}` are replaced.
        public var template: String = "{body}"

        public init(header: String, secrets: [Secret]) {
            self.header = header
            self.secrets = secrets
        }
    }

    public enum Authentication: Sendable {
        /// No authentication (only for senders on a trusted network).
        case none
        /// A shared token in a header (`Authorization: Bearer …` or a custom one) or a query parameter.
        case token(header: String?, query: String?, secrets: [Secret])
        case hmac(HMACScheme)
    }

    public var name: String
    public var authentication: Authentication
    /// When set, events of this endpoint reach only these triggers (by `Action` or `Integration/Action`).
    public var triggers: [String]?
    /// Request headers given to triggers (`headers`, `HOOKBUS_HEADER_…`), as configured.
    public var passHeaders: [String] = []
    /// The largest body this endpoint takes (nil: `server.max_body_bytes`).
    public var maxBodyBytes: Int?
    /// Media types accepted (`application/json`, `text/*`); nil accepts any. A request without a
    /// `Content-Type` is judged as `application/octet-stream` (RFC 9110, 8.3).
    public var contentTypes: [String]?
    /// Request-time rules (`WebhookRule`); nil routes every event to the endpoint's triggers.
    public var rules: [WebhookRule]?

    /// The most `max_body_bytes` may say.
    public static let largestBody = 64 << 20

    public init(name: String, authentication: Authentication, triggers: [String]? = nil) {
        self.name = name
        self.authentication = authentication
        self.triggers = triggers
    }

    /// The headers kept with each event: `pass_headers`, then the headers rules test (which rules
    /// must see on replay too), each once.
    public var keptHeaders: [String] {
        var names: [String] = []
        func add(_ name: String) {
            if !names.contains(where: { $0.caseInsensitiveCompare(name) == .orderedSame }) { names.append(name) }
        }
        passHeaders.forEach(add)
        for rule in rules ?? [] { rule.condition.headerNames.forEach(add) }
        return names
    }

    /// Headers that carry credentials (`Authorization`, and this endpoint's token or signature
    /// header): never kept, passed or tested, so no secret reaches the store or a run.
    public var credentialHeaders: [String] {
        switch authentication {
        case .none: return ["Authorization"]
        case let .token(header, _, _): return ["Authorization"] + (header.map { [$0] } ?? [])
        case let .hmac(scheme): return ["Authorization", scheme.header]
        }
    }

    /// Whether a request's media type (nil: no `Content-Type`) is one the endpoint takes.
    public func accepts(mediaType: String?) -> Bool {
        guard let contentTypes else { return true }
        let type = mediaType ?? "application/octet-stream"
        return contentTypes.contains { allowed in
            allowed.hasSuffix("/*") ? type.hasPrefix(allowed.dropLast()) : allowed == type
        }
    }
}

extension WebhookCondition {
    /// The header names the condition tests.
    var headerNames: [String] {
        switch self {
        case let .all(conditions), let .any(conditions): return conditions.flatMap(\.headerNames)
        case let .not(condition): return condition.headerNames
        case let .test(.header(name), _): return [name]
        case .test: return []
        }
    }
}
