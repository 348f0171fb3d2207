import Foundation
import HTTPTypes
import Logging
public import HookBus
public import Hummingbird

/// The HTTP interface of DESIGN.md. Handlers are thin: `RequestToEvent` makes the event, the
/// accept queue stores it, the store answers the queries.
public func makeRouter(state: ServerState) -> Hummingbird.Router<BasicRequestContext> {
    let router = Hummingbird.Router(context: BasicRequestContext.self)
    router.addMiddleware { APIErrorMiddleware() }
    let toEvent = RequestToEvent(state: state)

    router.post("/api/v1/hooks/:hook") { request, context -> Response in
        let hook = context.parameters.get("hook") ?? ""
        let event = try await toEvent.hookEvent(request, hook: hook)
        return try await accept(event, request: request, state: state)
    }
    router.post("/api/v1/webhooks/:name") { request, context -> Response in
        let event = try await toEvent.webhookEvent(request, name: context.parameters.get("name") ?? "")
        return try await accept(event, request: request, state: state)
    }
    router.post("/api/v1/events") { request, _ -> Response in
        try await acceptRecorded(try await toEvent.recordedEvents(request), state: state)
    }
    router.post("/api/v1/integrations/:name/test") { _, context -> Response in
        let name = decoded(context.parameters.get("name"))
        do throws(IntegrationError) {
            let (_, result) = try await state.engine.router.testConnection(integration: name, runner: state.engine.runner)
            return jsonResponse(ConnectionTestReport.json(integration: name, result: result))
        } catch {
            throw APIError(error)
        }
    }
    router.post("/api/v1/integrations/:name/actions/:action/run") { request, context -> Response in
        let body = try await toEvent.body(of: request)
        guard case let .object(members)? = try? JSONParser.parse(String(decoding: body, as: UTF8.self)) else {
            throw APIError(.badRequest, "malformed_json", "the body must be a JSON object: {\"fields\": {\"id\": \"value\"}}")
        }
        var fields: [String: String] = [:]
        for (id, value) in members["fields"]?.objectValue ?? [:] {
            fields[id] = value.stringValue ?? value.jsonText
        }
        do throws(IntegrationError) {
            let run = try await state.engine.runAction(integration: decoded(context.parameters.get("name")),
                                                       action: decoded(context.parameters.get("action")), fields: fields)
            return jsonResponse(run.jsonValue(nameKey: "action"))
        } catch {
            throw APIError(error)
        }
    }
    router.post("/api/v1/schedules") { request, _ -> Response in
        let body = try await toEvent.body(of: request)
        guard case let .object(members)? = try? JSONParser.parse(String(decoding: body, as: UTF8.self)),
              let integration = members["integration"]?.stringValue, let action = members["action"]?.stringValue else {
            throw APIError(.unprocessableContent, "invalid_schedule", "the body must be {\"integration\": …, \"action\": …, \"fields\": {…}}")
        }
        var fields: [String: String] = [:]
        for (id, value) in members["fields"]?.objectValue ?? [:] { fields[id] = value.stringValue ?? value.jsonText }
        do throws(IntegrationError) {
            let schedule = try await state.engine.startSchedule(integration: integration, action: action, fields: fields)
            return jsonResponse(schedule.jsonValue, status: .created, headers: [.location: "/api/v1/schedules/\(schedule.id)"])
        } catch {
            throw APIError(error)
        }
    }
    router.get("/api/v1/schedules") { _, _ -> Response in
        jsonResponse(.object(["schedules": .array(try await state.engine.store.schedules(activeOnly: false).map(\.jsonValue))]))
    }
    router.get("/api/v1/schedules/:id") { _, context -> Response in
        let id = context.parameters.get("id") ?? ""
        guard let schedule = try await state.engine.store.schedule(id: id) else {
            throw APIError(.notFound, "unknown_schedule", "no schedule with id '\(id)'")
        }
        return jsonResponse(schedule.jsonValue)
    }
    router.get("/api/v1/events/:id") { _, context -> Response in
        let id = context.parameters.get("id") ?? ""
        guard let stored = try await state.engine.store.event(id: id) else {
            throw APIError(.notFound, "unknown_event", "no event with id '\(id)'")
        }
        let runs = try await state.engine.store.runs(RunFilter(eventID: id, limit: 10_000)).reversed()
        return jsonResponse(.object([
            "event": (try? JSONParser.parse(stored.event.recordJSON)) ?? .null,
            "state": .string(stored.state.rawValue),
            "attempt": .number(String(stored.attempt)),
            "runs": .array(runs.map(\.jsonValue)),
        ]))
    }
    router.get("/api/v1/runs") { request, _ -> Response in
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
        let runs = try await state.engine.store.runs(filter)
        return jsonResponse(.object(["runs": .array(runs.map(\.jsonValue))]))
    }
    router.post("/api/v1/buttons/:element") { request, context -> Response in
        try toEvent.authenticateHook(request)
        let hook: Hook
        switch context.parameters.get("element") {
        case "incident": hook = .incidentCustomAction
        case "task": hook = .taskCustomAction
        default: throw APIError(.notFound, "unknown_element", "buttons exist for 'incident' and 'task'")
        }
        let body = try await toEvent.body(of: request)
        guard let detail = (try? JSONParser.parse(String(decoding: body, as: UTF8.self)))?.objectValue else {
            throw APIError(.badRequest, "malformed_json", "body must be the \(hook == .incidentCustomAction ? "incident" : "task") as a JSON object")
        }
        let buttons = state.engine.router.availableButtons(for: hook, detail: detail)
        return jsonResponse(.object(["buttons": .array(buttons.map { trigger in
            .object(["trigger": .string(trigger.name), "integration": .string(trigger.integration.name), "showModal": .bool(trigger.action.showModal)])
        })]))
    }
    router.get("/healthz") { _, _ -> Response in
        jsonResponse(.object(["status": .string("ok"), "backlog": .number(String(state.backlog.count))]))
    }
    router.get("/metrics") { _, _ -> Response in
        Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: ResponseBody(byteBuffer: ByteBuffer(string: state.metrics.render())))
    }
    // Wrong methods on known paths: 405 with Allow, not a misleading 404.
    for (path, allowed) in [("/api/v1/hooks/:hook", "POST"), ("/api/v1/webhooks/:name", "POST"), ("/api/v1/events", "POST"), ("/api/v1/integrations/:name/test", "POST"), ("/api/v1/integrations/:name/actions/:action/run", "POST"), ("/api/v1/events/:id", "GET"),
                            ("/api/v1/runs", "GET"), ("/api/v1/buttons/:element", "POST"), ("/healthz", "GET"), ("/metrics", "GET")] {
        for method in [HTTPRequest.Method.get, .post, .put, .delete, .patch] where method.rawValue != allowed {
            router.on(RouterPath(path), method: method) { _, _ -> Response in
                throw APIError(.methodNotAllowed, "method_not_allowed", "\(path) accepts \(allowed) only", headers: [.allow: allowed])
            }
        }
    }
    return router
}

