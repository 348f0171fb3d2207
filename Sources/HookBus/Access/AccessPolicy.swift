import Crypto

/// Who may do what on the HTTP surface: the roles, the named tokens that carry them, and the one
/// decision every route and the accept fast path ask for. It knows nothing of HTTP: it judges the
/// value of an `Authorization` field, so it is tested without a socket and the CLI can use it.
///
/// Safe by default: a route whose role has no token configured is refused, unless the server
/// listens on a loopback address *and* the configuration opens it explicitly
/// (`server.open_on_loopback: true`, or `hookbus serve --open-on-loopback`).
public struct AccessPolicy: Sendable {
    public let tokens: [AccessToken]
    /// Roles whose routes answer anyone: no token can use them, and the server is on loopback
    /// with `open_on_loopback`.
    public let openRoles: Set<Role>
    /// Each token's secret as its SHA-256 digest, made once. Digests are compared rather than
    /// the secrets so that every comparison takes the same time whatever the secrets' lengths
    /// (a byte-wise comparison runs as long as the longer one and tells it).
    private let digests: [(token: AccessToken, digest: [UInt8])]
    /// The roles some token may use; the others are closed, or open (`openRoles`).
    public let served: Set<Role>

    /// - Parameters:
    ///   - openOnLoopback: whether roles without a token are open; only honoured on loopback.
    ///   - host: the address the server listens on.
    public init(tokens: [AccessToken], openOnLoopback: Bool, host: String) {
        self.tokens = tokens
        digests = tokens.map { ($0, Self.digest($0.secret.reveal().utf8)) }
        served = Set(Role.allCases.filter { role in tokens.contains { role.admits($0.role) } })
        openRoles = openOnLoopback && Self.isLoopback(host) ? Set(Role.allCases).subtracting(served) : []
    }

    /// The policy of a configuration.
    public init(_ configuration: HookBusConfiguration) {
        self.init(tokens: configuration.accessTokens, openOnLoopback: configuration.openOnLoopback, host: configuration.host)
    }

    /// Decides a request to a route of `role` from its `Authorization` field.
    ///
    /// Every configured token's secret is compared, in constant time and without stopping at a
    /// match, so the time taken says nothing about which token (or how much of one) matched.
    /// - Returns: who made the request — the token's name, or `anonymous` on an open role.
    /// - Parameter site: where the request says it is addressed and comes from; judged only when
    ///   it would be answered anonymously (see `RequestSite`).
    public func authorize(_ authorization: String?, for role: Role, site: RequestSite = RequestSite()) -> Result<Principal, AccessDenial> {
        let open = !openRoles.isEmpty && openRoles.contains(role)
        guard let authorization else {
            if open {
                if let refusal = site.refusal { return .failure(refusal) }
                return .success(.anonymous)
            }
            return .failure(served.contains(role)
                ? AccessDenial(.missingCredentials, "this route needs 'Authorization: Bearer <\(role.admitted) token>'")
                : notConfigured(role))
        }
        // On an open route a token sent anyway still names who acted, and a wrong one is a
        // mistake worth hearing about.
        guard let presented = Self.bearer(authorization) else {
            return .failure(AccessDenial(.malformedCredentials, "the Authorization field must be 'Bearer <token>'"))
        }
        var match: AccessToken?
        let presentedDigest = Self.digest(presented)
        for (token, digest) in digests where ConstantTime.equals(presentedDigest, digest) { match = token }
        guard let match else {
            return .failure(AccessDenial(.unknownToken, "the bearer token is not one of the configured tokens"))
        }
        guard open || role.admits(match.role) else {
            return .failure(AccessDenial(.wrongRole, "token '\(match.name)' has role \(match.role.rawValue); this route needs \(role.admitted)"))
        }
        return .success(Principal(name: match.name, role: match.role))
    }

    private func notConfigured(_ role: Role) -> AccessDenial {
        AccessDenial(.roleNotConfigured, "no \(role.admitted) token is configured, so these routes are closed: add one under server.tokens "
            + "({name: …, role: \(role == .metrics ? "metrics" : role.rawValue), secret: {env: …}}), or, on 127.0.0.1 only, set server.open_on_loopback: true")
    }

    /// Why the server must not start with this policy, or nil: an unauthenticated route on an
    /// address other hosts can reach. `open_on_loopback` away from loopback is refused too
    /// rather than ignored: whoever set it expects routes to be open that would not be.
    public static func startProblem(_ configuration: HookBusConfiguration) -> String? {
        guard !isLoopback(configuration.host) else { return nil }
        if configuration.openOnLoopback {
            return "refusing to listen on \(configuration.host) with open_on_loopback: that opens routes without a token on loopback only; remove it and configure server.tokens, or listen on 127.0.0.1"
        }
        for name in configuration.webhooks.keys.sorted() {
            if case .none = configuration.webhooks[name]!.authentication {
                return "refusing to listen on \(configuration.host): webhook '\(name)' has auth scheme none, so anyone who reaches the port could post to it; give it a token or hmac scheme, or listen on 127.0.0.1"
            }
        }
        return nil
    }

    /// Addresses only this machine reaches: 127.0.0.0/8 and `::1`, written as addresses. A name
    /// (even `localhost`) is not taken on trust: what it resolves to is the resolver's to say.
    public static func isLoopback(_ host: String) -> Bool {
        let lowered = host.lowercased()
        if lowered == "::1" || lowered == "[::1]" { return true }
        let parts = lowered.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }

