import HookBus
import Hummingbird

/// The audit trail, for `operator` tokens: an event with its runs, and the runs by filter.
struct AuditRoutes {
    let state: ServerState

    func register<Routes: RouterMethods>(on routes: Routes) where Routes.Context == HookBusRequestContext {
        let store = state.engine.store
        routes.get("/events/:id") { _, context -> Response in
            let id = context.parameters.get("id") ?? ""
            guard let stored = try await store.event(id: id) else {
                throw APIError(.notFound, "unknown_event", "no event with id '\(id)'")
            }
            let runs = try await store.runs(RunFilter(eventID: id, limit: 10_000)).reversed()
            // The event's record (`Event.recordJSON`) spliced in as text rather than through a
            // JSON tree, which would sort keys and rewrite escapes: a payload's bytes (key order,
            // escapes, number forms) are shown as they were sent.
            // Every event that has not finished says why (`Engine.waitingReasons`).
            var fields: [String: JSONValue] = [
                "state": .string(stored.state.rawValue), "attempt": .number(String(stored.attempt)), "runs": .array(runs.map(\.jsonValue)),
            ]
            if stored.state != .done { fields["waiting"] = .array(try await state.engine.waitingReasons(for: stored).map(\.jsonValue)) }
            let rest = JSONValue.object(fields).jsonText
            var body = "{\"event\":" + stored.event.recordJSON + ","
            body += rest.dropFirst()
            return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
        }
        routes.get("/runs") { request, _ -> Response in
            let query = request.uri.queryParameters
            var filter = RunFilter(eventID: query.get("event"), trigger: query.get("trigger"), outcome: query.get("outcome"), limit: 100)
            if let limit = query.get("limit") {
                guard let value = Int(limit), (1...10_000).contains(value) else { throw APIError(.badRequest, "invalid_query", "'limit' must be 1-10000") }
                filter.limit = value
            }
            if let since = query.get("since") {
                guard let date = TimeExpression.parse(since) else { throw APIError(.badRequest, "invalid_query", "'since' must be ISO 8601 or an age like 30m, 12h, 7d") }
                filter.since = date
            }
            if let after = query.get("after") {
                guard let value = Int64(after) else { throw APIError(.badRequest, "invalid_query", "'after' must be a run id") }
                filter.afterID = value
            }
            let runs = try await store.runs(filter)
            return jsonResponse(.object(["runs": .array(runs.map(\.jsonValue))]))
        }
    }
}
