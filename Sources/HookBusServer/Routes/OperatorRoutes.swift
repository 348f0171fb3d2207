import HookBus
import Hummingbird

/// What an `operator` token makes run by hand: a connection test, a Test Action, a Scheduled
/// action, a re-drive. Each is recorded in the audit trail with the token's name (`requestedBy`,
/// `startedBy`).
struct OperatorRoutes {
    let state: ServerState

    func register<Routes: RouterMethods>(on routes: Routes) where Routes.Context == HookBusRequestContext {
        let toEvent = RequestToEvent(state: state)
        let engine = state.engine
        routes.post("/integrations/:name/test") { _, context -> Response in
            let name = decoded(context.parameters.get("name"))
            do throws(IntegrationError) {
                let run = try await engine.testConnection(integration: name, requestedBy: context.actor)
                return jsonResponse(ConnectionTestReport.json(integration: name, run: run))
            } catch {
                throw APIError(error)
            }
        }
        routes.post("/integrations/:name/actions/:action/run") { request, context -> Response in
            let fields = try Self.fields(of: try await toEvent.body(of: request), example: #"{"fields": {"id": "value"}}"#)
            do throws(IntegrationError) {
                let run = try await engine.runAction(integration: decoded(context.parameters.get("name")), action: decoded(context.parameters.get("action")),
                                                     fields: fields.values, requestedBy: context.actor)
                return jsonResponse(run.jsonValue(nameKey: "action"))
            } catch {
                throw APIError(error)
            }
        }
        routes.post("/events/:id/redrive") { _, context -> Response in
            let id = context.parameters.get("id") ?? ""
            do throws(RedriveError) {
                let (runs, waiting) = try await engine.redrive(eventID: id, requestedBy: context.actor)
                return jsonResponse(.object(["event": .string(id), "runs": .array(runs.map { $0.jsonValue() }), "waiting": .array(waiting.map(\.jsonValue))]))
            } catch {
                throw APIError(error)
            }
        }
        routes.post("/schedules") { request, context -> Response in
            let body = try Self.fields(of: try await toEvent.body(of: request), example: #"{"integration": …, "action": …, "fields": {…}}"#)
            guard let integration = body.object["integration"]?.stringValue, let action = body.object["action"]?.stringValue else {
                throw APIError(.unprocessableContent, "invalid_schedule", #"the body must be {"integration": …, "action": …, "fields": {…}}"#)
            }
            do throws(IntegrationError) {
                let schedule = try await engine.startSchedule(integration: integration, action: action, fields: body.values, startedBy: context.actor)
                return jsonResponse(schedule.jsonValue, status: .created, headers: [.location: "/api/v1/schedules/\(schedule.id)"])
            } catch {
                throw APIError(error)
            }
        }
        routes.get("/schedules") { _, _ -> Response in
            jsonResponse(.object(["schedules": .array(try await engine.store.schedules(activeOnly: false).map(\.jsonValue))]))
        }
        routes.get("/schedules/:id") { _, context -> Response in
            let id = context.parameters.get("id") ?? ""
            guard let schedule = try await engine.store.schedule(id: id) else {
                throw APIError(.notFound, "unknown_schedule", "no schedule with id '\(id)'")
            }
            return jsonResponse(schedule.jsonValue)
        }
    }

    /// A JSON object body and its `fields` member as text values (a non-string value is kept as
    /// its JSON text, as the CLI's `--field id=value` would give it).
    static func fields(of body: [UInt8], example: String) throws(APIError) -> (object: [String: JSONValue], values: [String: String]) {
        guard case let .object(members)? = try? JSONParser.parse(String(decoding: body, as: UTF8.self)) else {
            throw APIError(.badRequest, "malformed_json", "the body must be a JSON object: \(example)")
        }
        var values: [String: String] = [:]
        for (id, value) in members["fields"]?.objectValue ?? [:] {
            values[id] = value.stringValue ?? value.jsonText
        }
        return (members, values)
    }
}
