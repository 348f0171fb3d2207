import HTTPTypes
import HookBus

/// The admission policy of events: the one ordered list of checks that decides whether a request
/// becomes a stored event — authentication → limits → backlog → idempotency key → the event.
///
/// Both ways into the server ask it. The router's hook route runs step 1 as its group's
/// `AccessMiddleware` and the rest in its handler, reading the body (within the limit) between
/// the head's limits and the backlog. `HookAcceptFastPath` runs the same functions in the same
/// order on the event loop; it only decides *whether* it may answer there (a complete body of a
/// declared length, no query, HTTP/1.1 keep-alive …) and hands every refusal to the route, which
/// answers and counts it. A check added here applies to both; none is repeated elsewhere.
///
/// The functions judge and return; they count nothing, so that a request the fast path passes
/// on is counted once, by the route that answers it.
struct HookAdmission: Sendable {
    let state: ServerState

    /// What admission reads of a request's head, gathered in one pass over its fields (looking
    /// each up by name scanned them all and joined repeated values, several times per request).
    struct Head: Sendable {
        var authorization: String?
        var contentType: String?
        var contentLength: Int?
        var idempotencyKey: String?
        /// A judged field given more than once, which is refused rather than guessed at.
        var repeated: HTTPField.Name?
        /// Where the request may be answered (the fast path's concern, not a policy): an
        /// `Expect`, a `Transfer-Encoding`, and the `Connection` field.
        var expects = false
        var transferEncoding = false
        var connection: String?
        /// What an anonymous request on an open route is judged by (`RequestSite`).
        var site: RequestSite

        /// - Parameter authority: the request's `Host` (HTTP/1 moves it out of the fields).
        init(_ fields: HTTPFields, authority: String?) {
            site = RequestSite(host: authority)
            for field in fields {
                switch field.name {
                case .authorization:
                    if authorization != nil { repeated = field.name }
                    authorization = field.value
                case .contentType:
                    if contentType != nil { repeated = field.name }
                    contentType = field.value
                case .idempotencyKey:
                    if idempotencyKey != nil { repeated = field.name }
                    idempotencyKey = field.value
                case .contentLength:
                    if contentLength != nil { repeated = field.name }
                    contentLength = Int(field.value)
                case .expect: expects = true
                case .transferEncoding: transferEncoding = true
                case .connection:
                    // Given twice it may say both things: the route judges it.
                    if connection != nil { repeated = field.name }
                    connection = field.value
                case .origin: site.origin = field.value
                case .secFetchSite: site.fetchSite = field.value
                default: continue
                }
            }
        }
    }

    /// What a route takes as its body.
    enum BodyFormat: Sendable {
        /// `application/json` or any `application/…+json`.
        case json
        /// JSON Lines: `application/x-ndjson` or `application/jsonl`.
        case jsonLines

        func accepts(_ mediaType: String) -> Bool {
            switch self {
            case .json: return WebhookBody.kind(of: mediaType) == .json
            case .jsonLines: return mediaType == "application/x-ndjson" || mediaType == "application/jsonl"
            }
        }

        var expected: String { self == .json ? "application/json" : "application/x-ndjson (JSON Lines)" }
    }

    // MARK: The steps, in order

    /// 1. Who sends: a sender token, or an open sender role on loopback — the question the
    ///    hook route's `AccessMiddleware` asks.
    func authenticate(_ head: Head) -> Result<Principal, AccessDenial> {
        state.access.authorize(head.authorization, for: SenderRoutes.role, site: head.site)
    }

    /// 2. The limits judged on the head: one content type, of the route's format, and a declared
    ///    length within `max_body_bytes` (the body itself is read within the same limit).
    func checkLimits(_ head: Head, format: BodyFormat = .json) -> APIError? {
        guard let type = head.contentType else {
            return APIError(.unsupportedMediaType, "unsupported_media_type", "Content-Type must be \(format.expected)")
        }
        if head.repeated == .contentType {
            return APIError(.unsupportedMediaType, "unsupported_media_type", "Content-Type is given more than once")
        }
        guard format.accepts(WebhookBody.mediaType(of: type)) else {
            return APIError(.unsupportedMediaType, "unsupported_media_type", "Content-Type must be \(format.expected), not '\(type)'")
        }
        let limit = bodyLimit(format)
        if let length = head.contentLength, length > limit {
            return Self.tooLarge(limit, length: length)
        }
        return nil
    }

