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

    /// The answers of the whole table and the fast path's count: pipelined on one connection
    /// (after the first request the route answers, the rest of the pipeline follows it there), or
    /// each request on a connection of its own.
    static func answers(fastPath: Bool, pipelined: Bool, backlogLimit: Int = 1000) async throws -> (answers: [String], fastPathCount: Int) {
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

    /// A full backlog is the policy's too: 503 with Retry-After on both paths.
    @Test func aFullBacklogIsRefusedAlikeOnBothPaths() async throws {
        let on = try await Self.answers(fastPath: true, pipelined: false, backlogLimit: 1)
        let off = try await Self.answers(fastPath: false, pipelined: false, backlogLimit: 1)
        #expect(on.answers == off.answers)
        #expect(on.answers.contains { $0.hasPrefix("503 ") && $0.contains("backlog_full") })
    }
}
