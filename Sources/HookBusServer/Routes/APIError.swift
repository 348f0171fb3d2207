public import Hummingbird
import HookBus

/// An error answered as `{"error": {"code": "...", "message": "..."}}` with its HTTP status.
/// Core errors become API errors here, at the boundary, and nowhere else.
public struct APIError: Error, Sendable, Equatable {
    public let status: HTTPResponse.Status
    public let code: String
    public let message: String
    /// Extra headers (Retry-After on 503, Allow on 405).
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    /// The HTTP form of an event validation error.
    init(_ error: EventError) {
        switch error.code {
        case .malformed: self.init(.badRequest, "malformed_json", error.message)
        case .unknownHook: self.init(.notFound, "unknown_hook", error.message)
        case .missingParam: self.init(.unprocessableContent, "missing_param", error.message)
        case .wrongShape: self.init(.unprocessableContent, "invalid_param", error.message)
        case .unknownTrigger: self.init(.unprocessableContent, "unknown_trigger", error.message)
        }
    }

    init(_ error: IntegrationError) {
        switch error.code {
        case .unknownIntegration: self.init(.notFound, "unknown_integration", error.message)
        case .unknownAction: self.init(.notFound, "unknown_action", error.message)
        case .noConnectionTest: self.init(.unprocessableContent, "no_connection_test", error.message)
        case .invalidFields: self.init(.unprocessableContent, "invalid_fields", error.message)
        case .notRecorded: self.init(.serviceUnavailable, "store_unavailable", error.message, headers: [.retryAfter: "5"])
        }
    }

    init(_ error: RedriveError) {
        switch error.code {
        case .unknownEvent: self.init(.notFound, "unknown_event", error.message)
        case .notFinished: self.init(.conflict, "not_finished", error.message)
        case .waits: self.init(.conflict, "waits", error.message)
        case .nothingToRedrive: self.init(.conflict, "nothing_to_redrive", error.message)
        case .notRecorded: self.init(.serviceUnavailable, "store_unavailable", error.message, headers: [.retryAfter: "5"])
        }
    }

    /// Its headers with the content type, and its body: the one form of an error, whichever
    /// path writes it.
    var fields: HTTPFields {
        var fields = headers
        fields[.contentType] = "application/json"
        return fields
    }

    var body: String {
        JSONValue.object(["error": .object(["code": .string(code), "message": .string(message)])]).jsonText
    }

    var response: Response {
        Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }

    /// The answer when the store could not take an event.
    static let storeUnavailable = APIError(.serviceUnavailable, "store_unavailable", "the event could not be stored; nothing was accepted", headers: [.retryAfter: "1"])
}

/// A JSON response.
func jsonResponse(_ value: JSONValue, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
    var fields = headers
    fields[.contentType] = "application/json"
    return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(string: value.jsonText)))
}
