import Foundation
import HTTPTypes
import HookBus
import Logging
import Hummingbird

/// The console (`/ui`): server-rendered pages over the store and the engine, for people with an
/// operator token. Pages are data (`ConsolePages`) put into templates (`ConsoleTemplates`);
/// this file is only which address shows what, and the login.
///
/// Decisions (README, *The console*):
/// - A login takes an operator token once and holds a session cookie (HttpOnly, SameSite=Strict,
///   Path=/ui, Secure unless the page was asked for on a loopback address); the token itself is
///   never stored in the browser. On a server with `open_on_loopback` and no operator token, the
///   login takes an empty token, as the API answers without one there.
/// - Every form post must come from a page of this server and carry the session's CSRF token.
/// - A re-drive runs while the browser waits, as `POST /api/v1/events/{id}/redrive` does, and
///   lands on the event's page with its new runs.
struct ConsoleRoutes {
    let state: ServerState
    /// How often an open live stream sends a comment line: a dropped connection is noticed and
    /// proxies do not close an idle stream.
    static let heartbeat: Duration = .seconds(15)

    func register(on router: Hummingbird.Router<HookBusRequestContext>) {
        let console = router.group("/ui").add(middleware: ConsoleHeadersMiddleware())
        console.get("/assets/console.css") { _, _ in ConsoleResponse.asset(ConsoleAssets.css, type: "text/css; charset=utf-8") }
        console.get("/assets/console.js") { _, _ in ConsoleResponse.asset(ConsoleAssets.javascript, type: "text/javascript; charset=utf-8") }
        console.get("/login") { request, context in loginPage(request, context: context) }
        console.post("/login") { request, context in try await logIn(request, context: context) }
        router.get("/ui") { _, _ in ConsoleResponse.redirect(to: "/ui/events") }

        let pages = console.group().add(middleware: ConsoleSessionMiddleware(state: state))
        let content = ConsolePages(state: state)
        pages.post("/logout") { request, _ in
            if let id = request.cookies[ConsoleSessions.cookieName]?.value {
                state.sessions.end(id: id)
                state.feed.end(owner: ConsoleSessions.key(id))
            }
            var response = ConsoleResponse.redirect(to: "/ui/login")
            response.setCookie(Self.cookie(value: "", maxAge: 0, request: request))
            return response
        }
        pages.get("/events") { request, context in
            ConsoleResponse.page("events", try await content.events(query: ConsoleForm.query(request)), context: context)
        }
        pages.get("/events/stream") { request, _ in stream(request, session: request.cookies[ConsoleSessions.cookieName]?.value ?? "") }
        pages.get("/events/:id") { request, context in
            let id = decoded(context.parameters.get("id"))
            guard var view = try await content.event(id: id) else {
                return ConsoleResponse.message(status: .notFound, heading: "No such event", text: "No event has the id '\(id)'.", context: context)
            }
            let query = ConsoleForm.query(request)
            if let runs = query["redriven"].flatMap(Int.init) {
                let waiting = query["waiting"].flatMap(Int.init) ?? 0
                view["flash"] = ["kind": "ok", "text": "Re-driven: \(runs) new run\(runs == 1 ? "" : "s")" + (waiting > 0 ? ", \(waiting) waiting for a retry or a limit." : ".")]
            }
            return ConsoleResponse.page("event", view, context: context)
        }
        pages.post("/events/:id/redrive") { _, context in
            let id = decoded(context.parameters.get("id"))
            do throws(RedriveError) {
                let (runs, waiting) = try await state.engine.redrive(eventID: id, requestedBy: context.actor)
                return ConsoleResponse.redirect(to: ConsoleViews.eventPath(id) + "?redriven=\(runs.count)&waiting=\(waiting.count)")
            } catch {
                return ConsoleResponse.message(status: APIError(error).status, heading: "Not re-driven", text: error.message, context: context)
            }
        }
        pages.get("/runs") { request, context in
            ConsoleResponse.page("runs", try await content.runs(query: ConsoleForm.query(request)), context: context)
        }
        pages.get("/health") { _, context in
            ConsoleResponse.page("health", await content.health(), context: context)
        }
        pages.get("/triggers") { _, context in
            ConsoleResponse.page("triggers", try await content.triggers(), context: context)
        }
        registerActions(on: pages, content: content)
    }

    // MARK: Actions

