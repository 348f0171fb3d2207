import Foundation
import HTTPTypes
import Logging
import HookBus
import Hummingbird
import NIOCore

/// The one place where an HTTP request becomes an event: `HookAdmission`'s checks in their
/// order, the body read within its limit between the head's checks and the rest. Every refusal
/// is an `APIError`, counted here as it is thrown; nothing is stored before all checks pass.
/// (Authentication of hook requests and the bulk import is the route group's `AccessMiddleware`.)
struct RequestToEvent {
    let state: ServerState
    var admission: HookAdmission { HookAdmission(state: state) }

    /// A JSON (or JSON Lines) body: the head's limits, then the bytes within `max_body_bytes`.
    func body(of request: Request, format: HookAdmission.BodyFormat = .json) async throws(APIError) -> [UInt8] {
        if let refusal = admission.checkLimits(HookAdmission.Head(request.headers, authority: request.head.authority), format: format) { throw counted(refusal) }
        return try await read(request, limit: admission.bodyLimit(format))
    }

    /// The body's bytes: 413 past `max_body_bytes` (a body without a declared length is read up
    /// to it), 400 when it cannot be read at all (a broken chunked encoding).
    func read(_ request: Request, limit: Int? = nil) async throws(APIError) -> [UInt8] {
        let limit = limit ?? state.configuration.maxBodyBytes
        do {
            let buffer = try await request.body.collect(upTo: limit)
            return Array(buffer.readableBytesView)
        } catch is NIOTooManyBytesError {
            throw counted(HookAdmission.tooLarge(limit))
        } catch {
            throw counted(APIError(.badRequest, "malformed_body", "the body could not be read: \(error)"))
        }
    }

    /// A hook request's event and idempotency key (authentication done by the route group).
    func hookEvent(_ request: Request, hook: String) async throws(APIError) -> (event: Event, key: String?) {
        let head = HookAdmission.Head(request.headers, authority: request.head.authority)
        if let refusal = admission.checkLimits(head) { throw counted(refusal) }
        let body = try await read(request)
        let admission = self.admission
        switch await BodyWork.run(bytes: body.count, { admission.admitHook(hook, head: head, body: body) }) {
        case let .success(event): return (event, head.idempotencyKey)
        case let .failure(refusal): throw counted(refusal)
        }
    }

    /// `POST /api/v1/events`: recorded events, one per line, each stored as a replay of the
    /// event its `id` names (which is also its idempotency key, so a batch sent again stores
    /// nothing twice). Lines are judged one by one: a bad line is answered with its error and
    /// does not stop the others. Blank lines are skipped.
    func recordedEvents(_ request: Request) async throws(APIError) -> [(line: Int, result: Result<Event, APIError>)] {
        let body = try await body(of: request, format: .jsonLines)
        if let refusal = admission.checkBacklog() { throw counted(refusal) }
        let router = state.engine.router
        let results = await BodyWork.run(bytes: body.count) { Self.recordedEvents(in: body, router: router) }
        for case let (_, .failure(refusal)) in results { _ = counted(refusal) }
        return results
    }

    /// The events of a JSON Lines body, line by line (blank lines skipped).
    static func recordedEvents(in body: [UInt8], router: HookBus.Router) -> [(line: Int, result: Result<Event, APIError>)] {
        var results: [(line: Int, result: Result<Event, APIError>)] = []
        var lineNumber = 0
        for line in body.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            let text = String(decoding: line, as: UTF8.self)
            if text.allSatisfy(\.isWhitespace) { continue }
            do {
                let recorded = try Event.fromRecord(text, requireID: true)
                let event = recorded.replayed(origin: recorded.source.origin ?? "POST /api/v1/events")
                if event.trigger != nil { _ = try router.route(event) }
                results.append((lineNumber, .success(event)))
            } catch {
                results.append((lineNumber, .failure(APIError(error))))
            }
        }
        return results
    }

    /// A webhook's event: `HookAdmission`'s webhook steps in their order — the endpoint, its
    /// limits on the head, a token on the head, the body (within the endpoint's limit), a
    /// signature over the body's bytes, then the backlog, key and event.
    func webhookEvent(_ request: Request, name: String, route: String) async throws(APIError) -> (event: Event, key: String?) {
        let endpoint: WebhookEndpoint
        switch admission.webhookEndpoint(name) {
        case let .success(found): endpoint = found
        case let .failure(refusal): throw counted(refusal)
        }
        let head = HookAdmission.Head(request.headers, authority: request.head.authority)
        if let refusal = admission.checkWebhookLimits(endpoint, head: head) { throw counted(refusal) }
        var query: [String: String] = [:]
        for (key, value) in request.uri.queryParameters { query[String(key)] = String(value) }
        func checked(_ result: Result<WebhookVerifier.Verified, WebhookVerifier.Failure>) throws(APIError) -> WebhookVerifier.Verified {
            switch result {
            case let .success(verified): return verified
            case let .failure(failure):
                state.metrics.authenticationFailed(route: route, reason: failure.reason)
                throw APIError(.unauthorized, "unauthorized", "webhook '\(endpoint.name)' authentication failed: \(failure)")
            }
        }
        var verified: WebhookVerifier.Verified?
        if let result = admission.authenticateWebhookHead(endpoint, fields: request.headers, query: query) { verified = try checked(result) }
        let body = try await read(request, limit: admission.bodyLimit(endpoint))
        let admission = self.admission
        let fields = request.headers
        if verified == nil {
            let known = query
            verified = try checked(await BodyWork.run(bytes: body.count) { admission.authenticateWebhook(endpoint, fields: fields, query: known, body: body) })
        }
        let signed = verified ?? WebhookVerifier.Verified()
        switch await BodyWork.run(bytes: body.count, { admission.admitWebhook(endpoint, verified: signed, head: head, fields: fields, body: body) }) {
        case let .success(event): return (event, head.idempotencyKey)
        case let .failure(refusal):
            if refusal.status == .unauthorized { state.metrics.authenticationFailed(route: route, reason: "replayed_signature") }
            throw counted(refusal)
        }
    }

    func counted(_ error: APIError) -> APIError {
        state.metrics.rejected(error.code)
        return error
    }
}
