import HookBus
import Hummingbird
import NIOCore

/// `/healthz` answers anyone: a load balancer's liveness probe sends no token, and it says only
/// that the server answers and how many events wait. `/metrics` needs a `metrics` (or
/// `operator`) token: trigger names and failure counts are reconnaissance for an attacker, and
/// Prometheus sends a bearer token (`authorization: {credentials_file: …}`).
struct SystemRoutes {
    let state: ServerState

    func register<Open: RouterMethods, Guarded: RouterMethods>(open: Open, metrics: Guarded) where Open.Context == HookBusRequestContext, Guarded.Context == HookBusRequestContext {
        open.get("/healthz") { _, _ -> Response in
            jsonResponse(.object(["status": .string("ok"), "backlog": .number(String(state.backlog.count))]))
        }
        metrics.get("/metrics") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: ResponseBody(byteBuffer: ByteBuffer(string: state.metrics.render())))
        }
    }
}
