import Foundation
import HookBus
import Hummingbird

/// What the incident system calls, with a `sender` token: hook endpoints, the bulk import of
/// recorded events, and the listing of custom-action buttons.
struct SenderRoutes {
    /// The role of these routes, asked by their group and by the accept fast path.
    static let role = Role.sender
    let state: ServerState

    func register<Routes: RouterMethods>(on routes: Routes) where Routes.Context == HookBusRequestContext {
        let toEvent = RequestToEvent(state: state)
        routes.post("/hooks/:hook") { request, context -> Response in
            let (event, key) = try await toEvent.hookEvent(request, hook: context.parameters.get("hook") ?? "")
            return try await accept(event, key: key, request: request, state: state)
        }
        routes.post("/events") { request, _ -> Response in
            try await acceptRecorded(try await toEvent.recordedEvents(request))
        }
        routes.post("/buttons/:element") { request, context -> Response in
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
    }

    /// Stores the good lines of a bulk import in one transaction and answers 200 with a result
    /// per line: `{"line", "event", "duplicate"}` or `{"line", "error": {"code", "message", "status"}}`.
    private func acceptRecorded(_ lines: [(line: Int, result: Result<Event, APIError>)]) async throws -> Response {
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
}
