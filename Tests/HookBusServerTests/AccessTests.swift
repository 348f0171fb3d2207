import Foundation
import HookBus
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import HookBusServer

/// Every route × every kind of caller, through the router and through a live server with the
/// fast path: nothing that runs code or reads the audit trail answers 2xx without an operator
/// token, senders only reach the sender routes, and `/healthz` alone answers anyone.
@Suite struct AccessTests {
    enum Caller: String, CaseIterable, Sendable {
        case nobody, wrongToken, sender, `operator`, metrics

        var authorization: HTTPFields {
            switch self {
            case .nobody: return [:]
            case .wrongToken: return [.authorization: "Bearer not-a-configured-token"]
            case .sender: return [.authorization: "Bearer hook-token"]
            case .operator: return [.authorization: "Bearer \(operatorToken)"]
            case .metrics: return [.authorization: "Bearer \(metricsToken)"]
            }
        }
    }

    struct Route: Sendable, CustomTestStringConvertible {
        let method: HTTPRequest.Method
        let uri: String
        var contentType = "application/json"
        var body = ""
        /// The answer of a caller the route admits (another 2xx or 4xx of the route itself).
        let admitted: HTTPResponse.Status
        /// The callers the route admits.
        let admits: Set<Caller>
        /// Whether it reads the audit trail or runs code (the property the issue names).
        var sensitive = true
        var testDescription: String { "\(method) \(uri)" }

        /// What `caller` gets: the route's own answer, 401 for missing or wrong credentials, 403
        /// for a token of another role.
        func expected(for caller: Caller) -> HTTPResponse.Status {
            if admits.contains(caller) { return admitted }
            return caller == .nobody || caller == .wrongToken ? .unauthorized : .forbidden
        }
    }

