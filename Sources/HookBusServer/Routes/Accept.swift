import Foundation
import HTTPTypes
import HookBus
import Hummingbird

/// Stores an admitted event (group commit) and answers 202 — or, with `?wait=N`, waits up to N
/// seconds for its runs and answers 200 with their outcomes and output.
///
/// The runs shown are those of the event this request stored. A duplicate (its
/// `Idempotency-Key` seen before) is answered without runs: keys are not scoped to a sender, so
/// the earlier event may be someone else's, and its output is theirs.
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
    if let wait, !result.duplicate, try await waitForRuns(of: result.eventID, seconds: wait, state: state) {
        let runs = try await state.engine.store.runs(RunFilter(eventID: result.eventID, limit: 10_000)).reversed()
        return jsonResponse(.object(["event": .string(result.eventID), "duplicate": .bool(false), "state": .string("done"),
                                     "runs": .array(runs.map(\.jsonValue))]), headers: headers)
    }
    return Response(status: .accepted, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: AcceptedAnswer.body(result))))
}

/// Whether the event's runs ended within `seconds`. The store decides (`done`, with every record
/// queued before the mark on disk); the dispatcher's signal only wakes the wait early, and a
/// look every second also catches an event another process dispatched.
private func waitForRuns(of eventID: String, seconds: Double, state: ServerState) async throws -> Bool {
    let store = state.engine.store
    let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
    let isDone: @Sendable () async throws -> Bool = {
        // The dispatcher does not wait for its records to reach the disk; this answer does —
        // within the wait: records the store refuses are retried for long (`RunRecorder`), and
        // the answer is then the 202 of a wait that ran out.
        guard await endsWithin(max(.zero, deadline - ContinuousClock.now), { try await store.flush() }) else { return false }
        return try await store.event(id: eventID)?.state == .done
    }
    while true {
        let left = deadline - ContinuousClock.now
        guard left > .zero else { return try await isDone() }
        // Signalled or not, the next turn's look at the store decides.
        if try await state.completions.wait(for: eventID, timeout: min(left, .seconds(1)), isDone: isDone) == .done { return true }
        try Task.checkCancellation()
    }
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
