import Foundation
import HTTPTypes
import HookBus
import Logging
import Hummingbird
import Mustache

/// The console's answers: a page rendered from its template, a redirect, a message page. One
/// place adds what every page of a session shows (who is logged in, the CSRF token of its forms).
enum ConsoleResponse {
    static func page(_ template: String, _ view: [String: Any], context: HookBusRequestContext, status: HTTPResponse.Status = .ok) -> Response {
        var view = view
        if let session = context.session {
            view["user"] = true
            view["name"] = session.principal.name
            view["csrf"] = session.csrfToken
        }
        guard let html = ConsoleTemplates.library.render(view, withTemplate: template) else {
            // Every template is registered when the library is made; a missing one is a bug.
            context.logger.error("console template '\(template)' is not registered")
            return Response(status: .internalServerError, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: "internal error")))
        }
        return Response(status: status, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static func message(status: HTTPResponse.Status, heading: String, text: String, context: HookBusRequestContext) -> Response {
        page("message", ["title": heading, "heading": heading, "text": text], context: context, status: status)
    }

    /// 303: the browser follows with a GET (after a form, the page it lands on can be reloaded).
    static func redirect(to location: String, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.location] = location
        return Response(status: .seeOther, headers: fields)
    }

    static func asset(_ text: String, type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type, .cacheControl: "private, max-age=300"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