    /// The token of `Bearer <token>` (the scheme is case-insensitive, RFC 9110 §11.1).
    static func bearer(_ authorization: String) -> Substring.UTF8View? {
        let utf8 = authorization.utf8
        guard utf8.count > bearerPrefix.count else { return nil }
        // Compared as bytes, ASCII letters folded: lower-casing made a string per request.
        for (byte, expected) in zip(utf8, bearerPrefix) {
            let folded = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
            guard folded == expected else { return nil }
        }
        return Substring(authorization).utf8.dropFirst(bearerPrefix.count)
    }

    private static func digest(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        Array(SHA256.hash(data: Array(bytes)))
    }

    private static let bearerPrefix = Array("bearer ".utf8)
}

/// Where an anonymous request on an open route says it is addressed (`Host`) and comes from
/// (`Origin`, `Sec-Fetch-Site`). A route left open on loopback trusts the machine, not every web
/// page its browser shows: a page could post a form to it (a connection test needs no body), or
/// reach it under its own name through DNS rebinding. So an anonymous request must name a
/// loopback host, and one a browser marks as coming from another site is refused. Requests
/// with a token do not depend on this.
public struct RequestSite: Sendable {
    public var host: String?
    public var origin: String?
    public var fetchSite: String?

    public init(host: String? = nil, origin: String? = nil, fetchSite: String? = nil) {
        self.host = host
        self.origin = origin
        self.fetchSite = fetchSite
    }

    var refusal: AccessDenial? {
        if let host, !Self.isLoopbackAuthority(host) {
            return AccessDenial(.notLocal, "routes open on loopback answer only requests addressed to 127.0.0.1, ::1 or localhost, not '\(host)'; send a token")
        }
        if let origin, origin != "null" {
            let authority = origin.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first.map(String.init) ?? ""
            guard (origin.hasPrefix("http://") || origin.hasPrefix("https://")) && Self.isLoopbackAuthority(authority) else {
                return AccessDenial(.notLocal, "routes open on loopback do not answer pages from '\(origin)'; send a token")
            }
        }
        if let fetchSite, fetchSite.lowercased() == "cross-site" || fetchSite.lowercased() == "same-site" {
            return AccessDenial(.notLocal, "routes open on loopback do not answer requests a browser sends for another site; send a token")
        }
        return nil
    }

    /// `127.0.0.1:8080`, `[::1]:8080`, `localhost`: a loopback address or the name `localhost`
    /// (the browser resolves a page's names, so here the name is what the page asked for).
    public static func isLoopbackAuthority(_ authority: String) -> Bool {
        var host = Substring(authority.lowercased())
        if host.hasPrefix("[") {
            guard let end = host.firstIndex(of: "]") else { return false }
            host = host[host.index(after: host.startIndex)..<end]
        } else if let colon = host.lastIndex(of: ":") {
            host = host[..<colon]
        }
        return host == "localhost" || AccessPolicy.isLoopback(String(host))
    }
}

/// A role on the HTTP surface.
public enum Role: String, Sendable, Hashable, CaseIterable, ClosedSet {
    /// The incident system: hook endpoints, the bulk import, the button listing.
    case sender
    /// A person or tool that reads the audit trail or makes something run by hand.
    case `operator`
    /// A metrics scraper (Prometheus): `/metrics` only. Operator tokens may read it too.
    case metrics

    public static let setName = "role"

    /// Whether a token of `tokenRole` may use this role's routes.
    public func admits(_ tokenRole: Role) -> Bool {
        tokenRole == self || (self == .metrics && tokenRole == .operator)
    }

    /// The roles admitted, as a message names them.
    var admitted: String { self == .metrics ? "metrics or operator" : rawValue }
}

/// A named token (`server.tokens`): its name is what the audit trail records as who acted.
public struct AccessToken: Sendable {
    public var name: String
    public var role: Role
    public var secret: Secret

    public init(name: String, role: Role, secret: Secret) {
        self.name = name
        self.role = role
        self.secret = secret
    }
}

/// Who made a request: a token's name and role, or `anonymous` on a route left open on loopback.
public struct Principal: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    public let role: Role?

    public init(name: String, role: Role?) {
        self.name = name
        self.role = role
    }

    public static let anonymous = Principal(name: "anonymous", role: nil)
    public var description: String { name }
}

/// Why a request was refused. Every code but `wrongRole` and `roleNotConfigured` is a 401 (the
/// credentials are the problem); those two are 403 (no credentials sent here would help).
public struct AccessDenial: Error, Sendable, Equatable {
    public enum Code: String, Sendable, Hashable, CaseIterable {
        case missingCredentials = "missing_credentials"
        case malformedCredentials = "malformed_credentials"
        case unknownToken = "unknown_token"
        case wrongRole = "wrong_role"
        case roleNotConfigured = "role_not_configured"
        /// An anonymous request on an open route that is not addressed to loopback, or that a
        /// browser sends for another site.
        case notLocal = "not_local"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// 403 rather than 401: the caller is known (or nobody could be), and retrying with other
    /// credentials of the same kind would not help.
    public var isForbidden: Bool { code == .wrongRole || code == .roleNotConfigured || code == .notLocal }
}

/// Comparison of secrets in time that depends only on the lengths.
public enum ConstantTime {
    public static func equals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        let count = max(a.count, b.count)
        for index in 0..<count {
            let x = index < a.count ? a[index] : 0
            let y = index < b.count ? b[index] : 0
            difference |= x ^ y
        }
        return difference == 0
    }
}
