import HTTPTypes
import Hummingbird

extension Hummingbird.Router {
    /// Answers every other method on a registered path with 405 and `Allow`, derived from the
    /// router's own list of routes (not a list kept by hand beside it, which missed
    /// `/api/v1/schedules` before). Call it once, after the last route. HEAD is left to the
    /// router's generated HEAD endpoints where GET is registered.
    ///
    /// Hummingbird's trie answers a known path with an unregistered method as it answers an
    /// unknown path (404). A method outside `knownMethods` (an extension method) still gets 404;
    /// QUERY (the safe method with a body, which API testers send) is among the known.
    func addMethodNotAllowed() {
        var byPath: [(path: RouterPath, methods: [HTTPRequest.Method])] = []
        for route in routes {
            if let index = byPath.firstIndex(where: { $0.path.description == route.path.description }) {
                byPath[index].methods.append(route.method)
            } else {
                byPath.append((route.path, [route.method]))
            }
        }
        for (path, registered) in byPath {
            var allowed = registered
            if registered.contains(.get) && !registered.contains(.head) { allowed.append(.head) }
            let allow = allowed.map(\.rawValue).joined(separator: ", ")
            let shown = path.description
            for method in Self.knownMethods where !allowed.contains(method) {
                on(path, method: method, responder: CallbackResponder { _, _ in
                    throw APIError(.methodNotAllowed, "method_not_allowed", "\(shown) accepts \(allow) only", headers: [.allow: allow])
                })
            }
        }
    }

    static var knownMethods: [HTTPRequest.Method] { [.get, .head, .post, .put, .delete, .patch, .options, .trace, .connect, query] }

    static var query: HTTPRequest.Method { HTTPRequest.Method("QUERY")! }
}