    /// The Actions page, an action's form and its run, and a connection test: each runs while
    /// the browser waits (a person asked) and is recorded under the session's name.
    private func registerActions(on pages: RouterGroup<HookBusRequestContext>, content: ConsolePages) {
        pages.get("/actions") { _, context in
            ConsoleResponse.page("actions", content.actions(), context: context)
        }
        pages.post("/integrations/:name/test") { _, context in
            let name = decoded(context.parameters.get("name"))
            var view = content.actions()
            let run: Engine.CompletedRun
            do throws(IntegrationError) {
                run = try await state.engine.testConnection(integration: name, requestedBy: context.actor)
            } catch {
                return ConsoleResponse.message(status: Self.status(error), heading: "Not tested", text: error.message, context: context)
            }
            view["result"] = ["integration": name, "run": try await content.runView(eventID: run.invocation.eventID) ?? [:]]
            return ConsoleResponse.page("actions", view, context: context)
        }
        pages.get("/actions/:integration/:action") { _, context in
            let (integrationName, actionName) = (decoded(context.parameters.get("integration")), decoded(context.parameters.get("action")))
            guard let (integration, action) = content.runnableAction(integration: integrationName, action: actionName) else {
                return ConsoleResponse.message(status: .notFound, heading: "No such action", text: "No action '\(actionName)' of '\(integrationName)' can be run by hand.", context: context)
            }
            return ConsoleResponse.page("action", content.actionForm(integration, action), context: context)
        }
        pages.post("/actions/:integration/:action") { _, context in
            let (integrationName, actionName) = (decoded(context.parameters.get("integration")), decoded(context.parameters.get("action")))
            guard let (integration, action) = content.runnableAction(integration: integrationName, action: actionName) else {
                return ConsoleResponse.message(status: .notFound, heading: "No such action", text: "No action '\(actionName)' of '\(integrationName)' can be run by hand.", context: context)
            }
            let values = ConsolePages.fieldValues(context.form.pairs, of: action)
            let problems = HookBus.Router.fieldProblems(values, of: action).problems
            guard problems.isEmpty else {
                return ConsoleResponse.page("action", content.actionForm(integration, action, values: values, problems: problems), context: context, status: .unprocessableContent)
            }
            var view = content.actionForm(integration, action, values: values)
            let run: Engine.CompletedRun
            do throws(IntegrationError) {
                run = try await state.engine.runAction(integration: integration.name, action: action.name, fields: values, requestedBy: context.actor)
            } catch {
                return ConsoleResponse.message(status: Self.status(error), heading: "Not run", text: error.message, context: context)
            }
            view["result"] = ["run": try await content.runView(eventID: run.invocation.eventID) ?? [:]]
            return ConsoleResponse.page("action", view, context: context)
        }
    }

    static func status(_ error: IntegrationError) -> HTTPResponse.Status {
        switch error.code {
        case .unknownIntegration, .unknownAction: .notFound
        case .noConnectionTest, .invalidFields: .unprocessableContent
        case .notRecorded: .serviceUnavailable
        }
    }

    // MARK: Login

    private func loginPage(_ request: Request, context: HookBusRequestContext, error: String? = nil, next: String? = nil,
                           status: HTTPResponse.Status = .ok) -> Response {
        let next = ConsoleOrigin.localPath(next ?? ConsoleForm.query(request)["next"])
        if error == nil, let id = request.cookies[ConsoleSessions.cookieName]?.value, state.sessions.session(id: id) != nil {
            return ConsoleResponse.redirect(to: next)
        }
        var view: [String: Any] = ["title": "Log in", "next": next]
        if state.access.openRoles.contains(.operator) { view["openOnLoopback"] = true }
        if let error { view["error"] = error }
        return ConsoleResponse.page("login", view, context: context, status: status)
    }

    private func logIn(_ request: Request, context: HookBusRequestContext) async throws -> Response {
        if let refusal = ConsoleOrigin.refusal(request) {
            state.metrics.authenticationFailed(route: "/ui/login", reason: "cross_site")
            return loginPage(request, context: context, error: refusal, status: .forbidden)
        }
        let form = try await ConsoleForm.read(request)
        let token = form["token"] ?? ""
        let site = RequestSite(host: request.head.authority, origin: request.headers[.origin], fetchSite: request.headers[.secFetchSite])
        switch state.access.authorize(token.isEmpty ? nil : "Bearer " + token, for: .operator, site: site) {
        case let .success(principal):
            let (id, _) = state.sessions.start(for: principal)
            context.logger.notice("console login", metadata: ["principal": "\(principal.name)"])
            var response = ConsoleResponse.redirect(to: ConsoleOrigin.localPath(form["next"]))
            response.setCookie(Self.cookie(value: id, maxAge: Int(state.sessions.lifetime), request: request))
            return response
        case let .failure(denial):
            state.metrics.authenticationFailed(route: "/ui/login", reason: denial.code.rawValue)
            context.logger.notice("console login refused", metadata: ["reason": "\(denial.code.rawValue)"])
            let message = token.isEmpty && denial.code == .missingCredentials ? "Enter an operator token." : denial.message
            return loginPage(request, context: context, error: message, next: form["next"], status: denial.isForbidden ? .forbidden : .unauthorized)
        }
    }

    /// The session cookie. Secure unless the page was asked for on a loopback address: a
    /// browser keeps a Secure cookie only from HTTPS (or loopback) pages, and a console reached
    /// from another machine must be behind TLS — over plain HTTP the login does not hold.
    static func cookie(value: String, maxAge: Int, request: Request) -> Cookie {
        cookie(value: value, maxAge: maxAge, authority: request.head.authority)
    }

    static func cookie(value: String, maxAge: Int, authority: String?) -> Cookie {
        let loopback = authority.map(RequestSite.isLoopbackAuthority) ?? false
        return Cookie(name: ConsoleSessions.cookieName, value: value, maxAge: maxAge, path: "/ui", secure: !loopback, httpOnly: true, sameSite: .strict)
    }
}
