import Crypto
import Foundation
import HookBus
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import HookBusServer

/// A runner standing in for the process runner: the HTTP layer is under test, not processes.
struct RecordingRunner: TriggerRunner {
    func run(_ invocation: Invocation, token: String) async -> RunResult {
        RunResult(outcome: .succeeded, startedAt: Date(), endedAt: Date(), stdout: "ran \(invocation.trigger)\n")
    }
}

final class ServerFixture: Sendable {
    let folder: URL
    let state: ServerState
    let store: SQLiteStore

    /// - Parameters:
    ///   - fastPath: `server.fast_path`.
    ///   - tokens: whether `server.tokens` and `hook_token` are configured (without them, every
    ///     role's routes are closed, as a new server's are).
    init(backlogLimit: Int = 1000, maxBody: Int = 4096, fastPath: Bool = true, tokens: Bool = true) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hookbus-server-test-\(UUID().uuidString)")
        self.folder = folder
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("hooks"), withIntermediateDirectories: true)
        func write(_ name: String, _ text: String) throws { try Data(text.utf8).write(to: folder.appendingPathComponent(name)) }
        try write("hooks/int.yaml", "name: 'Tools'\nscript:\n  type: bash\nconfiguration:\n  data_attributes: {}\n")
        try write("hooks/a.yaml", "integration: 'Tools'\nname: 'On update'\ntype: Trigger\nscript:\n  code: 'echo'\nhook: [updateIncident, newIncident]\n")
        try write("hooks/b.yaml", "integration: 'Tools'\nname: 'Escalate'\ntype: Trigger\nscript:\n  code: 'echo'\ncheck_not_null_field: 'opt_92'\nhook: [incidentCustomAction]\n")
        try write("hooks/c.yaml", "integration: 'Tools'\nname: 'From alerts'\ntype: Trigger\nscript:\n  code: 'echo'\nhook: [webhook]\n")
        let tokenLines = tokens ? """
              hook_token: {env: HOOK_TOKEN}
              tokens:
                - {name: alice, role: operator, secret: {env: OPERATOR_TOKEN}}
                - {name: scraper, role: metrics, secret: {env: METRICS_TOKEN}}

            """ : ""
        try write("hookbus.yaml", """
            server:
            \(tokenLines)  fast_path: \(fastPath)
              backlog_limit: \(backlogLimit)
              max_body_bytes: \(maxBody)
            webhooks:
              github:
                auth: {scheme: hmac, header: X-Hub-Signature-256, prefix: 'sha256=', secrets: [{env: GH}]}
              slack:
                auth: {scheme: hmac, header: X-Slack-Signature, prefix: 'v0=', timestamp_header: X-Slack-Request-Timestamp, template: 'v0:{timestamp}:{body}', secrets: [{env: SLACK}]}
              tokened:
                auth: {scheme: token, query: token, secrets: [{env: HOOK_TOKEN}]}
              open:
                auth: {scheme: none}
              bearer:
                auth: {scheme: token, secrets: [{env: HOOK_TOKEN}]}
                pass_headers: [X-Event]
              small:
                auth: {scheme: none}
                max_body_bytes: 64
                content_types: [application/json, application/x-www-form-urlencoded]
            """)
        let loaded = DefinitionLoader().load([folder.appendingPathComponent("hooks").path])
        let configured = ConfigurationLoader(environment: ["HOOK_TOKEN": "hook-token", "OPERATOR_TOKEN": operatorToken, "METRICS_TOKEN": metricsToken,
                                                 "GH": "gh-secret", "SLACK": "slack-secret"])
            .load(path: folder.appendingPathComponent("hookbus.yaml").path, catalog: loaded.catalog)
        guard let configuration = configured.configuration else { throw EventError(.malformed, "\(configured.diagnostics)") }
        store = try SQLiteStore(path: folder.appendingPathComponent("data/hookbus.sqlite").path)
        let engine = Engine(store: store, router: Router(catalog: loaded.catalog, configuration: configuration), runner: RecordingRunner())
        state = ServerState(engine: engine, configuration: configuration)
    }

    deinit { try? FileManager.default.removeItem(at: folder) }

    var application: some ApplicationProtocol { Application(router: makeRouter(state: state)) }

    func storedCount() async throws -> Int { try await store.events(since: nil, onlyFailed: false, limit: 100_000).count }
}