/// Stores the event (group commit) and answers 202 — or, with `?wait=N`, waits up to N seconds
/// for its runs and answers 200 with their outcomes and output. (Well-formed hook requests
/// without a query are answered by `HookAcceptFastPath` before they get here: a new check here
/// belongs there too.)
private func accept(_ event: Event, request: Request, state: ServerState) async throws -> Response {
    let key = request.headers[.idempotencyKey]
    if let key, !RequestToEvent.isValidIdempotencyKey(key) {
        throw APIError(.badRequest, "invalid_idempotency_key", "Idempotency-Key must be 1-255 bytes")
    }
    let result: AcceptResult
    do {
        result = try await state.accepts.accept(event, idempotencyKey: key, settled: state.engine.router.storesDone(event))
    } catch {
        throw state.storeFailed()
    }
    state.metrics.accepted(result)
    let headers = AcceptedAnswer.headers(result)
    if let wait = request.uri.queryParameters.get("wait") {
        guard let seconds = Double(wait), seconds >= 0, seconds <= 300 else {
            throw APIError(.badRequest, "invalid_query", "'wait' must be 0-300 seconds (the event was accepted as \(result.eventID))")
        }
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if let stored = try await state.engine.store.event(id: result.eventID), stored.state == .done {
                let runs = try await state.engine.store.runs(RunFilter(eventID: result.eventID, limit: 10_000)).reversed()
                return jsonResponse(.object(["event": .string(result.eventID), "duplicate": .bool(result.duplicate), "state": .string("done"),
                                             "runs": .array(runs.map(\.jsonValue))]), headers: headers)
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
    return Response(status: .accepted, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: AcceptedAnswer.body(result))))
}

/// The 202 every accepted event gets, from the route or from `HookAcceptFastPath`.
enum AcceptedAnswer {
    /// `Location`, the JSON content type, and `Idempotent-Replayed` for a repeated key.
    static func headers(_ result: AcceptResult) -> HTTPFields {
        var headers: HTTPFields = [.location: "/api/v1/events/\(result.eventID)", .contentType: "application/json"]
        if result.duplicate { headers[.idempotentReplayed] = "true" }
        return headers
    }

    /// `{"event":"evt_…","duplicate":false}`, written directly rather than through a JSON tree.
    static func body(_ result: AcceptResult) -> String {
        "{\"event\":" + JSONValue.quoted(result.eventID) + ",\"duplicate\":" + (result.duplicate ? "true" : "false") + "}"
    }
}

extension HTTPField.Name {
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    static let idempotentReplayed = HTTPField.Name("Idempotent-Replayed")!
}

/// A path parameter as written before percent-encoding: integration and action names have spaces.
private func decoded(_ parameter: String?) -> String {
    guard let parameter else { return "" }
    return parameter.removingPercentEncoding ?? parameter
}

/// Stores the good lines of a bulk import in one transaction and answers 200 with a result per
/// line: `{"line", "event", "duplicate"}` or `{"line", "error": {"code", "message", "status"}}`.
private func acceptRecorded(_ lines: [(line: Int, result: Result<Event, APIError>)], state: ServerState) async throws -> Response {
    let router = state.engine.router
    var good: [(event: Event, idempotencyKey: String?, settled: Bool)] = []
    for case let (_, .success(event)) in lines {
        good.append((event, event.source.replayOf, router.storesDone(event)))
    }
    var stored: [AcceptResult] = []
    if !good.isEmpty {
        do {
            stored = try await state.accepts.acceptAll(good)
        } catch {
            throw state.storeFailed()
        }
    }
    let duplicates = stored.count(where: \.duplicate)
    state.metrics.accepted(new: stored.count - duplicates, duplicate: duplicates)
    var results: [JSONValue] = []
    var next = stored.makeIterator()
    var rejected = 0
    for (line, result) in lines {
        switch result {
        case .success:
            guard let accepted = next.next() else { continue }
            results.append(.object(["line": .number(String(line)), "event": .string(accepted.eventID), "duplicate": .bool(accepted.duplicate)]))
        case let .failure(error):
            rejected += 1
            results.append(.object(["line": .number(String(line)), "error": .object([
                "code": .string(error.code), "message": .string(error.message), "status": .number(String(error.status.code)),
            ])]))
        }
    }
    return jsonResponse(.object([
        "accepted": .number(String(stored.count - duplicates)), "duplicates": .number(String(duplicates)),
        "rejected": .number(String(rejected)), "results": .array(results),
    ]))
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
