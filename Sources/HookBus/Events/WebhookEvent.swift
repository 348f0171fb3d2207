public import Foundation

/// Webhook events: made from a `WebhookBody`, which the event keeps; the params a trigger gets
/// are derived from it here, in one place, whether the event was just received, read back from
/// the store, or replayed from an export.
///
/// - `payload`: the body's bytes as text when they are UTF-8 without a NUL, otherwise their
///   base64 (`HOOKBUS_PAYLOAD_ENCODING` says which). A JSON body is passed as the JSON text it was
///   sent as; in the JSON object on stdin it is the value itself, any other body a string.
/// - `payloadForm`: for `application/x-www-form-urlencoded` and `multipart/form-data`, the fields
///   (`FormFields`).
/// - `payloadJSON`: for a form whose `payload` field holds JSON (GitHub's form mode, Slack's
///   interactive messages), that JSON — so such a sender reaches the trigger as JSON too.
/// - `headers`: the headers the endpoint keeps, as an object.
extension Event {
    /// The form field whose JSON content becomes `payloadJSON`.
    public static let formJSONField = "payload"

    /// A webhook event of `body`.
    /// - Throws: `EventError.malformed` when a body declared as JSON is not JSON, or a multipart
    ///   body cannot be parsed: the sender is told, rather than its triggers failing later.
    public static func webhook(_ body: WebhookBody, source: EventSource, id: String? = nil, trigger: String? = nil,
                               receivedAt: Date = Date()) throws(EventError) -> Event {
        var event = Event(id: id ?? Event.newID(now: receivedAt), hook: .webhook, params: try webhookParams(body), trigger: trigger,
                          receivedAt: receivedAt, source: source)
        event.webhookBody = body
        return event
    }

    /// A webhook event whose body is a JSON value HookBus made (a daemon's object, a schedule's
    /// end): its JSON text, declared `application/json`.
    public static func webhook(json value: JSONValue, source: EventSource, receivedAt: Date = Date()) -> Event {
        let text = value.jsonText
        var event = Event(hook: .webhook, params: ["payload": EventParam(raw: text, value: value)], receivedAt: receivedAt, source: source)
        event.webhookBody = WebhookBody(json: text)
        return event
    }

    /// A webhook event received at `POST /api/v1/webhooks/{endpoint}`.
    public static func fromWebhook(_ body: WebhookBody, endpoint: String, id: String? = nil, receivedAt: Date = Date()) throws(EventError) -> Event {
        try webhook(body, source: EventSource(kind: .webhook, name: endpoint), id: id, receivedAt: receivedAt)
    }

    /// A webhook event of a body of `contentType` (JSON unless said otherwise).
    public static func fromWebhook(body: [UInt8], endpoint: String, contentType: String? = "application/json", headers: [KeptHeader] = [],
                                   id: String? = nil, receivedAt: Date = Date()) throws(EventError) -> Event {
        try fromWebhook(WebhookBody(bytes: body, contentType: contentType, headers: headers), endpoint: endpoint, id: id, receivedAt: receivedAt)
    }

    /// How the event's `payload` carries its body (text for events without a kept body).
    public var payloadEncoding: WebhookBody.Encoding {
        guard let webhookBody, webhookBody.text == nil else { return .text }
        return .base64
    }