    /// The largest body of a route's format: `max_body_bytes`; for a bulk import also one
    /// record of the largest webhook body an endpoint takes (a record is at most a third larger
    /// than its body, `WebhookRecord`), so whatever was accepted can be imported again.
    func bodyLimit(_ format: BodyFormat) -> Int {
        let limit = state.configuration.maxBodyBytes
        guard format == .jsonLines, let largest = state.configuration.webhooks.values.compactMap(\.maxBodyBytes).max() else { return limit }
        return max(limit, largest / 3 * 4 + 64 * 1024)
    }

    /// 3. Room in the backlog: work waits on disk up to a bound, and senders are told to come
    ///    back (503, Retry-After) rather than let it grow without one.
    func checkBacklog() -> APIError? {
        let waiting = state.backlog.count
        guard waiting >= state.configuration.backlogLimit else { return nil }
        return APIError(.serviceUnavailable, "backlog_full", "\(waiting) events are waiting; retry later", headers: [.retryAfter: "5"])
    }

    /// 4. The idempotency key's form: 1-255 bytes, given once. (Whether it was seen before is
    ///    the store's to say, in the same transaction that stores the event.)
    func checkIdempotencyKey(_ head: Head) -> APIError? {
        if head.repeated == .idempotencyKey {
            return APIError(.badRequest, "invalid_idempotency_key", "Idempotency-Key is given more than once")
        }
        if let key = head.idempotencyKey, !Self.isValidIdempotencyKey(key) {
            return APIError(.badRequest, "invalid_idempotency_key", "Idempotency-Key must be 1-255 bytes")
        }
        return nil
    }

    /// 5. The event of a hook body; a named trigger must exist now, so the sender hears about a
    ///    typo instead of a 202.
    func hookEvent(hook: String, body: [UInt8]) -> Result<Event, APIError> {
        let event: Event
        do {
            event = try Event.fromHookBody(hook: hook, body: body, source: EventSource(kind: .hook), id: nil)
        } catch {
            return .failure(APIError(error))
        }
        if event.trigger != nil {
            do { _ = try state.engine.router.route(event) } catch { return .failure(APIError(error)) }
        }
        return .success(event)
    }

    /// Steps 3 to 5 for a hook request whose body has been read.
    func admitHook(_ hook: String, head: Head, body: [UInt8]) -> Result<Event, APIError> {
        if let refusal = checkBacklog() ?? checkIdempotencyKey(head) { return .failure(refusal) }
        return hookEvent(hook: hook, body: body)
    }

    // MARK: Webhooks
    //
    // A webhook endpoint's steps, in order: 1. the endpoint (404), 2. its limits on the head
    // (415, 413), 3. a token scheme on the head (401), 4. the body (413), 5. an HMAC scheme over
    // the body's bytes (401), then the backlog, the key, the event, and a timestamped
    // signature's single use (401).

    /// The endpoint a webhook request names.
    func webhookEndpoint(_ name: some StringProtocol) -> Result<WebhookEndpoint, APIError> {
        guard let endpoint = state.configuration.webhooks[String(name)] else {
            return .failure(APIError(.notFound, "unknown_webhook", "no webhook endpoint named '\(name)' is configured\(Suggestion.hint(for: String(name), in: Array(state.configuration.webhooks.keys)))"))
        }
        return .success(endpoint)
    }

    /// The largest body the endpoint takes.
    func bodyLimit(_ endpoint: WebhookEndpoint) -> Int {
        endpoint.maxBodyBytes ?? state.configuration.maxBodyBytes
    }

    /// 2. (webhooks) The endpoint's limits judged on the head: one content type, of those it
    ///    takes (any, unless `content_types` says), and a declared length within its limit.
    func checkWebhookLimits(_ endpoint: WebhookEndpoint, head: Head) -> APIError? {
        if head.repeated == .contentType {
            return APIError(.unsupportedMediaType, "unsupported_media_type", "Content-Type is given more than once")
        }
        if let allowed = endpoint.contentTypes, !endpoint.accepts(mediaType: head.contentType.map(WebhookBody.mediaType(of:))) {
            return APIError(.unsupportedMediaType, "unsupported_media_type",
                            "webhook '\(endpoint.name)' takes \(allowed.joined(separator: ", ")), not '\(head.contentType ?? "a body without Content-Type")'")
        }
        let limit = bodyLimit(endpoint)
        if let length = head.contentLength, length > limit { return Self.tooLarge(limit, length: length) }
        return nil
    }

