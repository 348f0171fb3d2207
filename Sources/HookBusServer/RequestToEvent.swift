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

    /// What a route takes as its body.
    enum BodyFormat {
        /// `application/json` or any `application/…+json`.
        case json
        /// JSON Lines: `application/x-ndjson` or `application/jsonl`.
        case jsonLines

        func accepts(_ mediaType: String) -> Bool {
            switch self {
            case .json: return mediaType == "application/json" || (mediaType.hasPrefix("application/") && mediaType.hasSuffix("+json"))
            case .jsonLines: return mediaType == "application/x-ndjson" || mediaType == "application/jsonl"
            }
        }

        var expected: String { self == .json ? "application/json" : "application/x-ndjson (JSON Lines)" }
    }

    /// The body, refused with 413 when over the limit and 415 when not of the route's format.
    func body(of request: Request, format: BodyFormat = .json) async throws(APIError) -> [UInt8] {
        let limit = state.configuration.maxBodyBytes
        if let type = request.headers[.contentType] {
            guard format.accepts(Self.mediaType(of: type)) else {
                throw refuse(.unsupportedMediaType, "unsupported_media_type", "Content-Type must be \(format.expected), not '\(type)'")
            }
        } else {
            throw refuse(.unsupportedMediaType, "unsupported_media_type", "Content-Type must be \(format.expected)")
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

    /// The media type of a Content-Type value, lower-cased, without parameters or blanks
    /// (`Application/JSON; charset=utf-8` → `application/json`). Plain byte work: Foundation's
    /// trimming and lower-casing cost a sixth of a request's CPU here.
    static func mediaType(of contentType: String) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        for byte in contentType.utf8 {
            if byte == UInt8(ascii: ";") { break }
            if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { continue }
            bytes.append(byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// An `Idempotency-Key` is 1-255 bytes.
    static func isValidIdempotencyKey(_ key: String) -> Bool {
        !key.isEmpty && key.utf8.count <= 255
    }

    /// Hook endpoints: a bearer token when one is configured.
    func authenticateHook(_ request: Request) throws(APIError) {
        if case let .failure(failure) = hookAuthentication(request.headers) {
            throw refuse(.unauthorized, "unauthorized", "hook endpoints need 'Authorization: Bearer <token>': \(failure)", headers: [.wwwAuthenticate: "Bearer"])
        }
    }

    /// The hook token check on a request's headers, refusing nothing by itself (the fast path
    /// hands a failure to the route, which answers and counts it).
    func hookAuthentication(_ headers: HTTPFields) -> Result<Void, WebhookVerifier.Failure> {
        guard let token = state.configuration.hookToken else { return .success(()) }
        return state.verifier.verify(.token(header: "Authorization", query: nil, secrets: [token]),
                                     header: { HTTPField.Name($0).flatMap { headers[$0] } }, query: [:], body: [])
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
        do throws(APIError) {
            return try hookEvent(hook: hook, body: body)
        } catch {
            throw counted(error)
        }
    }

    /// The event of a hook body, refused (not counted) when the body or a named trigger is wrong.
    func hookEvent(hook: String, body: [UInt8]) throws(APIError) -> Event {
        let event: Event
        do {
            event = try Event.fromHookBody(hook: hook, body: body, source: EventSource(kind: .hook), id: nil)
        } catch {
            throw APIError(error)
        }
        // A named trigger must exist now, so the sender hears about a typo instead of a 202.
        if event.trigger != nil {
            do { _ = try state.engine.router.route(event) } catch { throw APIError(error) }
        }
        return event
    }

    /// `POST /api/v1/events`: recorded events, one per line, each stored as a replay of the
    /// event its `id` names (which is also its idempotency key, so a batch sent again stores
    /// nothing twice). Lines are judged one by one: a bad line is answered with its error and
    /// does not stop the others. Blank lines are skipped.
    func recordedEvents(_ request: Request) async throws(APIError) -> [(line: Int, result: Result<Event, APIError>)] {
        try authenticateHook(request)
        let body = try await body(of: request, format: .jsonLines)
        try checkBacklog()
        let router = state.engine.router
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
                results.append((lineNumber, .failure(counted(APIError(error)))))
            }
        }
        return results
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
