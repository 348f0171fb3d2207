import Foundation
@testable import HookBus
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import HookBusServer

/// The console's doors through the router: who gets in, what the session cookie is, which form
/// posts are refused (no session, another site, no CSRF token), and that what triggers print
/// and senders post is shown as text. The pages in a browser: `ConsoleBrowserTests`.
@Suite struct ConsoleTests {
    /// (The router's test client addresses every request to `localhost`.)
    static let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]

    /// Logs in with the operator token; returns the session cookie's `name=value`.
    static func logIn(_ client: some TestClientProtocol) async throws -> String {
        let response = try await client.execute(uri: "/ui/login", method: .post, headers: form, body: ByteBuffer(string: "token=\(operatorToken)&next=/ui/runs"))
        #expect(response.status == .seeOther)
        #expect(response.headers[.location] == "/ui/runs")
        let cookie = try #require(response.headers[.setCookie])
        return String(try #require(cookie.split(separator: ";").first))
    }

    static func csrf(in page: String) throws -> String {
        let match = try #require(page.firstMatch(of: /name="csrf" value="([0-9a-f]{64})"/))
        return String(match.1)
    }

    @Test func pagesNeedALoginAndTheLoginNeedsAnOperatorToken() async throws {
        let fixture = try ServerFixture()
        try await fixture.application.test(.router) { client in
            let page = try await client.execute(uri: "/ui/events?hook=newIncident", method: .get)
            #expect(page.status == .seeOther)
            #expect(page.headers[.location] == "/ui/login?next=%2Fui%2Fevents%3Fhook%3DnewIncident")
            for (token, status, says) in [("", HTTPResponse.Status.unauthorized, "Enter an operator token"),
                                          ("not-a-token", .unauthorized, "not one of the configured tokens"),
                                          ("hook-token", .forbidden, "has role sender"), (metricsToken, .forbidden, "has role metrics")] {
                let response = try await client.execute(uri: "/ui/login", method: .post, headers: Self.form, body: ByteBuffer(string: "token=\(token)"))
                #expect(response.status == status, "\(token)")
                #expect(String(buffer: response.body).contains(says), "\(token): \(String(buffer: response.body))")
                #expect(response.headers[.setCookie] == nil)
            }
            // A stream and a form without a session are refused, not redirected.
            #expect(try await client.execute(uri: "/ui/events/stream", method: .get).status == .unauthorized)
            #expect(try await client.execute(uri: "/ui/events/evt_x/redrive", method: .post, headers: Self.form, body: ByteBuffer(string: "csrf=x")).status == .unauthorized)
            // The assets need no session: the login page uses them.
            let css = try await client.execute(uri: "/ui/assets/console.css", method: .get)
            #expect(css.status == .ok && css.headers[.contentType] == "text/css; charset=utf-8")
        }
        let metrics = fixture.state.metrics.render()
        #expect(metrics.contains(#"hookbus_auth_failures_total{route="/ui/login",reason="unknown_token"} 1"#), "\(metrics)")
        #expect(metrics.contains(#"hookbus_auth_failures_total{route="/ui/login",reason="wrong_role"} 2"#), "\(metrics)")
    }

    @Test func theSessionCookieIsHttpOnlyStrictAndSecureAwayFromLoopback() async throws {
        let fixture = try ServerFixture()
        try await fixture.application.test(.router) { client in
            let local = try await client.execute(uri: "/ui/login", method: .post, headers: Self.form, body: ByteBuffer(string: "token=\(operatorToken)"))
            let cookie = try #require(local.headers[.setCookie])
            for attribute in ["HttpOnly", "SameSite=Strict", "Path=/ui", "Max-Age=28800"] { #expect(cookie.contains(attribute), "\(cookie)") }
            #expect(!cookie.contains("Secure"), "\(cookie)")
            for authority in ["127.0.0.1:8080", "[::1]:8080", "localhost"] {
                #expect(!ConsoleRoutes.cookie(value: "x", maxAge: 1, authority: authority).secure, "\(authority)")
            }
            for authority in ["hookbus.soc.example", "10.0.0.5:8080", "127.0.0.1.evil.example", nil] {
                #expect(ConsoleRoutes.cookie(value: "x", maxAge: 1, authority: authority).secure, "\(authority ?? "nil")")
            }
            // Every console answer forbids framing, sniffing, caching and outside scripts.
            #expect(local.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
            #expect(local.headers[.contentSecurityPolicy]?.contains("frame-ancestors 'none'") == true)
            #expect(local.headers[.xContentTypeOptions] == "nosniff")
            #expect(local.headers[.cacheControl] == "no-store")
        }
    }

    @Test func formsFromAnotherSiteOrWithoutTheTokenAreRefused() async throws {
        let fixture = try ServerFixture()
        try await fixture.application.test(.router) { client in
            // Login from another site's page: refused before the token is looked at.
            for (name, value) in [(HTTPField.Name.origin, "https://evil.example"), (.secFetchSite, "cross-site")] {
                var headers = Self.form
                headers[name] = value
                let response = try await client.execute(uri: "/ui/login", method: .post, headers: headers, body: ByteBuffer(string: "token=\(operatorToken)"))
                #expect(response.status == .forbidden, "\(value)")
                #expect(response.headers[.setCookie] == nil)
            }
            let cookie = try await Self.logIn(client)
            var headers = Self.form
            headers[.cookie] = cookie
            let accepted = try await client.execute(uri: "/api/v1/hooks/newIncident", method: .post, headers: json, body: ByteBuffer(string: #"{"incidentsDetail": {"id": 3}}"#))
            let id = try #require(try JSONParser.parse(String(buffer: accepted.body))["event"]?.stringValue)
            for stored in try await fixture.store.claimPending(limit: 10) { _ = await fixture.state.engine.dispatch(stored) }
            let runsBefore = try await fixture.store.runs(RunFilter(eventID: id)).count
            for body in ["", "csrf=0000000000000000000000000000000000000000000000000000000000000000"] {
                let response = try await client.execute(uri: "/ui/events/\(id)/redrive", method: .post, headers: headers, body: ByteBuffer(string: body))
                #expect(response.status == .forbidden, "\(body)")
            }
            var crossSite = headers
            crossSite[.secFetchSite] = "same-site"
            let page = try await client.execute(uri: "/ui/events/\(id)", method: .get, headers: headers)
            let token = try Self.csrf(in: String(buffer: page.body))
            #expect(try await client.execute(uri: "/ui/events/\(id)/redrive", method: .post, headers: crossSite, body: ByteBuffer(string: "csrf=\(token)")).status == .forbidden)
            #expect(try await fixture.store.runs(RunFilter(eventID: id)).count == runsBefore, "a refused form ran something")
            // With the session's token it runs, recorded under the operator's name.
            let redriven = try await client.execute(uri: "/ui/events/\(id)/redrive", method: .post, headers: headers, body: ByteBuffer(string: "csrf=\(token)"))
            #expect(redriven.status == .seeOther)
            #expect(redriven.headers[.location] == "/ui/events/\(id)?redriven=1&waiting=0")
            let runs = try await fixture.store.runs(RunFilter(eventID: id))
            #expect(runs.count == runsBefore + 1)
            #expect(runs.first?.requestedBy == "alice" && runs.first?.attempt == 2)
            // Logging out ends the session on the server, not only in the browser.
            let out = try await client.execute(uri: "/ui/logout", method: .post, headers: headers, body: ByteBuffer(string: "csrf=\(token)"))
            #expect(out.status == .seeOther && out.headers[.setCookie]?.contains("Max-Age=0") == true)
            #expect(try await client.execute(uri: "/ui/events", method: .get, headers: headers).status == .seeOther)
        }
    }

    @Test func whatSendersPostAndTriggersPrintIsShownAsText() async throws {
        let fixture = try ServerFixture()
        try await fixture.application.test(.router) { client in
            let cookie = try await Self.logIn(client)
            let hostile = #"{"incidentsDetail": {"id": 9, "name": "<script>alert(1)</script>\"><img src=x onerror=alert(2)>"}}"#
            let accepted = try await client.execute(uri: "/api/v1/hooks/newIncident", method: .post, headers: json, body: ByteBuffer(string: hostile))
            let id = try #require(try JSONParser.parse(String(buffer: accepted.body))["event"]?.stringValue)
            let page = String(buffer: try await client.execute(uri: "/ui/events/\(id)", method: .get, headers: [.cookie: cookie]).body)
            #expect(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
            #expect(!page.contains("<script>alert") && !page.contains("<img src=x"))
            // A filter's text is echoed escaped too.
            let filtered = String(buffer: try await client.execute(uri: "/ui/events?text=%22%3E%3Cscript%3E", method: .get, headers: [.cookie: cookie]).body)
            #expect(filtered.contains("value=\"&quot;&gt;&lt;script&gt;\""), "\(filtered)")
            #expect(!filtered.contains("\"><script>"))
        }
    }

    /// A server with no operator token, opened on loopback (the README's first command): the
    /// console takes an empty token there, as the API answers without one; not otherwise.
    @Test func anOpenLoopbackServerLogsInWithoutAToken() async throws {
        let fixture = try ServerFixture(tokens: false)
        var configuration = fixture.state.configuration
        configuration.openOnLoopback = true
        let state = ServerState(engine: fixture.state.engine, configuration: configuration)
        try await Application(router: makeRouter(state: state)).test(.router) { client in
            let page = String(buffer: try await client.execute(uri: "/ui/login", method: .get).body)
            #expect(page.contains("leave the field empty"))
            let response = try await client.execute(uri: "/ui/login", method: .post, headers: Self.form, body: ByteBuffer(string: "token="))
            #expect(response.status == .seeOther)
            let cookie = String(try #require(response.headers[.setCookie]?.split(separator: ";").first))
            let events = String(buffer: try await client.execute(uri: "/ui/events", method: .get, headers: [.cookie: cookie]).body)
            #expect(events.contains(#"<span class="who" title="Your actions are recorded under this name">anonymous</span>"#))
        }
        try await fixture.application.test(.router) { client in
            let closed = try await client.execute(uri: "/ui/login", method: .post, headers: Self.form, body: ByteBuffer(string: "token="))
            #expect(closed.status == .forbidden)
            #expect(String(buffer: closed.body).contains("no operator token is configured"))
        }
    }

    /// The Health page keeps what loading the definitions said, and a reload refused.
    @Test func healthShowsDefinitionWarningsAndARefusedReload() async throws {
        let fixture = try ServerFixture()
        let warning = Diagnostic(file: "hooks/a.yaml", line: 3, column: 7, severity: .warning, message: "unknown key 'colour'")
        fixture.state.definitions.loaded([warning])
        try await fixture.application.test(.router) { client in
            let cookie = try await Self.logIn(client)
            var page = String(buffer: try await client.execute(uri: "/ui/health", method: .get, headers: [.cookie: cookie]).body)
            #expect(page.contains("hooks/a.yaml:3:7: warning: unknown key &#39;colour&#39;"), "\(page)")
            #expect(!page.contains("reload-refused"))
            fixture.state.definitions.refused(summary: "1 error", errors: [Diagnostic(file: "hooks/b.yaml", line: 1, column: 1, severity: .error, message: "bad")])
            page = String(buffer: try await client.execute(uri: "/ui/health", method: .get, headers: [.cookie: cookie]).body)
            #expect(page.contains(#"id="reload-refused""#) && page.contains("hooks/b.yaml:1:1"))
            #expect(page.contains(#"<span class="state degraded">degraded</span>"#))
        }
    }

    /// A form's inputs as an action takes them: empty means not given, a multilist's choices
    /// are joined, an unticked checkbox is false.
    @Test func actionFormValues() throws {
        let fixture = try ServerFixture()
        let location = SourceLocation(file: "x.yaml", line: 1, column: 1)
        func field(_ id: String, _ type: FieldType) -> ActionDefinition.Field {
            ActionDefinition.Field(id: id, label: nil, type: type, required: false, validator: nil, defaultValue: nil, values: [], incidentArtifacts: nil,
                                   observables: [], hint: nil, location: location)
        }
        var action = try #require(fixture.state.engine.router.catalog.integrations.first?.actions.first)
        action.fields = [field("note", .text), field("tags", .multilist), field("notify", .checkbox), field("dry", .checkbox)]
        let values = ConsolePages.fieldValues([("csrf", "x"), ("field.note", ""), ("field.tags", "a"), ("field.tags", "b"), ("field.notify", "true")], of: action)
        #expect(values == ["tags": "a,b", "notify": "true", "dry": "false"])
    }

    /// A live stream ends with its session: a logout elsewhere closes an open Events page's feed.
    @Test func aLogoutEndsTheSessionsLiveStream() async throws {
        let fixture = try ServerFixture()
        try await fixture.application.test(.router) { client in
            let cookie = try await Self.logIn(client)
            let page = try await client.execute(uri: "/ui/events", method: .get, headers: [.cookie: cookie])
            let token = try Self.csrf(in: String(buffer: page.body))
            async let streamed = client.execute(uri: "/ui/events/stream", method: .get, headers: [.cookie: cookie])
            let watching = await eventually(within: .seconds(10)) { fixture.state.feed.isWatched }
            #expect(watching)
            fixture.state.feed.publish([.event(EventSummary(cursor: 1, id: "evt_live", hook: "newIncident", sourceKind: "hook", sourceName: nil, trigger: nil,
                                                            receivedAt: Date(), state: "pending", attempt: 1, subject: "incident:5"))])
            var headers = Self.form
            headers[.cookie] = cookie
            #expect(try await client.execute(uri: "/ui/logout", method: .post, headers: headers, body: ByteBuffer(string: "csrf=\(token)")).status == .seeOther)
            let stream = try await streamed
            #expect(stream.status == .ok && stream.headers[.contentType] == "text/event-stream; charset=utf-8")
            #expect(String(buffer: stream.body).contains(#"event: event\#ndata: {"hook":"newIncident","id":"evt_live""#), "\(String(buffer: stream.body))")
            #expect(!fixture.state.feed.isWatched)
        }
    }

    /// Events stored while a page was on its way to the browser come first on its stream, and
    /// what the page already shows does not.
    @Test func theStreamStartsWithWhatThePageMissed() async throws {
        let fixture = try ServerFixture()
        try await fixture.application.test(.router) { client in
            let cookie = try await Self.logIn(client)
            func accept(_ id: Int) async throws -> String {
                let accepted = try await client.execute(uri: "/api/v1/hooks/newIncident", method: .post, headers: json, body: ByteBuffer(string: #"{"incidentsDetail": {"id": \#(id)}}"#))
                return try #require(try JSONParser.parse(String(buffer: accepted.body))["event"]?.stringValue)
            }
            let shown = try await accept(1)
            let page = String(buffer: try await client.execute(uri: "/ui/events?hook=newIncident", method: .get, headers: [.cookie: cookie]).body)
            let stream = try #require(page.firstMatch(of: /data-stream="([^"]+)"/)).1.replacingOccurrences(of: "&amp;", with: "&")
            #expect(stream.contains("after="))
            let missed = try await accept(2)
            let token = try Self.csrf(in: page)
            async let streamed = client.execute(uri: String(stream), method: .get, headers: [.cookie: cookie])
            let watching = await eventually(within: .seconds(10)) { fixture.state.feed.isWatched }
            #expect(watching)
            var headers = Self.form
            headers[.cookie] = cookie
            _ = try await client.execute(uri: "/ui/logout", method: .post, headers: headers, body: ByteBuffer(string: "csrf=\(token)"))
            let body = String(buffer: try await streamed.body)
            #expect(body.contains(#""id":"\#(missed)""#), "\(body)")
            #expect(!body.contains(shown), "\(body)")
        }
    }

    /// Any event id reaches its page: links encode it as one path segment, routes decode it.
    @Test func eventIdsOfAnyShapeHaveTheirPage() async throws {
        let fixture = try ServerFixture()
        #expect(ConsoleViews.eventPath("INC 1742#2/x?y") == "/ui/events/INC%201742%232%2Fx%3Fy")
        try await fixture.application.test(.router) { client in
            let line = #"{"id":"INC 1742#2/x","hook":"newIncident","params":{"incidentsDetail":{"id":1742}}}"#
            var importHeaders = json
            importHeaders[.contentType] = "application/x-ndjson"
            let imported = try await client.execute(uri: "/api/v1/events", method: .post, headers: importHeaders, body: ByteBuffer(string: line))
            #expect(imported.status == .ok, "\(String(buffer: imported.body))")
            // An import is stored under a new id as a replay of the one it had: its page links
            // the original id, encoded, and the route decodes what it is given.
            let id = try #require(try JSONParser.parse(String(buffer: imported.body))["results"]?.arrayValue?.first?["event"]?.stringValue)
            let cookie = try await Self.logIn(client)
            let page = String(buffer: try await client.execute(uri: ConsoleViews.eventPath(id), method: .get, headers: [.cookie: cookie]).body)
            #expect(page.contains(#"<a href="/ui/events/INC%201742%232%2Fx">INC 1742#2/x</a>"#), "\(page)")
            let missing = try await client.execute(uri: "/ui/events/INC%201742%232%2Fx", method: .get, headers: [.cookie: cookie])
            #expect(missing.status == .notFound)
            #expect(String(buffer: missing.body).contains("No event has the id &#39;INC 1742#2/x&#39;."))
        }
    }

    @Test func theLoginSendsOnlyToConsolePages() {
        #expect(ConsoleOrigin.localPath("/ui/runs?outcome=failed") == "/ui/runs?outcome=failed")
        for outside in ["https://evil.example/ui/", "//evil.example/ui/", "/ui/\\evil", "/api/v1/runs", "/ui/x\ny", nil] {
            #expect(ConsoleOrigin.localPath(outside) == "/ui/events", "\(outside ?? "nil")")
        }
    }

    @Test func sessionsExpireWhenIdleOrOldAndAreCapped() {
        let sessions = ConsoleSessions(lifetime: 100, idleLimit: 10, capacity: 2)
        let start = Date(timeIntervalSince1970: 1_000_000)
        let principal = Principal(name: "alice", role: .operator)
        let (first, _) = sessions.start(for: principal, now: start)
        #expect(sessions.session(id: first, now: start.addingTimeInterval(9)) != nil)
        #expect(sessions.session(id: first, now: start.addingTimeInterval(18)) != nil, "a request restarts the idle time")
        #expect(sessions.session(id: first, now: start.addingTimeInterval(29)) == nil, "idle for 11 s")
        let (second, _) = sessions.start(for: principal, now: start)
        for step in 1...11 { #expect(sessions.session(id: second, now: start.addingTimeInterval(Double(step * 9))) != nil || step * 9 >= 100) }
        #expect(sessions.session(id: second, now: start.addingTimeInterval(100)) == nil, "past its lifetime")
        let ids = (0..<3).map { sessions.start(for: principal, now: start.addingTimeInterval(200 + Double($0))).id }
        #expect(sessions.session(id: ids[0], now: start.addingTimeInterval(203)) == nil, "the oldest goes past the capacity")
        #expect(sessions.session(id: ids[2], now: start.addingTimeInterval(203)) != nil)
        #expect(sessions.session(id: "", now: start) == nil)
    }
}
