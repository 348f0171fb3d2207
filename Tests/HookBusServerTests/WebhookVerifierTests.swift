import Foundation
import HookBus
import Testing
@testable import HookBusServer

/// The published signature schemes, checked against vectors computed independently (Python's
/// `hmac` module) for fixed secrets, bodies and times.
@Suite struct WebhookVerifierTests {
    let verifier = WebhookVerifier()
    let githubBody = Array(#"{"action":"opened","alert":{"rule":{"description":"Leaked token","severity":"high"}}}"#.utf8)
    let pagerDutyBody = Array(#"{"event":{"event_type":"incident.triggered","data":{"title":"DB down","urgency":"high"}}}"#.utf8)
    let slackBody = Array("token=x&team_id=T1&command=%2Fhookbus".utf8)
    let stripeBody = Array(#"{"id":"evt_1","type":"charge.failed"}"#.utf8)
    let signedAt = Date(timeIntervalSince1970: 1_763_800_000)

    func scheme(_ header: String, secrets: [String], configure: (inout WebhookEndpoint.HMACScheme) -> Void = { _ in }) -> WebhookEndpoint.Authentication {
        var scheme = WebhookEndpoint.HMACScheme(header: header, secrets: secrets.map { Secret($0, origin: "test") })
        configure(&scheme)
        return .hmac(scheme)
    }

    /// nil when the request passes, else why it failed.
    func check(_ auth: WebhookEndpoint.Authentication, _ headers: [String: String], body: [UInt8], query: [String: String] = [:], now: Date? = nil) -> WebhookVerifier.Failure? {
        switch verifier.verify(auth, header: { name in headers.first { $0.key.lowercased() == name.lowercased() }?.value }, query: query, body: body, now: now ?? signedAt) {
        case .success: return nil
        case let .failure(failure): return failure
        }
    }

    var github: WebhookEndpoint.Authentication { scheme("X-Hub-Signature-256", secrets: ["gh-secret"]) { $0.prefix = "sha256=" } }

    @Test func gitHubSHA256() {
        #expect(check(github, ["X-Hub-Signature-256": "sha256=5ddd96c6510c7aa99bb5ab94f54bbceca3a8547566ddca220192cd946d0e9d23"], body: githubBody) == nil)
        // Forged: one hex digit changed; a body changed by one byte; missing header; no prefix.
        #expect(check(github, ["X-Hub-Signature-256": "sha256=5ddd96c6510c7aa99bb5ab94f54bbceca3a8547566ddca220192cd946d0e9d24"], body: githubBody) == Optional(.badCredentials))
        #expect(check(github, ["X-Hub-Signature-256": "sha256=5ddd96c6510c7aa99bb5ab94f54bbceca3a8547566ddca220192cd946d0e9d23"], body: githubBody + [0x20]) == Optional(.badCredentials))
        #expect(check(github, [:], body: githubBody) == Optional(.missingCredentials("X-Hub-Signature-256 header")))
        #expect(check(github, ["X-Hub-Signature-256": "5ddd96c6510c7aa99bb5ab94f54bbceca3a8547566ddca220192cd946d0e9d23"], body: githubBody) == Optional(.malformed("X-Hub-Signature-256 (expected 'sha256=<signature>')")))
    }

    @Test func gitHubLegacySHA1AndSHA512Base64() {
        let sha1 = scheme("X-Hub-Signature", secrets: ["gh-secret"]) { $0.prefix = "sha1="; $0.algorithm = .sha1 }
        #expect(check(sha1, ["X-Hub-Signature": "sha1=6f40baa99d7f87f38f7660eaec6e57365cc66d2e"], body: githubBody) == nil)
        let sha512 = scheme("X-Signature", secrets: ["gh-secret"]) { $0.algorithm = .sha512; $0.encoding = .base64 }
        #expect(check(sha512, ["X-Signature": "86/xU8cAurS2pFZ3zAX0N6OfTIlMWjrHBRRDu2DOnPFAMrjPM5sgFk6J5uPZzpHUPjRLLinbCIeHwxzoeMwGwg=="], body: githubBody) == nil)
    }

    @Test func pagerDutyWithKeyRotation() {
        let old = "v1=cb8f1a035dd06d6870d8b39425d06096f7d3ffa69988838fe4311a461e5d794a"
        let new = "v1=4244e830f29269bb0a8c5bbf7b24180f0fb8308781c11e14e4e0ef279536925c"
        // The sender signs with both keys during a rotation; we know only the new one.
        let onlyNew = scheme("X-PagerDuty-Signature", secrets: ["pd-new"]) { $0.prefix = "v1="; $0.separator = "," }
        #expect(check(onlyNew, ["X-PagerDuty-Signature": "\(old),\(new)"], body: pagerDutyBody) == nil)
        // We know both keys, the sender still signs with the old one only.
        let both = scheme("X-PagerDuty-Signature", secrets: ["pd-new", "pd-old"]) { $0.prefix = "v1="; $0.separator = "," }
        #expect(check(both, ["X-PagerDuty-Signature": old], body: pagerDutyBody) == nil)
        #expect(check(onlyNew, ["X-PagerDuty-Signature": old], body: pagerDutyBody) == Optional(.badCredentials))
    }

    @Test func slackWithTimestampWindow() {
        let slack = scheme("X-Slack-Signature", secrets: ["slack-secret"]) {
            $0.prefix = "v0="; $0.timestampHeader = "X-Slack-Request-Timestamp"; $0.template = "v0:{timestamp}:{body}"; $0.toleranceSeconds = 300
        }
        let headers = ["X-Slack-Signature": "v0=e2db97a0994fea48059808f638b57b197cd6bc8e7cef868c3f5ff187809c861a", "X-Slack-Request-Timestamp": "1763800000"]
        #expect(check(slack, headers, body: slackBody, now: signedAt.addingTimeInterval(120)) == nil)
        // Stale (replayed ten minutes later), and a timestamp moved to pass the window.
        #expect(check(slack, headers, body: slackBody, now: signedAt.addingTimeInterval(600)) == Optional(.staleTimestamp))
        var moved = headers
        moved["X-Slack-Request-Timestamp"] = "1763800500"
        #expect(check(slack, moved, body: slackBody, now: signedAt.addingTimeInterval(600)) == Optional(.badCredentials))
        #expect(check(slack, ["X-Slack-Signature": headers["X-Slack-Signature"]!], body: slackBody) == Optional(.missingCredentials("X-Slack-Request-Timestamp header")))
    }

    @Test func stripeStyleTimestampInTheSignatureHeader() {
        let stripe = scheme("Stripe-Signature", secrets: ["whsec_test"]) { $0.prefix = "v1="; $0.timestampField = "t"; $0.template = "{timestamp}.{body}" }
        let header = "t=1763800000,v1=5bfeba422f03f689ef7cc563a27aa1cf598e81b177d6813f8ef3a5c712749320,v0=deadbeef"
        #expect(check(stripe, ["Stripe-Signature": header], body: stripeBody) == nil)
        #expect(check(stripe, ["Stripe-Signature": header], body: stripeBody, now: signedAt.addingTimeInterval(3600)) == Optional(.staleTimestamp))
    }

    @Test func staticTokensInAHeaderOrTheQuery() {
        let bearer = WebhookEndpoint.Authentication.token(header: "Authorization", query: nil, secrets: [Secret("tok-1", origin: "t")])
        #expect(check(bearer, ["Authorization": "Bearer tok-1"], body: []) == nil)
        #expect(check(bearer, ["Authorization": "Bearer tok-2"], body: []) == Optional(.badCredentials))
        #expect(check(bearer, ["Authorization": "tok-1"], body: []) == Optional(.malformed("Authorization header (expected 'Bearer <token>')")))
        let custom = WebhookEndpoint.Authentication.token(header: "X-Token", query: "token", secrets: [Secret("tok-1", origin: "t")])
        #expect(check(custom, ["X-Token": "tok-1"], body: []) == nil)
        #expect(check(custom, [:], body: [], query: ["token": "tok-1"]) == nil)
        #expect(check(custom, [:], body: [], query: ["token": "tok-"]) == Optional(.badCredentials))
    }

    @Test func constantTimeComparisonIsCorrect() {
        #expect(WebhookVerifier.constantTimeEquals([1, 2, 3], [1, 2, 3]))
        #expect(!WebhookVerifier.constantTimeEquals([1, 2, 3], [1, 2]))
        #expect(!WebhookVerifier.constantTimeEquals([1, 2, 3], [1, 2, 4]))
        #expect(!WebhookVerifier.constantTimeEquals([], [0]))
    }
}