    static let senders: Set<Caller> = [.sender]
    static let operators: Set<Caller> = [.operator]
    static let routes: [Route] = [
        Route(method: .post, uri: "/api/v1/hooks/updateIncident", body: update, admitted: .accepted, admits: senders),
        Route(method: .post, uri: "/api/v1/hooks/updateIncident?wait=0", body: update, admitted: .accepted, admits: senders),
        Route(method: .post, uri: "/api/v1/events", contentType: "application/x-ndjson",
              body: #"{"id":"evt_a1","hook":"newIncident","params":{"incidentsDetail":{"id":1}}}"#, admitted: .ok, admits: senders),
        Route(method: .post, uri: "/api/v1/buttons/incident", body: #"{"id": 9, "opt_92": "x"}"#, admitted: .ok, admits: senders),
        Route(method: .get, uri: "/api/v1/events/evt_unknown", admitted: .notFound, admits: operators),
        Route(method: .get, uri: "/api/v1/runs", admitted: .ok, admits: operators),
        Route(method: .post, uri: "/api/v1/integrations/Tools/test", admitted: .unprocessableContent, admits: operators),
        Route(method: .post, uri: "/api/v1/integrations/Tools/actions/On%20update/run", body: #"{"fields": {}}"#, admitted: .ok, admits: operators),
        Route(method: .post, uri: "/api/v1/schedules", body: #"{"integration": "Tools", "action": "On update"}"#, admitted: .unprocessableContent, admits: operators),
        Route(method: .get, uri: "/api/v1/schedules", admitted: .ok, admits: operators),
        Route(method: .get, uri: "/api/v1/schedules/sch_unknown", admitted: .notFound, admits: operators),
        Route(method: .post, uri: "/api/v1/events/evt_unknown/redrive", admitted: .notFound, admits: operators),
        Route(method: .get, uri: "/metrics", admitted: .ok, admits: [.operator, .metrics]),
        Route(method: .get, uri: "/healthz", admitted: .ok, admits: Set(Caller.allCases), sensitive: false),
        // Webhooks authenticate by their endpoint's scheme, not by a role: `open` has none.
        Route(method: .post, uri: "/api/v1/webhooks/open", body: "{}", admitted: .accepted, admits: Set(Caller.allCases), sensitive: false),
    ]

    enum Path: String, CaseIterable, Sendable { case router, live }

    @Test(arguments: Path.allCases)
    func everyRouteAnswersEachCallerAsItsRoleSays(_ path: Path) async throws {
        let fixture = try ServerFixture()
        let check: @Sendable (any TestClientProtocol) async throws -> Void = { client in
            for route in Self.routes {
                for caller in Caller.allCases {
                    var headers = caller.authorization
                    headers[.contentType] = route.contentType
                    let response = try await client.execute(uri: route.uri, method: route.method, headers: headers,
                                                            body: route.body.isEmpty ? nil : ByteBuffer(string: route.body))
                    let expected = route.expected(for: caller)
                    #expect(response.status == expected, "\(route.method) \(route.uri) as \(caller): \(String(buffer: response.body))")
                    if route.sensitive && caller != .operator && !route.admits.contains(caller) {
                        #expect(!(200..<300).contains(response.status.code))
                    }
                    if response.status == .unauthorized {
                        #expect(response.headers[.wwwAuthenticate] == "Bearer")
                        #expect(errorCode(response) == "unauthorized")
                    }
                    if response.status == .forbidden { #expect(errorCode(response) == "forbidden") }
                }
            }
        }
        switch path {
        case .router: try await fixture.application.test(.router, check)
        case .live: try await Application(router: makeRouter(state: fixture.state), server: .hookBus(state: fixture.state)).test(.live, check)
        }
        // Refusals are counted by route and reason.
        let metrics = fixture.state.metrics.render()
        #expect(metrics.contains(#"hookbus_auth_failures_total{route="/api/v1/runs",reason="wrong_role"} 2"#), "\(metrics)")
        #expect(metrics.contains(#"hookbus_auth_failures_total{route="/api/v1/runs",reason="missing_credentials"} 1"#))
        #expect(metrics.contains(#"hookbus_auth_failures_total{route="/api/v1/hooks/{hook}",reason="unknown_token"} 2"#))
    }

    /// With no token of a role, its routes are closed (403, saying what to configure) — the
    /// state of a new server — and only `open_on_loopback` on a loopback address opens them.
    @Test func rolesWithoutATokenAreClosedUnlessOpenedOnLoopback() async throws {
        let fixture = try ServerFixture(tokens: false)
        try await fixture.application.test(.router) { client in
            for (method, uri) in [(HTTPRequest.Method.post, "/api/v1/hooks/updateIncident"), (.get, "/api/v1/runs"), (.get, "/metrics")] {
                let response = try await client.execute(uri: uri, method: method, headers: [.contentType: "application/json"], body: ByteBuffer(string: update))
                #expect(response.status == .forbidden, "\(uri)")
                let message = try #require(try JSONParser.parse(String(buffer: response.body))["error"]?["message"]?.stringValue)
                #expect(message.contains("server.tokens") && message.contains("open_on_loopback"), "\(message)")
            }
        }
        var configuration = fixture.state.configuration
        configuration.openOnLoopback = true
        #expect(AccessPolicy(configuration).openRoles == Set(Role.allCases))
        configuration.host = "0.0.0.0"
        #expect(AccessPolicy(configuration).openRoles.isEmpty)
        #expect(AccessPolicy.startProblem(configuration)?.contains("open_on_loopback") == true)
        configuration.openOnLoopback = false
        // The fixture's `open` and `small` webhooks have no authentication: not on an address
        // others reach.
        #expect(AccessPolicy.startProblem(configuration)?.contains("has auth scheme none") == true)
        configuration.webhooks["open"] = nil
        configuration.webhooks["small"] = nil
        #expect(AccessPolicy.startProblem(configuration) == nil)
    }

    /// What an operator runs by hand carries the token's name into the audit trail.
    @Test func operatorActionsAreRecordedWithTheTokensName() async throws {
        let fixture = try ServerFixture()
        try await fixture.application.test(.router) { client in
            let run = try await client.execute(uri: "/api/v1/integrations/Tools/actions/On%20update/run", method: .post, headers: operatorJSON,
                                               body: ByteBuffer(string: #"{"fields": {}}"#))
            #expect(run.status == .ok)
            let answer = try JSONParser.parse(String(buffer: run.body))
            #expect(answer["requestedBy"] == .string("alice"))
            let runs = try await client.execute(uri: "/api/v1/runs?trigger=On%20update", method: .get, headers: operatorJSON)
            let listed = try #require(try JSONParser.parse(String(buffer: runs.body))["runs"]?.arrayValue)
            #expect(listed.count == 1)
            #expect(listed.first?["requestedBy"] == .string("alice"))
            #expect(listed.first?["run"] == answer["run"])
        }
        // Runs of a sender's events name nobody.
        try await fixture.application.test(.router) { client in
            let accepted = try await client.execute(uri: "/api/v1/hooks/newIncident", method: .post, headers: json, body: ByteBuffer(string: #"{"incidentsDetail": {"id": 3}}"#))
            let id = try #require(try JSONParser.parse(String(buffer: accepted.body))["event"]?.stringValue)
            for stored in try await fixture.store.claimPending(limit: 10) { _ = await fixture.state.engine.dispatch(stored) }
            let runs = try await fixture.store.runs(RunFilter(eventID: id))
            #expect(runs.count == 1)
            #expect(runs.first?.requestedBy == nil)
        }
    }
}