let json: HTTPFields = [.contentType: "application/json", .authorization: "Bearer hook-token"]
let operatorToken = "operator-token-for-alice"
let metricsToken = "metrics-token-for-scraper"
/// What an operator sends: the audit trail and the hand-run routes need it.
let operatorJSON: HTTPFields = [.contentType: "application/json", .authorization: "Bearer \(operatorToken)"]
let update = #"{"incidentsBeforeUpdate": {"id": 1, "status": "open"}, "incidentsAfterUpdate": {"id": 1, "status": "closed"}}"#

func errorCode(_ response: TestResponse) -> String? {
    (try? JSONParser.parse(String(buffer: response.body)))?["error"]?["code"]?.stringValue
}

@Suite struct ServerRouteTests {
    @Test func aHookIsStoredBeforeIt202s() async throws {
        let fixture = try ServerFixture()
        try await fixture.application.test(.router) { client in
            try await client.execute(uri: "/api/v1/hooks/updateIncident", method: .post, headers: json, body: ByteBuffer(string: update)) { response in
                #expect(response.status == .accepted)
                let id = try #require((try JSONParser.parse(String(buffer: response.body)))["event"]?.stringValue)
                let stored = try #require(try await fixture.store.event(id: id))
                #expect(stored.state == .pending)
                #expect(stored.event.hook == .updateIncident)
                #expect(response.headers[.location] == "/api/v1/events/\(id)")
            }
        }
    }

    struct Refusal: Sendable, CustomTestStringConvertible {
        let name: String
        let uri: String
        let method: HTTPRequest.Method
        let headers: HTTPFields
        let body: String
        let status: HTTPResponse.Status
        let code: String
        var testDescription: String { name }
    }

