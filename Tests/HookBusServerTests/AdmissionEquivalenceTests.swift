import Crypto
import Foundation
import HookBus
import Hummingbird
import HummingbirdTesting
import Testing
@testable import HookBusServer

/// One table of requests — accepted, every refusal of the admission policy, duplicates —
/// sent pipelined on one connection to a live server with the fast path on and with it off:
/// the answers are the same, status and body, in the same order. Event ids differ between
/// runs, so each is replaced by the order in which it first appeared.
@Suite struct AdmissionEquivalenceTests {
    static func post(_ path: String, _ body: String, fields: [String] = ["Content-Type: application/json", "Authorization: Bearer hook-token"], version: String = "HTTP/1.1") -> String {
        var head = "POST \(path) \(version)\r\nHost: localhost\r\n"
        for field in fields { head += field + "\r\n" }
        return head + "Content-Length: \(body.utf8.count)\r\n\r\n" + body
    }

    static let requests: [String] = [
        post("/api/v1/hooks/updateIncident", update),
        post("/api/v1/hooks/updateIncident", update, fields: ["Content-Type: application/json"]),
        post("/api/v1/hooks/updateIncident", update, fields: ["Content-Type: application/json", "Authorization: Bearer wrong"]),
        post("/api/v1/hooks/updateIncident", update, fields: ["Content-Type: application/json", "Authorization: Basic aG9vazp0b2tlbg=="]),
        post("/api/v1/hooks/updateIncident", update, fields: ["Content-Type: application/json", "Authorization: Bearer \(operatorToken)"]),
        post("/api/v1/hooks/updateIncident", update, fields: ["Content-Type: application/json", "Authorization: Bearer hook-token", "Authorization: Bearer hook-token"]),
        post("/api/v1/hooks/updateIncident", update, fields: ["Content-Type: text/plain", "Authorization: Bearer hook-token"]),
        post("/api/v1/hooks/updateIncident", update, fields: ["Authorization: Bearer hook-token"]),
        post("/api/v1/hooks/updateIncident", update, fields: ["Content-Type: application/json", "Content-Type: application/json", "Authorization: Bearer hook-token"]),
        post("/api/v1/hooks/updateIncident", "{\"x\": \"" + String(repeating: "a", count: 5000) + "\"}"),
        post("/api/v1/hooks/updateIncident", "{\"incidentsBeforeUpdate\": "),
        post("/api/v1/hooks/updateIncidnet", update),
        post("/api/v1/hooks/updateIncident", #"{"incidentsAfterUpdate": {"id": 1}}"#),
        post("/api/v1/hooks/newIncident", #"{"incidentsDetail": 7}"#),
        post("/api/v1/hooks/incidentCustomAction", #"{"incidentsDetail": {"id": 1}, "trigger": "Escalte"}"#),
        post("/api/v1/hooks/updateIncident", update, fields: ["Content-Type: application/json", "Authorization: Bearer hook-token", "Idempotency-Key: "]),
        post("/api/v1/hooks/updateIncident", update, fields: ["Content-Type: application/json", "Authorization: Bearer hook-token", "Idempotency-Key: \(String(repeating: "k", count: 256))"]),
        post("/api/v1/hooks/updateIncident", update, fields: ["Content-Type: application/json", "Authorization: Bearer hook-token", "Idempotency-Key: a", "Idempotency-Key: b"]),
        // A key twice: the second answer names the first event.
        post("/api/v1/hooks/updateIncident", update, fields: ["Content-Type: application/json", "Authorization: Bearer hook-token", "Idempotency-Key: change-7"]),
        post("/api/v1/hooks/updateIncident", update, fields: ["Content-Type: application/json", "Authorization: Bearer hook-token", "Idempotency-Key: change-7"]),
        post("/api/v1/hooks/newIncident", #"{"incidentsDetail": {"id": 9}}"#, fields: ["Content-Type: application/vnd.incident+json; charset=utf-8", "Authorization: bearer hook-token"]),
        post("/api/v1/hooks/incidentCustomAction", #"{"incidentsDetail": {"id": 1, "opt_92": "x"}, "trigger": "Escalate", "text": "go"}"#),
        post("/api/v1/hooks/approveTask", #"{"tasksDetail": {"id": 7}}"#),
        post("/api/v1/hooks/approveTask", #"{"tasksDetail": {"id": 8}}"#, fields: ["Content-Type: application/json", "Authorization: Bearer hook-token", "Connection: keep-alive", "Connection: keep-alive"]),
        post("/api/v1/hooks/approveTask", #"{"tasksDetail": {"id": 9}}"#, fields: ["Content-Type: application/json", "Authorization: Bearer hook-token", "Connection: keep-alive"], version: "HTTP/1.0"),
        post("/api/v1/hooks/updateIncident", update, fields: ["Content-Type: application/json", "Authorization: Bearer hook-token", "Host: attacker.example"]),
    ]

    static func hex(_ key: String, _ message: String) -> String {
        HMAC<SHA256>.authenticationCode(for: Data(message.utf8), using: SymmetricKey(data: Data(key.utf8))).map { String(format: "%02x", $0) }.joined()
    }

    static let githubBody = #"{"action":"opened","n":1}"#
    static let githubForm = "payload=%7B%22action%22%3A%22opened%22%7D&x=1"
    static let slackBody = "token=t&command=%2Fpage&text=db+down"
    static let slackTime = String(Int(Date().timeIntervalSince1970))
    static let slack = post("/api/v1/webhooks/slack", slackBody, fields: ["Content-Type: application/x-www-form-urlencoded", "X-Slack-Request-Timestamp: \(slackTime)",
                                                                            "X-Slack-Signature: v0=" + hex("slack-secret", "v0:\(slackTime):\(slackBody)")])

    /// Webhook requests: every content type, every refusal of an endpoint's steps, a replayed
    /// signature. The last one is a chunked body over the endpoint's limit (no length: only the
    /// route reads it, and a refused body may end the connection).
    static let webhookRequests: [String] = [
        post("/api/v1/webhooks/github", githubBody, fields: ["Content-Type: application/json", "X-Hub-Signature-256: sha256=" + hex("gh-secret", githubBody)]),
        post("/api/v1/webhooks/github", githubForm, fields: ["Content-Type: application/x-www-form-urlencoded", "X-Hub-Signature-256: sha256=" + hex("gh-secret", githubForm)]),
        post("/api/v1/webhooks/github", githubBody, fields: ["Content-Type: application/json", "X-Hub-Signature-256: sha256=" + hex("gh-secret", githubBody + " ")]),
        post("/api/v1/webhooks/github", githubBody, fields: ["Content-Type: application/json"]),
        slack,
        slack,
        post("/api/v1/webhooks/bearer", "a=1", fields: ["Content-Type: application/x-www-form-urlencoded", "Authorization: Bearer hook-token", "X-Event: push"]),
        post("/api/v1/webhooks/bearer", "a=1", fields: ["Content-Type: application/x-www-form-urlencoded", "Authorization: Bearer wrong"]),
        post("/api/v1/webhooks/open", "<alert/>\n", fields: ["Content-Type: application/xml"]),
        post("/api/v1/webhooks/open", "no type at all", fields: []),
        post("/api/v1/webhooks/open", "{broken", fields: ["Content-Type: application/json"]),
        post("/api/v1/webhooks/open", "--b\r\nno headers end", fields: ["Content-Type: multipart/form-data; boundary=b"]),
        post("/api/v1/webhooks/small", String(repeating: "x", count: 65), fields: ["Content-Type: application/json"]),
        post("/api/v1/webhooks/small", "plain", fields: ["Content-Type: text/plain"]),
        post("/api/v1/webhooks/smal", "{}", fields: ["Content-Type: application/json"]),
        post("/api/v1/webhooks/open", "{}", fields: ["Content-Type: application/json", "Idempotency-Key: wh-1"]),
        post("/api/v1/webhooks/open", "{}", fields: ["Content-Type: application/json", "Idempotency-Key: wh-1"]),
        "POST /api/v1/webhooks/small HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n50\r\n"
            + String(repeating: "y", count: 80) + "\r\n0\r\n\r\n",
    ]

    /// The answers of the whole table and the fast path's count: pipelined on one connection
    /// (after the first request the route answers, the rest of the pipeline follows it there), or
    /// each request on a connection of its own.
    static func answers(fastPath: Bool, pipelined: Bool, backlogLimit: Int = 1000, requests: [String] = requests) async throws -> (answers: [String], fastPathCount: Int) {
        let fixture = try ServerFixture(backlogLimit: backlogLimit, fastPath: fastPath)
        let result = try await Application(router: makeRouter(state: fixture.state), server: .hookBus(state: fixture.state)).test(.live) { client in
            let port = try #require(client.port)
            let raw: [RawHTTP.Answer]
            if pipelined {
                let text = requests.joined()
                raw = try await RawHTTP.onThread { try RawHTTP.exchange(port: port, text, answers: requests.count) }
            } else {
                var each: [RawHTTP.Answer] = []
                for request in requests { each += try await RawHTTP.onThread { try RawHTTP.exchange(port: port, request, answers: 1) } }
                raw = each
            }
            var ids: [String: String] = [:]
            return raw.map { answer in
                let body = answer.body.replacing(/evt_[0-9a-f]+/) { match in
                    let id = String(match.output)
                    if let known = ids[id] { return known }
                    ids[id] = "EVENT\(ids.count + 1)"
                    return ids[id]!
                }
                return "\(answer.status) \(body)"
            }
        }
        let metrics = fixture.state.metrics.render()
        let fast = metrics.firstMatch(of: /hookbus_events_fast_path_total ([0-9]+)/).flatMap { Int($0.1) } ?? -1
        return (result, fast)
    }

    @Test(arguments: [true, false])
    func bothPathsGiveTheSameAnswers(pipelined: Bool) async throws {
        let on = try await Self.answers(fastPath: true, pipelined: pipelined)
        let off = try await Self.answers(fastPath: false, pipelined: pipelined)
        #expect(on.answers.count == Self.requests.count)
        for (index, (fast, routed)) in zip(on.answers, off.answers).enumerated() {
            #expect(fast == routed, "request \(index): fast path on: \(fast) / off: \(routed)")
        }
        // The table is worth comparing: some answers are 202s, and both kinds of refusal occur.
        #expect(on.answers.filter { $0.hasPrefix("202 ") }.count == 9)
        #expect(on.answers[19].contains("EVENT2") && on.answers[18] == on.answers[19].replacingOccurrences(of: "true", with: "false"))
        #expect(Set(on.answers.map { $0.prefix(3) }) == ["202", "400", "401", "403", "404", "413", "415", "422"])
        // With it on, the well-formed ones took it (one by one, all but the one whose Connection
        // field is given twice); with it off, none did.
        #expect(pipelined ? on.fastPathCount >= 1 : on.fastPathCount == 8)
        #expect(off.fastPathCount == 0)
    }

    @Test(arguments: [true, false])
    func webhooksGetTheSameAnswersOnBothPaths(pipelined: Bool) async throws {
        let on = try await Self.answers(fastPath: true, pipelined: pipelined, requests: Self.webhookRequests)
        let off = try await Self.answers(fastPath: false, pipelined: pipelined, requests: Self.webhookRequests)
        #expect(on.answers.count == Self.webhookRequests.count)
        for (index, (fast, routed)) in zip(on.answers, off.answers).enumerated() {
            #expect(fast == routed, "webhook request \(index): fast path on: \(fast) / off: \(routed)")
        }
        let statuses = on.answers.map { String($0.prefix(3)) }
        #expect(statuses == ["202", "202", "401", "401", "202", "401", "202", "401", "202", "202", "400", "400", "413", "415", "404", "202", "202", "413"], "\(on.answers)")
        #expect(on.answers[16].contains("\"duplicate\":true"))
        #expect(pipelined ? on.fastPathCount >= 1 : on.fastPathCount == 8)
        #expect(off.fastPathCount == 0)
    }

    /// A full backlog is the policy's too: 503 with Retry-After on both paths.
    @Test func aFullBacklogIsRefusedAlikeOnBothPaths() async throws {
        let on = try await Self.answers(fastPath: true, pipelined: false, backlogLimit: 1)
        let off = try await Self.answers(fastPath: false, pipelined: false, backlogLimit: 1)
        #expect(on.answers == off.answers)
        #expect(on.answers.contains { $0.hasPrefix("503 ") && $0.contains("backlog_full") })
    }
}
