import Foundation
import HTTPTypes
import Logging
public import HookBus
public import Hummingbird

/// The HTTP interface of DESIGN.md, one route collection per concern, each guarded as a group:
///
/// | group | routes | who |
/// | --- | --- | --- |
/// | `SenderRoutes` | hooks, bulk import, buttons | `sender` tokens |
/// | `WebhookRoutes` | `/api/v1/webhooks/{name}` | each endpoint's own scheme |
/// | `AuditRoutes` | events, runs | `operator` tokens |
/// | `OperatorRoutes` | connection test, Test Action, schedules | `operator` tokens |
/// | `SystemRoutes` | `/healthz` and `/api/v1/openapi.json` (anyone), `/metrics` (`metrics` or `operator`) | |
/// | `ConsoleRoutes` | `/ui` pages (a login with an `operator` token, then a session cookie) | `operator` tokens |
///
/// Every other method on a registered path is answered 405 with `Allow` (`addMethodNotAllowed`).
/// - Parameter methodNotAllowed: add the 405 answers (off only for `OpenAPITests`, which lists
///   the routes registered with a handler).
public func makeRouter(state: ServerState) -> Hummingbird.Router<HookBusRequestContext> {
    makeRouter(state: state, methodNotAllowed: true)
}

func makeRouter(state: ServerState, methodNotAllowed: Bool) -> Hummingbird.Router<HookBusRequestContext> {
    // HEAD answers as GET does (through the same group and its authentication), without a body.
    let router = Hummingbird.Router(context: HookBusRequestContext.self, options: .autoGenerateHeadEndpoints)
    router.add(middleware: APIErrorMiddleware())
    SenderRoutes(state: state).register(on: router.group("/api/v1").add(middleware: AccessMiddleware(role: SenderRoutes.role, state: state)))
    WebhookRoutes(state: state).register(on: router.group("/api/v1/webhooks"))
    AuditRoutes(state: state).register(on: router.group("/api/v1").add(middleware: AccessMiddleware(role: .operator, state: state)))
    OperatorRoutes(state: state).register(on: router.group("/api/v1").add(middleware: AccessMiddleware(role: .operator, state: state)))
    SystemRoutes(state: state).register(open: router.group(), metrics: router.group().add(middleware: AccessMiddleware(role: .metrics, state: state)))
    ConsoleRoutes(state: state).register(on: router)
    if methodNotAllowed { router.addMethodNotAllowed() }
    return router
}

/// A path parameter as written before percent-encoding: integration and action names have spaces.
func decoded(_ parameter: String?) -> String {
    guard let parameter else { return "" }
    return parameter.removingPercentEncoding ?? parameter
}

/// Turns every error escaping a handler into the JSON error form; unexpected ones are 500s that
/// say nothing of internals.
struct APIErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return error.response
        } catch let error as HTTPError {
            return APIError(error.status, error.status == .notFound ? "not_found" : "http_error", error.body ?? error.status.reasonPhrase).response
        } catch {
            context.logger.error("request failed: \(error)")
            return APIError(.internalServerError, "internal_error", "internal error").response
        }
    }
}
