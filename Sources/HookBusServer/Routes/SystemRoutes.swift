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
            // Degraded (still 200: the server accepts and runs) while run records wait for a
            // write the store keeps refusing, or once one was given up. The error itself is for
            // the logs, not anyone who asks.
            let audit = state.engine.store.auditHealth.snapshot
            return jsonResponse(.object([
                "status": .string(audit.failing || audit.lost > 0 ? "degraded" : "ok"), "backlog": .number(String(state.backlog.count)),
                "audit": .object(["writing": .bool(!audit.failing), "failures": .number(String(audit.failures)), "lost": .number(String(audit.lost))]),
            ]))
        }
        // The API's contract, for anyone: it describes routes, never their data.
        open.get("/api/v1/openapi.json") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: OpenAPIDocument.json)))
        }
        metrics.get("/metrics") { _, _ -> Response in
            state.metrics.auditWriteFailures(state.engine.store.auditHealth.snapshot.failures)
            state.metrics.waiting(state.engine.gate, poolWaiting: await state.engine.pool.waiting)
            state.metrics.backlog(state.backlog.count)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: ResponseBody(byteBuffer: ByteBuffer(string: state.metrics.render())))
        }
    }
}
