import HTTPTypes
import Hummingbird

/// The router as routes are added to it, remembering each path's methods so that every other
/// method on a known path is answered 405 with `Allow` — derived from what is registered, not a
/// list kept by hand beside it (which missed `/api/v1/schedules` before).
///
/// Hummingbird's trie answers a known path with an unregistered method as it answers an
/// unknown path (404); a route collection cannot list its routes back. So registration goes
/// through this wrapper, and `addMethodNotAllowed()` runs once after the last route.
final class RegisteredRoutes<Context: RequestContext>: RouterMethods {
    let router: Hummingbird.Router<Context>
    private var methods: [(path: RouterPath, methods: [HTTPRequest.Method])] = []

    /// Methods answered 405 on a known path when not registered there. Anything else (an
    /// extension method) finds no route and gets 404.
    static var knownMethods: [HTTPRequest.Method] { [.get, .head, .post, .put, .delete, .patch, .options, .trace, .connect] }

    init(_ router: Hummingbird.Router<Context>) {
        self.router = router
    }

    @discardableResult func on<Responder: HTTPResponder>(_ path: RouterPath, method: HTTPRequest.Method, responder: Responder) -> Self where Responder.Context == Context {
        router.on(path, method: method, responder: responder)
        if let index = methods.firstIndex(where: { $0.path.description == path.description }) {
            methods[index].methods.append(method)
        } else {
            methods.append((path, [method]))
        }
        return self
    }

    @discardableResult func add(middleware: any MiddlewareProtocol<Request, Response, Context>) -> Self {
        router.add(middleware: middleware)
        return self
    }

    /// Registers the 405 answers; call it after every route is added.
    func addMethodNotAllowed() {
        for (path, allowed) in methods {
            let allow = allowed.map(\.rawValue).joined(separator: ", ")
            let shown = path.description
            for method in Self.knownMethods where !allowed.contains(method) {
                router.on(path, method: method, responder: CallbackResponder { _, _ in
                    throw APIError(.methodNotAllowed, "method_not_allowed", "\(shown) accepts \(allow) only", headers: [.allow: allow])
                })
            }
        }
    }
}