    static func webhookParams(_ body: WebhookBody) throws(EventError) -> [String: EventParam] {
        var params: [String: EventParam] = [:]
        let text = body.text
        switch body.kind {
        case .json:
            guard let text else { throw EventError(.malformed, "body is declared as JSON but is not UTF-8 text") }
            do {
                // Parsed from the bytes as they are (parsing the text would copy it back to bytes).
                var parser = JSONParser(body.bytes, maximumDepth: payloadDepth)
                params["payload"] = EventParam(raw: text, value: try parser.parseDocument())
            } catch {
                throw EventError(.malformed, "body is declared as JSON but is not JSON: \(error)")
            }
        case .other where body.contentType == nil:
            // No declared type (older senders, `curl -d` without -H): JSON when it is JSON.
            if let text, let value = Self.jsonIfJSON(text) {
                params["payload"] = EventParam(raw: text, value: value)
            } else {
                params["payload"] = .text(text ?? Data(body.bytes).base64EncodedString())
            }
        case .urlEncodedForm, .multipartForm, .other:
            params["payload"] = .text(text ?? Data(body.bytes).base64EncodedString())
            if let form = try FormFields.parse(body) {
                params["payloadForm"] = EventParam(raw: form.jsonText, value: form)
                if let field = form[formJSONField]?.stringValue, let value = Self.jsonIfJSON(field) {
                    params["payloadJSON"] = EventParam(raw: field, value: value)
                }
            }
        }
        if !body.headers.isEmpty {
            // Written directly, in the endpoint's order: every kept header's event builds it.
            var raw = "{"
            var members: [String: JSONValue] = [:]
            for header in body.headers {
                if !members.isEmpty { raw += "," }
                JSONValue.appendQuoted(header.name, to: &raw)
                raw += ":"
                JSONValue.appendQuoted(header.value, to: &raw)
                members[header.name] = .string(header.value)
            }
            params["headers"] = EventParam(raw: raw + "}", value: .object(members))
        }
        return params
    }

    /// The value of `text` when it is a JSON document; nil when it is not (which only means the
    /// text is passed as text).
    private static func jsonIfJSON(_ text: String) -> JSONValue? {
        do { return try JSONParser.parse(text, maximumDepth: payloadDepth) } catch { return nil }
    }

    /// The nesting a webhook's JSON may have: its record holds it two levels deeper (in
    /// `params`), and must be read back within the parser's limit.
    static let payloadDepth = JSONParser.defaultDepth - 2

    /// The JSON view of the event's body that rules' `json:` conditions test: the JSON body, or
    /// a form's `payload` field holding JSON.
    public var webhookJSON: JSONValue? {
        guard hook == .webhook else { return nil }
        if let param = params["payloadJSON"] { return param.value }
        guard let payload = params["payload"], !payload.isText else { return nil }
        return payload.value
    }
}

extension WebhookBody {
    /// A JSON body (what daemons, schedules and `POST /api/v1/hooks/webhook` carry).
    public init(json text: String) {
        self.init(bytes: Array(text.utf8), contentType: "application/json")
    }
}

// MARK: The recorded form

/// How a webhook event's body is written in its recorded form (`Event.recordJSON`) and read back:
///
/// - a JSON body on one line, with nothing around the value, is written where it always was, as
///   `params.payload`, byte for byte;
/// - any other body (JSON over several lines or with blanks around it, text, bytes) is written
///   once, as `payloadText` (a JSON string of the exact text: newlines, CR and tabs escaped) or,
///   when it is not UTF-8, holds a NUL or would escape to more than its base64, as
///   `payloadBase64`; `params` is then empty. A record is at most a third larger than its body;
/// - `contentType` and `headers` (an object, in the endpoint's order) when the request had them.
///
/// A record without them (written before they existed) is read as a JSON body from
/// `params.payload`, as it always was.
enum WebhookRecord {
    /// Whether `params.payload` can hold the body exactly: JSON text on one line, with nothing
    /// around the value (a parser returns the value's own bytes, not the blanks around it).
    static func inlinesPayload(_ event: Event, body: WebhookBody) -> Bool {
        guard let payload = event.params["payload"], !payload.isText, let first = payload.raw.utf8.first, let last = payload.raw.utf8.last else { return false }
        func isBlank(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }
        return !isBlank(first) && !isBlank(last) && !payload.raw.utf8.contains { $0 == 0x0A || $0 == 0x0D }
    }