    /// 3. (webhooks) A scheme that signs nothing (`none`, `token`) judged on the head, before the
    ///    body is read: a client without the token cannot make the server read and hold up to
    ///    the endpoint's limit. Nil for `hmac`, which needs the body (step 5).
    func authenticateWebhookHead(_ endpoint: WebhookEndpoint, fields: HTTPFields, query: [String: String]) -> Result<WebhookVerifier.Verified, WebhookVerifier.Failure>? {
        if case .hmac = endpoint.authentication { return nil }
        return authenticateWebhook(endpoint, fields: fields, query: query, body: [])
    }

    /// 5. (webhooks) The endpoint's own scheme, over the body's exact bytes (4 is reading it).
    func authenticateWebhook(_ endpoint: WebhookEndpoint, fields: HTTPFields, query: [String: String], body: [UInt8]) -> Result<WebhookVerifier.Verified, WebhookVerifier.Failure> {
        state.verifier.verify(endpoint.authentication, header: { name in (state.authenticationFields[name] ?? HTTPField.Name(name)).flatMap { Self.value(of: $0, in: fields) } },
                              query: query, body: body)
    }

    /// A field's value; a field given several times is their values joined with ", ", as HTTP
    /// combines them. One pass, and no joining for the usual single field (`HTTPFields`'
    /// subscript joined through a lazy view every time).
    static func value(of name: HTTPField.Name, in fields: HTTPFields) -> String? {
        var found: String?
        for field in fields where field.name == name {
            found = found.map { $0 + ", " + field.value } ?? field.value
        }
        return found
    }

    /// 5. (webhooks) The event: the body as received, its content type, and the headers the
    ///    endpoint keeps (a field given several times joined with ", ", as HTTP combines them).
    func webhookEvent(_ endpoint: WebhookEndpoint, head: Head, fields: HTTPFields, body: [UInt8]) -> Result<Event, APIError> {
        var kept: [KeptHeader] = []
        for (name, field) in state.keptHeaderFields[endpoint.name] ?? [] {
            let values = fields[values: field]
            guard !values.isEmpty else { continue }
            kept.append(KeptHeader(name: name, value: values.count == 1 ? values[0] : values.joined(separator: ", ")))
        }
        do {
            return .success(try Event.fromWebhook(WebhookBody(bytes: body, contentType: head.contentType, headers: kept), endpoint: endpoint.name))
        } catch {
            return .failure(APIError(error))
        }
    }

    /// Steps 3 to 5 for an authenticated webhook request whose body has been read, then the
    /// last: a timestamped signature is used once (`SignatureReplayGuard`). It is entered only
    /// here, when everything else has passed, so a request the fast path hands to the route is
    /// not refused there as its own replay.
    func admitWebhook(_ endpoint: WebhookEndpoint, verified: WebhookVerifier.Verified, head: Head, fields: HTTPFields, body: [UInt8]) -> Result<Event, APIError> {
        if let refusal = checkBacklog() ?? checkIdempotencyKey(head) { return .failure(refusal) }
        let event = webhookEvent(endpoint, head: head, fields: fields, body: body)
        guard case .success = event, let (digest, signedAt) = verified.replay, case let .hmac(scheme) = endpoint.authentication else { return event }
        guard state.replayGuard.claim(digest, signedAt: signedAt, tolerance: scheme.toleranceSeconds) else {
            return .failure(APIError(.unauthorized, "unauthorized", "webhook '\(endpoint.name)' authentication failed: this signature was already used (a replayed request)"))
        }
        return event
    }

    // MARK: Helpers

    static func tooLarge(_ limit: Int, length: Int? = nil) -> APIError {
        APIError(.contentTooLarge, "too_large", length.map { "body of \($0) bytes is over the \(limit)-byte limit" } ?? "body is over the \(limit)-byte limit")
    }


    /// An `Idempotency-Key` is 1-255 bytes.
    static func isValidIdempotencyKey(_ key: String) -> Bool {
        !key.isEmpty && key.utf8.count <= 255
    }
}
