import HTTPTypes
import HookBus
import Hummingbird

/// Authentication as middleware on a route group: the group's role decides who may call its
/// routes (`AccessPolicy`), and every refusal is counted by route and reason before it is
/// answered — 401 for credentials that are missing or wrong, 403 for a token of another role or
/// a role nobody can use.
struct AccessMiddleware: RouterMiddleware {
    typealias Context = HookBusRequestContext
    let role: Role
    let state: ServerState

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let site = RequestSite(host: request.head.authority, origin: request.headers[.origin], fetchSite: request.headers[.secFetchSite])
        switch state.access.authorize(request.headers[.authorization], for: role, site: site) {
        case let .success(principal):
            var context = context
            context.principal = principal
            return try await next(request, context)
        case let .failure(denial):
            throw state.refused(denial, route: context.endpointPath ?? "unmatched")
        }
    }
}

extension ServerState {
    /// The one answer to a refused authentication, whichever path met it: counted by route and
    /// reason, and a 401 (with `WWW-Authenticate: Bearer`) or a 403.
    func refused(_ denial: AccessDenial, route: String) -> APIError {
        metrics.authenticationFailed(route: route, reason: denial.code.rawValue)
        if denial.isForbidden {
            return APIError(.forbidden, "forbidden", denial.message)
        }
        return APIError(.unauthorized, "unauthorized", denial.message, headers: [.wwwAuthenticate: "Bearer"])
    }
}

extension HTTPField.Name {
    /// Set by browsers on every request: `same-origin`, `same-site`, `cross-site` or `none`.
    static let secFetchSite = HTTPField.Name("Sec-Fetch-Site")!
}