    /// The length of `text` as a JSON string's content. Text that escapes to more than its
    /// base64 (mostly control characters: `\u0001` is six bytes for one) is written as base64,
    /// so a record is never more than a third larger than its body.
    static func escapedSize(_ text: String) -> Int {
        var size = 0
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), 0x09, 0x0A, 0x0D: size += 2
            case ..<0x20: size += 6
            default: size += 1
            }
        }
        return size
    }

    /// Kept headers from a JSON object of names and string values, in the object's order (the
    /// endpoint's order, as written).
    static func headers(objectText: String) throws(EventError) -> [KeptHeader] {
        var parser = JSONParser(objectText)
        let members: [JSONParser.Member]
        do { members = try parser.parseObjectMembers() } catch {
            throw EventError(.wrongShape, "'headers' must be an object of header names and values")
        }
        var headers: [KeptHeader] = []
        for member in members {
            guard case let .string(value) = member.value else { throw EventError(.wrongShape, "header '\(member.key)' must be a string, not a \(member.value.typeName)") }
            headers.append(KeptHeader(name: member.key, value: value))
        }
        return headers
    }

    /// The members after `source`: `,"contentType":…,"headers":{…},"payloadText":…`.
    static func appendMembers(of body: WebhookBody, inlined: Bool, to output: inout String) {
        if let contentType = body.contentType {
            output += ",\"contentType\":"
            JSONValue.appendQuoted(contentType, to: &output)
        }
        if !body.headers.isEmpty {
            output += ",\"headers\":{"
            for (index, header) in body.headers.enumerated() {
                if index > 0 { output += "," }
                JSONValue.appendQuoted(header.name, to: &output)
                output += ":"
                JSONValue.appendQuoted(header.value, to: &output)
            }
            output += "}"
        }
        guard !inlined else { return }
        if let text = body.text, escapedSize(text) <= (body.bytes.count + 2) / 3 * 4 {
            output += ",\"payloadText\":"
            JSONValue.appendQuoted(text, to: &output)
        } else {
            output += ",\"payloadBase64\":\""
            output += Data(body.bytes).base64EncodedString()
            output += "\""
        }
    }

    /// The body of a recorded webhook event (of the older form too: its `params.payload`, with
    /// no content type, is a body that is JSON).
    static func body(members: [JSONParser.Member], payloadMember: JSONParser.Member?) throws(EventError) -> WebhookBody {
        func member(_ key: String) -> JSONValue? { members.first { $0.key == key }?.value }
        var headers: [KeptHeader] = []
        if let object = members.first(where: { $0.key == "headers" }) { headers = try Self.headers(objectText: object.raw) }
        let contentType: String?
        switch member("contentType") {
        case nil, .null?: contentType = nil
        case let .string(text)?: contentType = text
        case let other?: throw EventError(.wrongShape, "'contentType' must be a string, not a \(other.typeName)")
        }
        let bytes: [UInt8]
        if let value = member("payloadText") {
            guard let text = value.stringValue else { throw EventError(.wrongShape, "'payloadText' must be a string") }
            bytes = Array(text.utf8)
        } else if let value = member("payloadBase64") {
            guard let text = value.stringValue, let data = Data(base64Encoded: text) else { throw EventError(.wrongShape, "'payloadBase64' must be a base64 string") }
            bytes = Array(data)
        } else if let payloadMember {
            // A text body written by hand as a JSON string, or a JSON body as its own text.
            if case let .string(text) = payloadMember.value, let contentType, WebhookBody.kind(of: WebhookBody.mediaType(of: contentType)) != .json {
                bytes = Array(text.utf8)
            } else {
                bytes = Array(payloadMember.raw.utf8)
            }
        } else {
            throw EventError(.missingParam, "hook 'webhook' needs param 'payload' (or 'payloadText' / 'payloadBase64')")
        }
        return WebhookBody(bytes: bytes, contentType: contentType, headers: headers)
    }
}