    static let refusals: [Refusal] = [
        Refusal(name: "no token", uri: "/api/v1/hooks/updateIncident", method: .post, headers: [.contentType: "application/json"], body: update, status: .unauthorized, code: "unauthorized"),
        Refusal(name: "wrong token", uri: "/api/v1/hooks/updateIncident", method: .post, headers: [.contentType: "application/json", .authorization: "Bearer nope"], body: update, status: .unauthorized, code: "unauthorized"),
        Refusal(name: "malformed JSON", uri: "/api/v1/hooks/updateIncident", method: .post, headers: json, body: #"{"incidentsBeforeUpdate": {"#, status: .badRequest, code: "malformed_json"),
        Refusal(name: "unknown hook", uri: "/api/v1/hooks/closeIncidnet", method: .post, headers: json, body: "{}", status: .notFound, code: "unknown_hook"),
        Refusal(name: "wrong method", uri: "/api/v1/hooks/updateIncident", method: .get, headers: json, body: "", status: .methodNotAllowed, code: "method_not_allowed"),
        Refusal(name: "too large", uri: "/api/v1/hooks/updateIncident", method: .post, headers: json, body: "{\"x\": \"" + String(repeating: "a", count: 5000) + "\"}", status: .contentTooLarge, code: "too_large"),
        Refusal(name: "wrong content type", uri: "/api/v1/hooks/updateIncident", method: .post, headers: [.contentType: "text/plain", .authorization: "Bearer hook-token"], body: update, status: .unsupportedMediaType, code: "unsupported_media_type"),
        Refusal(name: "missing param", uri: "/api/v1/hooks/updateIncident", method: .post, headers: json, body: #"{"incidentsAfterUpdate": {"id": 1}}"#, status: .unprocessableContent, code: "missing_param"),
        Refusal(name: "ill-shaped param", uri: "/api/v1/hooks/newIncident", method: .post, headers: json, body: #"{"incidentsDetail": 7}"#, status: .unprocessableContent, code: "invalid_param"),
        Refusal(name: "unknown button", uri: "/api/v1/hooks/incidentCustomAction", method: .post, headers: json, body: #"{"incidentsDetail": {"id": 1}, "trigger": "Escalte"}"#, status: .unprocessableContent, code: "unknown_trigger"),
        Refusal(name: "unknown webhook", uri: "/api/v1/webhooks/gitlab", method: .post, headers: [.contentType: "application/json"], body: "{}", status: .notFound, code: "unknown_webhook"),
        Refusal(name: "forged GitHub signature", uri: "/api/v1/webhooks/github", method: .post, headers: [.contentType: "application/json", HTTPField.Name("X-Hub-Signature-256")!: "sha256=00"], body: "{}", status: .unauthorized, code: "unauthorized"),
        Refusal(name: "missing GitHub signature", uri: "/api/v1/webhooks/github", method: .post, headers: [.contentType: "application/json"], body: "{}", status: .unauthorized, code: "unauthorized"),
        Refusal(name: "stale Slack signature", uri: "/api/v1/webhooks/slack", method: .post,
                headers: [.contentType: "application/json", HTTPField.Name("X-Slack-Signature")!: "v0=e2db97a0994fea48059808f638b57b197cd6bc8e7cef868c3f5ff187809c861a", HTTPField.Name("X-Slack-Request-Timestamp")!: "1763800000"],
                body: "token=x&team_id=T1&command=%2Fhookbus", status: .unauthorized, code: "unauthorized"),
        Refusal(name: "wrong query token", uri: "/api/v1/webhooks/tokened?token=guess", method: .post, headers: [.contentType: "application/json"], body: "{}", status: .unauthorized, code: "unauthorized"),
        Refusal(name: "webhook body not JSON", uri: "/api/v1/webhooks/open", method: .post, headers: [.contentType: "application/json"], body: "not json", status: .badRequest, code: "malformed_json"),
        Refusal(name: "unknown event", uri: "/api/v1/events/evt_nope", method: .get, headers: operatorJSON, body: "", status: .notFound, code: "unknown_event"),
    ]

    @Test(arguments: refusals)
    func badRequestsGetAJSONErrorAndStoreNothing(_ refusal: Refusal) async throws {
        let fixture = try ServerFixture()
        try await fixture.application.test(.router) { client in
            try await client.execute(uri: refusal.uri, method: refusal.method, headers: refusal.headers, body: ByteBuffer(string: refusal.body)) { response in
                #expect(response.status == refusal.status)
                #expect(errorCode(response) == refusal.code, "\(String(buffer: response.body))")
                #expect(response.headers[.contentType] == "application/json")
            }
        }
        #expect(try await fixture.storedCount() == 0)
    }

    @Test(arguments: [("application/json", true), ("Application/JSON; charset=utf-8", true), ("application/json ;charset=UTF-8", true),
                      ("application/vnd.incidents+json", true), ("\tapplication/json", true), ("application/jsonx", false),
                      ("text/json", false), ("application/x-ndjson", false), ("", false)])
    func contentTypesAreJudgedByTheirMediaTypeAlone(_ contentType: String, accepted: Bool) async throws {
        let fixture = try ServerFixture()
        try await fixture.application.test(.router) { client in
            let headers: HTTPFields = [.contentType: contentType, .authorization: "Bearer hook-token"]
            try await client.execute(uri: "/api/v1/hooks/updateIncident", method: .post, headers: headers, body: ByteBuffer(string: update)) { response in
                #expect(response.status == (accepted ? .accepted : .unsupportedMediaType), "\(contentType): \(String(buffer: response.body))")
            }
        }
        #expect(try await fixture.storedCount() == (accepted ? 1 : 0))
    }

    @Test func webhooksKeepTheBodyByteForByteAndCheckSignatures() async throws {
        let fixture = try ServerFixture()
        let body = "{ \"action\": \"opened\",\n  \"number\": 1.50 }"
        let signature = HMAC<SHA256>.authenticationCode(for: Data(body.utf8), using: SymmetricKey(data: Data("gh-secret".utf8))).map { String(format: "%02x", $0) }.joined()
        let timestamp = String(Int(Date().timeIntervalSince1970))
        let slackBody = #"{"type":"event_callback"}"#
        let slackSignature = HMAC<SHA256>.authenticationCode(for: Data("v0:\(timestamp):\(slackBody)".utf8), using: SymmetricKey(data: Data("slack-secret".utf8))).map { String(format: "%02x", $0) }.joined()
        try await fixture.application.test(.router) { client in
            try await client.execute(uri: "/api/v1/webhooks/github", method: .post,
                                     headers: [.contentType: "application/json", HTTPField.Name("X-Hub-Signature-256")!: "sha256=\(signature)"],
                                     body: ByteBuffer(string: body)) { response in
                #expect(response.status == .accepted)
                let id = try #require((try JSONParser.parse(String(buffer: response.body)))["event"]?.stringValue)
                let stored = try #require(try await fixture.store.event(id: id))
                #expect(stored.event.params["payload"]?.raw == body)
                #expect(stored.event.webhookBody?.bytes == Array(body.utf8))
                #expect(stored.event.source == EventSource(kind: .webhook, name: "github"))
            }
            try await client.execute(uri: "/api/v1/webhooks/slack", method: .post,
                                     headers: [.contentType: "application/json", HTTPField.Name("X-Slack-Signature")!: "v0=\(slackSignature)", HTTPField.Name("X-Slack-Request-Timestamp")!: timestamp],
                                     body: ByteBuffer(string: slackBody)) { response in
                #expect(response.status == .accepted)
            }
            try await client.execute(uri: "/api/v1/webhooks/tokened?token=hook-token", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: "[]")) { response in
                #expect(response.status == .accepted)
            }
        }
        #expect(try await fixture.storedCount() == 3)
    }

    @Test func anIdempotencyKeySeenAgainReturnsTheOriginalEvent() async throws {
        let fixture = try ServerFixture()
        var keyed = json
        keyed[HTTPField.Name("Idempotency-Key")!] = "delivery-1"
        let headers = keyed
        try await fixture.application.test(.router) { client in
            let first = try await client.execute(uri: "/api/v1/hooks/updateIncident", method: .post, headers: headers, body: ByteBuffer(string: update))
            let second = try await client.execute(uri: "/api/v1/hooks/updateIncident", method: .post, headers: headers, body: ByteBuffer(string: update))
            #expect(first.status == .accepted && second.status == .accepted)
            let firstID = try JSONParser.parse(String(buffer: first.body))["event"]
            #expect(try JSONParser.parse(String(buffer: second.body))["event"] == firstID)
            #expect(try JSONParser.parse(String(buffer: second.body))["duplicate"] == .bool(true))
            #expect(second.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
        }
        #expect(try await fixture.storedCount() == 1)
    }

    @Test func aFullBacklogGets503WithRetryAfter() async throws {
        let fixture = try ServerFixture(backlogLimit: 2)
        try await fixture.application.test(.router) { client in
            for _ in 0..<2 {
                let response = try await client.execute(uri: "/api/v1/hooks/updateIncident", method: .post, headers: json, body: ByteBuffer(string: update))
                #expect(response.status == .accepted)
            }
            let refused = try await client.execute(uri: "/api/v1/hooks/updateIncident", method: .post, headers: json, body: ByteBuffer(string: update))
            #expect(refused.status == .serviceUnavailable)
            #expect(refused.headers[.retryAfter] == "5")
            #expect(errorCode(refused) == "backlog_full")
        }
        #expect(try await fixture.storedCount() == 2)
    }

    @Test func queriesButtonsHealthAndMetrics() async throws {
        let fixture = try ServerFixture()
        try await fixture.application.test(.router) { client in
            let accepted = try await client.execute(uri: "/api/v1/hooks/newIncident", method: .post, headers: json, body: ByteBuffer(string: #"{"incidentsDetail": {"id": 9}}"#))
            let id = try #require(try JSONParser.parse(String(buffer: accepted.body))["event"]?.stringValue)
            // Dispatch it as the dispatcher would.
            for stored in try await fixture.store.claimPending(limit: 10) { _ = await fixture.state.engine.dispatch(stored) }
            let event = try await client.execute(uri: "/api/v1/events/\(id)", method: .get, headers: operatorJSON)
            #expect(event.status == .ok)
            let body = try JSONParser.parse(String(buffer: event.body))
            #expect(body["state"] == .string("done"))
            // The recording runner ran 'On update' once for it.
            let eventRuns = try #require(body["runs"]?.arrayValue)
            #expect(eventRuns.count == 1)
            #expect(eventRuns.first?["trigger"] == .string("On update"))
            let runs = try await client.execute(uri: "/api/v1/runs?trigger=On%20update&outcome=succeeded", method: .get, headers: operatorJSON)
            #expect(try JSONParser.parse(String(buffer: runs.body))["runs"].map { if case let .array(list) = $0 { list.count } else { -1 } } == 1)
            let bad = try await client.execute(uri: "/api/v1/runs?limit=zero", method: .get, headers: operatorJSON)
            #expect(bad.status == .badRequest)
            let buttons = try await client.execute(uri: "/api/v1/buttons/incident", method: .post, headers: json, body: ByteBuffer(string: #"{"id": 9, "opt_92": "set"}"#))
            #expect(String(buffer: buttons.body) == #"{"buttons":[{"integration":"Tools","showModal":true,"trigger":"Escalate"}]}"#)
            let none = try await client.execute(uri: "/api/v1/buttons/incident", method: .post, headers: json, body: ByteBuffer(string: #"{"id": 9}"#))
            #expect(String(buffer: none.body) == #"{"buttons":[]}"#)
            let health = try await client.execute(uri: "/healthz", method: .get)
            #expect(health.status == .ok)
            _ = try await client.execute(uri: "/api/v1/hooks/newIncident", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: "{}"))
            let metrics = String(buffer: try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer \(metricsToken)"]).body)
            #expect(metrics.contains("hookbus_events_accepted_total 1"))
            #expect(metrics.contains(#"hookbus_auth_failures_total{route="/api/v1/hooks/{hook}",reason="missing_credentials"} 1"#), "\(metrics)")
        }
    }

    @Test func aBulkImportStoresGoodLinesOnceAndAnswersEachLine() async throws {
        let fixture = try ServerFixture(maxBody: 1 << 16)
        let lines = [
            #"{"id":"evt_1","hook":"newIncident","params":{"incidentsDetail":{"id":1}},"source":{"kind":"hook","origin":"s.jsonl:1"}}"#,
            #"{"hook":"newIncident","params":{"incidentsDetail":{"id":2}}}"#,
            "",
            #"{"id":"evt_3","hook":"noSuchHook","params":{}}"#,
            #"{"id":"evt_4","hook":"webhook","params":{"payload":{"x":1}},"source":{"kind":"webhook","name":"github"}}"#,
            #"{"id":"evt_1","hook":"newIncident","params":{"incidentsDetail":{"id":1}}}"#,
        ].joined(separator: "\n")
        let ndjson: HTTPFields = [.contentType: "application/x-ndjson", .authorization: "Bearer hook-token"]
        try await fixture.application.test(.router) { client in
            try await client.execute(uri: "/api/v1/events", method: .post, headers: ndjson, body: ByteBuffer(string: lines)) { response in
                #expect(response.status == .ok)
                let answer = try JSONParser.parse(String(buffer: response.body))
                #expect(answer["accepted"] == .number("2"))
                #expect(answer["duplicates"] == .number("1"))
                #expect(answer["rejected"] == .number("2"))
                let results = try #require(answer["results"]?.arrayValue)
                #expect(results.map { $0["line"] } == [.number("1"), .number("2"), .number("4"), .number("5"), .number("6")])
                #expect(results[1]["error"]?["code"] == .string("missing_param"))
                #expect(results[2]["error"]?["code"] == .string("unknown_hook"))
                #expect(results[4]["event"] == results[0]["event"])
                #expect(results[4]["duplicate"] == .bool(true))
                // Stored as replays of the recorded events, with their provenance.
                let firstID = try #require(results[0]["event"]?.stringValue)
                let first = try #require(try await fixture.store.event(id: firstID))
                #expect(first.event.source.kind == .replay)
                #expect(first.event.source.replayOf == "evt_1")
                #expect(first.event.source.origin == "s.jsonl:1")
                let webhookID = try #require(results[3]["event"]?.stringValue)
                let webhook = try #require(try await fixture.store.event(id: webhookID))
                #expect(webhook.event.source.name == "github")
            }
            // The same batch again stores nothing new.
            try await client.execute(uri: "/api/v1/events", method: .post, headers: ndjson, body: ByteBuffer(string: lines)) { response in
                let answer = try JSONParser.parse(String(buffer: response.body))
                #expect(answer["accepted"] == .number("0"))
                #expect(answer["duplicates"] == .number("3"))
            }
            #expect(try await fixture.storedCount() == 2)
            // Wrong content type, and no token: refused whole, nothing stored.
            try await client.execute(uri: "/api/v1/events", method: .post, headers: json, body: ByteBuffer(string: lines)) { response in
                #expect(response.status == .unsupportedMediaType)
            }
            try await client.execute(uri: "/api/v1/events", method: .post, headers: [.contentType: "application/x-ndjson"], body: ByteBuffer(string: lines)) { response in
                #expect(response.status == .unauthorized)
            }
            try await client.execute(uri: "/api/v1/events", method: .get, headers: ndjson) { response in
                #expect(response.status == .methodNotAllowed)
            }
            #expect(try await fixture.storedCount() == 2)
        }
    }
}
