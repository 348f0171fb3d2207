import Foundation
import HTTPTypes
import HookBus
import Hummingbird

/// The headers of every console answer: the pages load scripts, styles and data from this
/// server only and cannot be framed; nothing is cached (a page shows what triggers printed) and
/// no page's address leaks to another site.
struct ConsoleHeadersMiddleware: RouterMiddleware {
    typealias Context = HookBusRequestContext

    static let contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.contentSecurityPolicy] = Self.contentSecurityPolicy
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[.xFrameOptions] = "DENY"
        // `same-origin`, not `no-referrer`: under no-referrer a browser sends `Origin: null` with
        // a form, and the console could no longer tell its own forms from another site's.
        response.headers[.referrerPolicy] = "same-origin"
        if response.headers[.cacheControl] == nil { response.headers[.cacheControl] = "no-store" }
        return response
    }
}

/// The console's pages need a session (`ConsoleSessions`): a request without a live one is sent
/// to the login page (a page) or refused (the live stream, a form). Every form post must come
/// from a console page of this server (`ConsoleOrigin`) and carry the session's CSRF token.
struct ConsoleSessionMiddleware: RouterMiddleware {
    typealias Context = HookBusRequestContext
    let state: ServerState

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let id = request.cookies[ConsoleSessions.cookieName]?.value, let session = state.sessions.session(id: id) else {
            if request.method == .get || request.method == .head, !request.uri.path.hasSuffix("/stream") {
                return ConsoleResponse.redirect(to: "/ui/login" + ConsoleViews.query([("next", ConsoleOrigin.localPath(request.uri.description))]))
            }
            return ConsoleResponse.message(status: .unauthorized, heading: "Logged out", text: "Your console session has ended: log in again.", context: context)
        }
        var context = context
        context.session = session
        context.principal = session.principal
        if request.method == .post {
            if let refusal = ConsoleOrigin.refusal(request) {
                state.metrics.authenticationFailed(route: context.endpointPath ?? "/ui", reason: "cross_site")
                return ConsoleResponse.message(status: .forbidden, heading: "Refused", text: refusal, context: context)
            }
            let form = try await ConsoleForm.read(request)
            guard ConsoleSessions.csrfMatches(form["csrf"], session) else {
                state.metrics.authenticationFailed(route: context.endpointPath ?? "/ui", reason: "csrf")
                return ConsoleResponse.message(status: .forbidden, heading: "Refused",
                                               text: "The form did not carry this session's token (it may be from an older page): reload the page and try again.", context: context)
            }
            context.form = form
        }
        return try await next(request, context)
    }
}

/// Where a console form post comes from, as the browser says it (`Sec-Fetch-Site`, `Origin`):
/// only this server's own pages may post. SameSite=Strict keeps the session cookie off other
/// sites' requests and the CSRF token guards each form; this guards the login form, which has
/// no session yet (a page elsewhere must not log a browser in under its own token).
enum ConsoleOrigin {
    static func refusal(_ request: Request) -> String? {
        if let site = request.headers[.secFetchSite]?.lowercased(), site != "same-origin", site != "none" {
            return "The console takes forms from its own pages only (this one came from a \(site) page)."
        }
        if let origin = request.headers[.origin] {
            let authority = origin.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first.map(String.init)
            guard origin != "null", let authority, authority.lowercased() == request.head.authority?.lowercased() else {
                return "The console takes forms from its own pages only (this one came from '\(origin)')."
            }
        }
        return nil
    }

    /// A `next` address that stays on this console: a path under `/ui/` and nothing else, so the
    /// login page cannot be used to send someone to another site.
    static func localPath(_ next: String?) -> String {
        guard let next, next.hasPrefix("/ui/"), !next.hasPrefix("//"), !next.contains("\\"), !next.unicodeScalars.contains(where: { $0.value < 0x21 }) else {
            return "/ui/events"
        }
        return next
    }
}

/// A console form's fields (`application/x-www-form-urlencoded`, what `<form method="post">`
/// sends), read with the same parser as webhook forms. Forms are small: a bigger body is refused.
struct ConsoleForm: Sendable {
    static let limit = 64 * 1024
    /// Every field in order; a name may repeat (a multiple choice).
    var pairs: [(name: String, value: String)] = []

    /// The first value of `name`.
    subscript(name: String) -> String? { pairs.first { $0.name == name }?.value }

    static func read(_ request: Request) async throws -> ConsoleForm {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch {
            throw HTTPError(.contentTooLarge, message: "a console form is at most \(limit / 1024) KiB")
        }
        return ConsoleForm(pairs: FormFields.urlEncoded(Array(buffer.readableBytesView)))
    }

    /// A page's query as fields (`+` as a space, as forms send it); the first of a repeated name.
    static func query(_ request: Request) -> [String: String] {
        var fields: [String: String] = [:]
        for (name, value) in FormFields.urlEncoded(Array((request.uri.query ?? "").utf8)) where fields[name] == nil { fields[name] = value }
        return fields
    }
}

extension HTTPField.Name {
    static let xFrameOptions = HTTPField.Name("X-Frame-Options")!
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
    static let xAccelBuffering = HTTPField.Name("X-Accel-Buffering")!
}
