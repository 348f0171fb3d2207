import Foundation
import HTTPTypes
import HookBus
import Hummingbird

/// Stores an admitted event (group commit) and answers 202 — or, with `?wait=N`, waits up to N
/// seconds for its runs and answers 200 with their outcomes and output. The runs shown are
/// this event's only: a sender sees what its own request started, not the audit trail.
func accept(_ event: Event, key: String?, request: Request, state: ServerState) async throws -> Response {
    // `?wait` is read before anything is stored: a bad value stores nothing.
    var wait: Double?
    if let text = request.uri.queryParameters.get("wait") {
        guard let seconds = Double(text), seconds >= 0, seconds <= 300 else {
            throw APIError(.badRequest, "invalid_query", "'wait' must be 0-300 seconds")
        }
        wait = seconds
    }
    let result: AcceptResult
    do {
        result = try await state.accepts.accept(event, idempotencyKey: key, settled: state.engine.router.storesDone(event))
    } catch {
        throw state.storeFailed()
    }
    state.metrics.accepted(result)
    let headers = AcceptedAnswer.headers(result)
    if let wait {
        let store = state.engine.store
        let finished = try await state.completions.wait(for: result.eventID, timeout: .milliseconds(Int64(wait * 1000))) {
            try await store.event(id: result.eventID)?.state == .done
        }
        if finished {
            // The dispatcher does not wait for its records to reach the disk; this answer does.
            try await store.flush()
            let runs = try await store.runs(RunFilter(eventID: result.eventID, limit: 10_000)).reversed()
            return jsonResponse(.object(["event": .string(result.eventID), "duplicate": .bool(result.duplicate), "state": .string("done"),
                                         "runs": .array(runs.map(\.jsonValue))]), headers: headers)
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
