import Foundation
import HTTPTypes
import Logging
import HookBus
import Hummingbird

/// The one place where an HTTP request becomes an event: limits, content type, authentication,
/// then the core's validation. Every refusal is an `APIError`; nothing is stored before all of
/// these pass.
struct RequestToEvent {
    let state: ServerState

    /// The body, refused with 413 when over the limit and 415 when not JSON.
    func body(of request: Request) async throws(APIError) -> [UInt8] {
        let limit = state.configuration.maxBodyBytes
        if let type = request.headers[.contentType] {
            let mediaType = type.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
            guard mediaType == "application/json" || (mediaType.hasPrefix("application/") && mediaType.hasSuffix("+json")) else {
                throw refuse(.unsupportedMediaType, "unsupported_media_type", "Content-Type must be application/json, not '\(type)'")
            }
        } else {
            throw refuse(.unsupportedMediaType, "unsupported_media_type", "Content-Type must be application/json")
        }
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit {
            throw refuse(.contentTooLarge, "too_large", "body of \(length) bytes is over the \(limit)-byte limit")
        }
        do {
            let buffer = try await request.body.collect(upTo: limit)
            return Array(buffer.readableBytesView)
        } catch {
            throw refuse(.contentTooLarge, "too_large", "body is over the \(limit)-byte limit")
        }
    }

    /// Hook endpoints: a bearer token when one is configured.
    func authenticateHook(_ request: Request) throws(APIError) {
        guard let token = state.configuration.hookToken else { return }
        let result = state.verifier.verify(.token(header: "Authorization", query: nil, secrets: [token]),
                                           header: { request.headers[HTTPField.Name($0)!] }, query: [:], body: [])
        if case let .failure(failure) = result {
            throw refuse(.unauthorized, "unauthorized", "hook endpoints need 'Authorization: Bearer <token>': \(failure)", headers: [.wwwAuthenticate: "Bearer"])
        }
    }

    func authenticateWebhook(_ endpoint: WebhookEndpoint, request: Request, body: [UInt8]) throws(APIError) {
        var query: [String: String] = [:]
        for (key, value) in request.uri.queryParameters { query[String(key)] = String(value) }
        let result = state.verifier.verify(endpoint.authentication, header: { name in HTTPField.Name(name).flatMap { request.headers[$0] } }, query: query, body: body)
        if case let .failure(failure) = result {
            throw refuse(.unauthorized, "unauthorized", "webhook '\(endpoint.name)' authentication failed: \(failure)")
        }
    }

    /// 503 with Retry-After when the backlog is over its limit: work waits on disk up to a
    /// bound, and senders are told to come back rather than let it grow without one.
    func checkBacklog() throws(APIError) {
        if state.backlog.count >= state.configuration.backlogLimit {
            throw refuse(.serviceUnavailable, "backlog_full", "\(state.backlog.count) events are waiting; retry later", headers: [.retryAfter: "5"])
        }
    }

    func hookEvent(_ request: Request, hook: String) async throws(APIError) -> Event {
        try authenticateHook(request)
        let body = try await body(of: request)
        try checkBacklog()
        let event: Event
        do {
            event = try Event.fromHookBody(hook: hook, body: body, source: EventSource(kind: .hook), id: nil)
        } catch {
            throw counted(APIError(error))
        }
        // A named trigger must exist now, so the sender hears about a typo instead of a 202.
        if event.trigger != nil {
            do { _ = try state.engine.router.route(event) } catch { throw counted(APIError(error)) }
        }
        return event
    }

    func webhookEvent(_ request: Request, name: String) async throws(APIError) -> Event {
        guard let endpoint = state.configuration.webhooks[name] else {
            throw refuse(.notFound, "unknown_webhook", "no webhook endpoint named '\(name)' is configured\(suggestion(name, in: state.configuration.webhooks.keys))")
        }
        let body = try await body(of: request)
        try authenticateWebhook(endpoint, request: request, body: body)
        try checkBacklog()
        do {
            return try Event.fromWebhook(body: body, endpoint: name)
        } catch {
            throw counted(APIError(error))
        }
    }

    func refuse(_ status: HTTPResponse.Status, _ code: String, _ message: String, headers: HTTPFields = [:]) -> APIError {
        counted(APIError(status, code, message, headers: headers))
    }

    func counted(_ error: APIError) -> APIError {
        state.metrics.rejected(error.code)
        return error
    }

    private func suggestion(_ name: String, in names: some Sequence<String>) -> String {
        let close = names.filter { $0.lowercased() == name.lowercased() || $0.lowercased().hasPrefix(name.lowercased().prefix(3)) }
        return close.isEmpty ? "" : " (did you mean '\(close.sorted()[0])'?)"
    }
}
