import Crypto
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HookBus
import Testing

/// HMAC-signed webhooks against a real `hookbus serve`: the senders' own published vectors where
/// they publish one (GitHub, Slack), vectors computed here where they do not (GitHub's form mode
/// and legacy SHA-1 header, PagerDuty's key rotation, Stripe), and the refusals — each answered
/// 401 with nothing stored. Every body goes out as the exact bytes that were signed, and the
/// stored event is read back to show the server kept those bytes.
@Suite(.serialized) struct SignatureVectorTests {
    // MARK: Published vectors

    /// GitHub's example in "Validating webhook deliveries" (section "Testing the webhook payload
    /// validation"): https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
    static let githubSecret = "It's a Secret to Everybody"
    static let githubExamplePayload = "Hello, World!"
    static let githubExampleSignature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

    /// Slack's example in "Verifying requests from Slack" (a slash command, signed in July 2018):
    /// https://api.slack.com/authentication/verifying-requests-from-slack
    static let slackSecret = "8f742231b10e8888abcd99yyyzzz85a5"
    static let slackExampleTimestamp = "1531420618"
    static let slackExampleBody = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    static let slackExampleSignature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"

    // MARK: Secrets of the computed vectors

    static let pagerDutyOldKey = "pd-old-key-7c1f0e2a9b"
    static let pagerDutyNewKey = "pd-new-key-3d8e5a6f41"
    static let stripeSecret = "whsec_test_5f2b8c1e9a7d4036b2e1"
    static let stripeNextSecret = "whsec_test_next_77c0d1e2f3a4b5c6"
    static let operatorToken = "auditor-0123456789abcdef"

    // MARK: Tests

    @Test func githubsPublishedExampleIsAccepted() async throws {
        // The helper that signs every computed vector agrees with GitHub's own answer.
        #expect("sha256=" + hmacHex(.sha256, key: Self.githubSecret, message: Array(Self.githubExamplePayload.utf8)) == Self.githubExampleSignature)
        let live = try LiveServer()
        defer { live.stop() }
        // "Hello, World!" is not JSON: sent as text, as any non-JSON body may be.
        let body = Array(Self.githubExamplePayload.utf8)
        let answer = try await live.post("github", body: body, contentType: "text/plain; charset=utf-8",
                                         headers: ["X-Hub-Signature-256": Self.githubExampleSignature])
        let id = try live.expectAccepted(answer, "GitHub's documented example")
        try await live.expectStored(id, bytes: body, contentType: "text/plain; charset=utf-8")
    }

    @Test func githubJSONDeliveryIsAcceptedUnderBothSignatureHeaders() async throws {
        let live = try LiveServer()
        defer { live.stop() }
        let body = Array(Self.githubIssuesEvent.utf8)
        let headers = ["X-GitHub-Event": "issues", "X-GitHub-Delivery": "6c1a3f0e-8a2b-11f0-9d3e-2f5b7c9a0e14",
                       "User-Agent": "GitHub-Hookshot/4c2a1b9"]
        let sha256 = "sha256=" + hmacHex(.sha256, key: Self.githubSecret, message: body)
        let current = try await live.post("github", body: body, contentType: "application/json",
                                          headers: headers.merging(["X-Hub-Signature-256": sha256]) { $1 })
        let id = try live.expectAccepted(current, "an issues event signed in X-Hub-Signature-256")
        try await live.expectStored(id, bytes: body, contentType: "application/json")
        // The legacy header: HMAC-SHA1 of the same bytes, on an endpoint configured for it.
        let sha1 = "sha1=" + hmacHex(.sha1, key: Self.githubSecret, message: body)
        let legacy = try await live.post("github-legacy", body: body, contentType: "application/json",
                                         headers: headers.merging(["X-Hub-Signature": sha1]) { $1 })
        let legacyID = try live.expectAccepted(legacy, "an issues event signed in X-Hub-Signature (sha1)")
        try await live.expectStored(legacyID, bytes: body, contentType: "application/json")
    }

    /// GitHub's form mode: the JSON percent-encoded in a `payload` field, signed over the form's
    /// bytes as sent.
    @Test func githubFormModeIsSignedOverTheFormBytes() async throws {
        let live = try LiveServer()
        defer { live.stop() }
        let body = Array(("payload=" + formEncoded(Self.githubPingEvent)).utf8)
        let signature = "sha256=" + hmacHex(.sha256, key: Self.githubSecret, message: body)
        let answer = try await live.post("github", body: body, contentType: "application/x-www-form-urlencoded",
                                         headers: ["X-GitHub-Event": "ping", "X-Hub-Signature-256": signature])
        let id = try live.expectAccepted(answer, "a form-mode delivery")
        try await live.expectStored(id, bytes: body, contentType: "application/x-www-form-urlencoded")
    }

    /// PagerDuty v3 during a key rotation signs with both keys; an endpoint that knows either one
    /// accepts, one that knows neither refuses.
    @Test func pagerDutyRotationAcceptsEitherKeyAndRefusesAStranger() async throws {
        let live = try LiveServer()
        defer { live.stop() }
        let body = Array(Self.pagerDutyEvent.utf8)
        let header = "v1=" + hmacHex(.sha256, key: Self.pagerDutyOldKey, message: body) + ",v1=" + hmacHex(.sha256, key: Self.pagerDutyNewKey, message: body)
        for endpoint in ["pagerduty-old", "pagerduty-new"] {
            let answer = try await live.post(endpoint, body: body, contentType: "application/json", headers: ["X-PagerDuty-Signature": header])
            let id = try live.expectAccepted(answer, "\(endpoint) with one of the two signing keys")
            // One line of JSON is kept as `params.payload`, which the events route writes back
            // as its JSON value: compared as JSON.
            let record = try await live.storedEvent(id)
            #expect(record["params"]?["payload"] == (try JSONParser.parse(Self.pagerDutyEvent)), "\(record)")
            #expect(record["contentType"] == .string("application/json"))
        }
        let before = try await live.acceptedCount()
        let stranger = try await live.post("pagerduty-stranger", body: body, contentType: "application/json", headers: ["X-PagerDuty-Signature": header])
        live.expectRefused(stranger, "credentials do not match", "an endpoint whose key signed neither signature")
        #expect(try await live.acceptedCount() == before, "a refused delivery was stored")
    }

    @Test func slacksPublishedExampleIsAcceptedAndKeptByteForByte() async throws {
        let signed = Array("v0:\(Self.slackExampleTimestamp):\(Self.slackExampleBody)".utf8)
        #expect("v0=" + hmacHex(.sha256, key: Self.slackSecret, message: signed) == Self.slackExampleSignature)
        let live = try LiveServer()
        defer { live.stop() }
        let body = Array(Self.slackExampleBody.utf8)
        let headers = ["X-Slack-Request-Timestamp": Self.slackExampleTimestamp, "X-Slack-Signature": Self.slackExampleSignature]
        let answer = try await live.post("slack-2018", body: body, contentType: "application/x-www-form-urlencoded", headers: headers)
        let id = try live.expectAccepted(answer, "Slack's documented example")
        try await live.expectStored(id, bytes: body, contentType: "application/x-www-form-urlencoded")
        // The same request at an endpoint with Slack's usual five minutes is years too late.
        let before = try await live.acceptedCount()
        let late = try await live.post("slack", body: body, contentType: "application/x-www-form-urlencoded", headers: headers)
        live.expectRefused(late, "outside the tolerance window", "Slack's 2018 example at a 300 s endpoint")
        #expect(try await live.acceptedCount() == before, "a refused delivery was stored")
    }

    @Test func stripeStyleSignatureWithItsTimestampInTheHeader() async throws {
        let live = try LiveServer()
        defer { live.stop() }
        let body = Array(Self.stripeEvent.utf8)
        let answer = try await live.post("stripe", body: body, contentType: "application/json; charset=utf-8",
                                         headers: ["Stripe-Signature": stripeHeader(body: body, timestamp: now())])
        let id = try live.expectAccepted(answer, "a Stripe-style delivery signed now")
        try await live.expectStored(id, bytes: body, contentType: "application/json; charset=utf-8")
    }

    /// Forged, tampered and stale requests: each 401 with the JSON error, for the reason
    /// expected, and none of them stored.
    @Test func refusedRequestsAreAnswered401AndNothingIsStored() async throws {
        let live = try LiveServer()
        defer { live.stop() }
        let body = Array(Self.githubIssuesEvent.utf8)
        let before = try await live.acceptedCount()
        let failuresBefore = try await live.authenticationFailures()

        // A forged signature: GitHub's, one hex digit changed.
        let forged = try await live.post("github", body: body, contentType: "application/json",
                                         headers: ["X-Hub-Signature-256": "sha256=" + oneDigitChanged(hmacHex(.sha256, key: Self.githubSecret, message: body))])
        live.expectRefused(forged, "credentials do not match", "a GitHub signature with one digit changed")
        let stripeBody = Array(Self.stripeEvent.utf8)
        let timestamp = now()
        let stripeForged = "t=\(timestamp),v1=" + oneDigitChanged(stripeSignature(body: stripeBody, timestamp: timestamp))
        let forgedStripe = try await live.post("stripe", body: stripeBody, contentType: "application/json", headers: ["Stripe-Signature": stripeForged])
        live.expectRefused(forgedStripe, "credentials do not match", "a Stripe signature with one digit changed")

        // The body changed after signing: "opened" became "closed".
        let tampered = Array(Self.githubIssuesEvent.replacingOccurrences(of: #""action": "opened""#, with: #""action": "closed""#).utf8)
        #expect(tampered != body)
        let changed = try await live.post("github", body: tampered, contentType: "application/json",
                                          headers: ["X-Hub-Signature-256": "sha256=" + hmacHex(.sha256, key: Self.githubSecret, message: body)])
        live.expectRefused(changed, "credentials do not match", "a GitHub body changed after signing")
        let slackBody = Array("token=x&team_id=T0001&command=%2Fdeploy&text=staging".utf8)
        let slackTampered = Array("token=x&team_id=T0001&command=%2Fdeploy&text=production".utf8)
        let changedSlack = try await live.post("slack", body: slackTampered, contentType: "application/x-www-form-urlencoded",
                                               headers: slackHeaders(body: slackBody, timestamp: now()))
        live.expectRefused(changedSlack, "credentials do not match", "a Slack body changed after signing")

        // Stale: correctly signed ten minutes ago, at endpoints that allow five.
        let stale = now() - 600
        let staleStripe = try await live.post("stripe", body: stripeBody, contentType: "application/json",
                                              headers: ["Stripe-Signature": stripeHeader(body: stripeBody, timestamp: stale)])
        live.expectRefused(staleStripe, "outside the tolerance window", "a Stripe signature ten minutes old")
        let staleSlack = try await live.post("slack", body: slackBody, contentType: "application/x-www-form-urlencoded",
                                             headers: slackHeaders(body: slackBody, timestamp: stale))
        live.expectRefused(staleSlack, "outside the tolerance window", "a Slack signature ten minutes old")

        #expect(try await live.acceptedCount() == before, "a refused request was stored")
        let failures = try await live.authenticationFailures()
        #expect(failures["bad_credentials", default: 0] - failuresBefore["bad_credentials", default: 0] == 4, "\(failures)")
        #expect(failures["stale_timestamp", default: 0] - failuresBefore["stale_timestamp", default: 0] == 2, "\(failures)")
    }

    /// A timestamped signature is good for its whole tolerance window; sent a second time inside
    /// it, it is a replay and must be refused.
    @Test func aReplayedTimestampedSignatureIsRefused() async throws {
        let live = try LiveServer()
        defer { live.stop() }
        let before = try await live.acceptedCount()
        let stripeBody = Array(Self.stripeEvent.utf8)
        let stripe = ["Stripe-Signature": stripeHeader(body: stripeBody, timestamp: now())]
        let first = try await live.post("stripe", body: stripeBody, contentType: "application/json", headers: stripe)
        _ = try live.expectAccepted(first, "a Stripe-style delivery, the first time")
        let again = try await live.post("stripe", body: stripeBody, contentType: "application/json", headers: stripe)
        live.expectRefused(again, nil, "the same Stripe-style request sent again (a replay)")

        let slackBody = Array("token=x&team_id=T0001&command=%2Fdeploy&text=staging".utf8)
        let slack = slackHeaders(body: slackBody, timestamp: now())
        let firstSlack = try await live.post("slack", body: slackBody, contentType: "application/x-www-form-urlencoded", headers: slack)
        _ = try live.expectAccepted(firstSlack, "a Slack-style delivery, the first time")
        let againSlack = try await live.post("slack", body: slackBody, contentType: "application/x-www-form-urlencoded", headers: slack)
        live.expectRefused(againSlack, nil, "the same Slack-style request sent again (a replay)")

        #expect(try await live.acceptedCount() == before + 2, "only the first of each pair may be stored")
        let failures = try await live.authenticationFailures()
        #expect(failures["replayed_signature"] == 2, "\(failures)")
    }

    /// A replay is the same signature, however its header is written: the verifier reads hex in
    /// either case and a Stripe header's elements in any order and spacing, so each of these
    /// passes verification and must still be refused as a replay.
    @Test func aReplayIsRefusedWhateverTheSignatureHeaderLooksLike() async throws {
        let live = try LiveServer()
        defer { live.stop() }
        let before = try await live.acceptedCount()
        let stripeBody = Array(Self.stripeEvent.utf8)
        let timestamp = now()
        let signature = stripeSignature(body: stripeBody, timestamp: timestamp)
        let first = try await live.post("stripe", body: stripeBody, contentType: "application/json", headers: ["Stripe-Signature": "t=\(timestamp),v1=\(signature)"])
        _ = try live.expectAccepted(first, "a Stripe-style delivery, the first time")
        for variant in ["t=\(timestamp),v1=\(signature.uppercased())", "v1=\(signature),t=\(timestamp)", "t=\(timestamp), v1=\(signature)",
                        "t=\(timestamp),v1=\(signature),v1=\(signature)"] {
            let again = try await live.post("stripe", body: stripeBody, contentType: "application/json", headers: ["Stripe-Signature": variant])
            live.expectRefused(again, nil, "the first Stripe-style request replayed as 'Stripe-Signature: \(variant)'")
        }

        let slackBody = Array("token=x&team_id=T0001&command=%2Fdeploy&text=staging".utf8)
        let slack = slackHeaders(body: slackBody, timestamp: now())
        let firstSlack = try await live.post("slack", body: slackBody, contentType: "application/x-www-form-urlencoded", headers: slack)
        _ = try live.expectAccepted(firstSlack, "a Slack-style delivery, the first time")
        let upperCased = slack.merging(["X-Slack-Signature": "v0=" + slack["X-Slack-Signature"]!.dropFirst(3).uppercased()]) { $1 }
        let againSlack = try await live.post("slack", body: slackBody, contentType: "application/x-www-form-urlencoded", headers: upperCased)
        live.expectRefused(againSlack, nil, "the first Slack-style request replayed with its signature in upper-case hex")

        #expect(try await live.acceptedCount() == before + 2, "only the first Stripe-style and the first Slack-style request may be stored")
    }

    /// During a key rotation the sender signs with both keys (`v1=<old>,v1=<new>`) and the
    /// endpoint holds both: the request replayed with only one of the two signatures matches the
    /// other key, and must still be refused — what was signed is the same.
    @Test func aReplayIsRefusedWhicheverKeyOfARotationItMatches() async throws {
        let live = try LiveServer()
        defer { live.stop() }
        let body = Array(Self.stripeEvent.utf8)
        let timestamp = now()
        let signed = Array("\(timestamp).".utf8) + body
        let old = hmacHex(.sha256, key: Self.stripeSecret, message: signed)
        let next = hmacHex(.sha256, key: Self.stripeNextSecret, message: signed)
        let first = try await live.post("stripe-rotating", body: body, contentType: "application/json", headers: ["Stripe-Signature": "t=\(timestamp),v1=\(old),v1=\(next)"])
        _ = try live.expectAccepted(first, "a delivery signed with both keys of a rotation")
        for variant in ["t=\(timestamp),v1=\(next)", "t=\(timestamp),v1=\(old)"] {
            let again = try await live.post("stripe-rotating", body: body, contentType: "application/json", headers: ["Stripe-Signature": variant])
            live.expectRefused(again, nil, "the delivery replayed as 'Stripe-Signature: \(variant)'")
        }
    }

    // MARK: Signing

    func now() -> Int { Int(Date().timeIntervalSince1970) }

    /// `Stripe-Signature: t=<t>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, with a `v0=` element made
    /// with another key, as Stripe adds in test mode, which the endpoint must pass over.
    func stripeHeader(body: [UInt8], timestamp: Int) -> String {
        let other = hmacHex(.sha256, key: "whsec_some_other_key", message: Array("\(timestamp).".utf8) + body)
        return "t=\(timestamp),v1=\(stripeSignature(body: body, timestamp: timestamp)),v0=\(other)"
    }

    /// Hex HMAC-SHA256 of `"<timestamp>.<body>"` under the Stripe-style endpoint's secret.
    func stripeSignature(body: [UInt8], timestamp: Int) -> String {
        hmacHex(.sha256, key: Self.stripeSecret, message: Array("\(timestamp).".utf8) + body)
    }

    /// Slack's headers: the timestamp, and `v0=<hex HMAC-SHA256 of "v0:<timestamp>:<body>">`.
    func slackHeaders(body: [UInt8], timestamp: Int) -> [String: String] {
        let signed = Array("v0:\(timestamp):".utf8) + body
        return ["X-Slack-Request-Timestamp": String(timestamp), "X-Slack-Signature": "v0=" + hmacHex(.sha256, key: Self.slackSecret, message: signed)]
    }

    // MARK: Bodies (made up for these tests, in the senders' shapes)

    /// An `issues` delivery, pretty-printed, with what a re-encoding would change: non-ASCII
    /// text, `\u` and `\/` escapes, CR LF inside a string, a trailing newline.
    static let githubIssuesEvent = #"""
    {
      "action": "opened",
      "issue": {
        "url": "https:\/\/api.github.com\/repos\/octo-org\/hookbus-demo\/issues\/42",
        "number": 42,
        "title": "Webhook café — signature mismatch 🚨",
        "user": {"login": "octocat", "id": 583231, "type": "User"},
        "labels": [{"name": "bug", "color": "d73a4a"}],
        "state": "open",
        "body": "Steps:\r\n1. send \"Hello\"\r\n2. compare \u00e9 and é\r\n",
        "created_at": "2026-03-02T09:14:07Z"
      },
      "repository": {"id": 1296269, "full_name": "octo-org/hookbus-demo", "private": false},
      "sender": {"login": "octocat", "id": 583231}
    }

    """#

    /// A `ping` delivery, compact, for form mode.
    static let githubPingEvent = #"{"zen":"Design for failure & keep it logically awesome.","hook_id":109948940,"hook":{"type":"Repository","events":["issues","push"],"config":{"content_type":"form","url":"https://hookbus.example/api/v1/webhooks/github?x=1+2"}},"repository":{"full_name":"octo-org/hookbus-demo"}}"#

    /// A PagerDuty v3 `incident.triggered` event on one line.
    static let pagerDutyEvent = #"{"event":{"id":"01DEN3SYI6OJOS6BKX2QZ1JQF5","event_type":"incident.triggered","resource_type":"incident","occurred_at":"2026-03-02T09:15:00.123Z","agent":null,"client":null,"data":{"id":"Q2LOH0MVLN7DEN","type":"incident","html_url":"https://acme.pagerduty.com/incidents/Q2LOH0MVLN7DEN","number":1184,"status":"triggered","title":"Disk 95% on db-02","urgency":"high"}}}"#

    /// A Stripe-style event, pretty-printed as Stripe sends it.
    static let stripeEvent = """
    {
      "id": "evt_1Q2w3E4r5T6y7U8i",
      "object": "event",
      "api_version": "2024-06-20",
      "created": 1772443200,
      "data": {
        "object": {
          "id": "pi_3Q2w3E4r5T6y7U8i",
          "object": "payment_intent",
          "amount": 4200,
          "currency": "eur",
          "status": "succeeded"
        }
      },
      "livemode": false,
      "type": "payment_intent.succeeded"
    }
    """
}

// MARK: - Helpers

enum HMACAlgorithm { case sha1, sha256 }

/// Lower-case hex of the HMAC of `message` under `key` (the key's UTF-8 bytes, as every sender
/// here uses its secret).
func hmacHex(_ algorithm: HMACAlgorithm, key: String, message: [UInt8]) -> String {
    let key = SymmetricKey(data: Array(key.utf8))
    let mac: [UInt8]
    switch algorithm {
    case .sha1: mac = Array(HMAC<Insecure.SHA1>.authenticationCode(for: message, using: key))
    case .sha256: mac = Array(HMAC<SHA256>.authenticationCode(for: message, using: key))
    }
    let digits = Array("0123456789abcdef".utf8)
    return String(decoding: mac.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0F)]] }, as: UTF8.self)
}

/// `hex` with its first digit changed: a signature of the right shape that does not match.
func oneDigitChanged(_ hex: String) -> String {
    (hex.first == "0" ? "1" : "0") + hex.dropFirst()
}

/// `application/x-www-form-urlencoded` encoding of a field value (space as `+`, everything but
/// letters, digits and `*-._` percent-encoded), as GitHub's form mode sends its JSON.
func formEncoded(_ text: String) -> String {
    var output = ""
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "*"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"):
            output.append(Character(UnicodeScalar(byte)))
        case UInt8(ascii: " "):
            output += "+"
        default:
            output += "%" + String(byte >> 4, radix: 16, uppercase: true) + String(byte & 0x0F, radix: 16, uppercase: true)
        }
    }
    return output
}

/// One `hookbus serve` with every endpoint the vectors need, an operator token to read events
/// and metrics back, and no open routes.
final class LiveServer: @unchecked Sendable {
    let scratch = Scratch()
    let server: ServerProcess

    struct Answer {
        let status: Int
        let json: JSONValue?
        let text: String
    }

    static let configuration = """
        server:
          tokens:
            - {name: auditor, role: operator, secret: {env: OPERATOR_TOKEN}}
        webhooks:
          github:
            auth: {scheme: hmac, algorithm: sha256, header: X-Hub-Signature-256, prefix: 'sha256=', secrets: [{env: GITHUB_SECRET}]}
          github-legacy:
            auth: {scheme: hmac, algorithm: sha1, header: X-Hub-Signature, prefix: 'sha1=', secrets: [{env: GITHUB_SECRET}]}
          pagerduty-old:
            auth: {scheme: hmac, header: X-PagerDuty-Signature, prefix: 'v1=', separator: ',', secrets: [{env: PAGERDUTY_OLD_KEY}]}
          pagerduty-new:
            auth: {scheme: hmac, header: X-PagerDuty-Signature, prefix: 'v1=', separator: ',', secrets: [{env: PAGERDUTY_NEW_KEY}]}
          pagerduty-stranger:
            auth: {scheme: hmac, header: X-PagerDuty-Signature, prefix: 'v1=', separator: ',', secrets: [{env: PAGERDUTY_OTHER_KEY}]}
          # Slack's published example was signed in July 2018: a tolerance of 400,000,000 s
          # (about 12.7 years) reaches back to it until 2031, so the published vector is checked
          # as published rather than re-signed with a current timestamp.
          # Nothing but that vector should use this endpoint; 'slack' below has the usual 300 s.
          slack-2018:
            auth: {scheme: hmac, header: X-Slack-Signature, prefix: 'v0=', timestamp_header: X-Slack-Request-Timestamp,
                   template: 'v0:{timestamp}:{body}', tolerance: 400000000, secrets: [{env: SLACK_SIGNING_SECRET}]}
          slack:
            auth: {scheme: hmac, header: X-Slack-Signature, prefix: 'v0=', timestamp_header: X-Slack-Request-Timestamp,
                   template: 'v0:{timestamp}:{body}', tolerance: 300, secrets: [{env: SLACK_SIGNING_SECRET}]}
          stripe:
            auth: {scheme: hmac, header: Stripe-Signature, timestamp_field: t, prefix: 'v1=', template: '{timestamp}.{body}',
                   tolerance: 300, secrets: [{env: STRIPE_SECRET}]}
          stripe-rotating:
            auth: {scheme: hmac, header: Stripe-Signature, timestamp_field: t, prefix: 'v1=', template: '{timestamp}.{body}',
                   tolerance: 300, secrets: [{env: STRIPE_SECRET}, {env: STRIPE_NEXT_SECRET}]}

        """

    init() throws {
        scratch.write("hookbus.yaml", Self.configuration)
        try FileManager.default.createDirectory(at: scratch.url.appendingPathComponent("hooks"), withIntermediateDirectories: true)
        let environment = [
            "OPERATOR_TOKEN": SignatureVectorTests.operatorToken,
            "GITHUB_SECRET": SignatureVectorTests.githubSecret,
            "PAGERDUTY_OLD_KEY": SignatureVectorTests.pagerDutyOldKey,
            "PAGERDUTY_NEW_KEY": SignatureVectorTests.pagerDutyNewKey,
            "PAGERDUTY_OTHER_KEY": "pd-unrelated-key-0a9b8c7d",
            "SLACK_SIGNING_SECRET": SignatureVectorTests.slackSecret,
            "STRIPE_SECRET": SignatureVectorTests.stripeSecret,
            "STRIPE_NEXT_SECRET": SignatureVectorTests.stripeNextSecret,
        ]
        server = try ServerProcess(directory: scratch.path, arguments: ["--hooks", "hooks"], environment: environment, openOnLoopback: false)
    }

    func stop() { server.stop() }

    /// POSTs `body` exactly as given to `/api/v1/webhooks/<endpoint>`. URLSession sends
    /// `httpBody` as it is; `expectStored` shows the server received those very bytes.
    func post(_ endpoint: String, body: [UInt8], contentType: String, headers: [String: String]) async throws -> Answer {
        var request = URLRequest(url: URL(string: server.base + "/api/v1/webhooks/" + endpoint)!)
        request.httpMethod = "POST"
        request.timeoutInterval = 30
        request.httpBody = Data(body)
        request.setValue(contentType, forHTTPHeaderField: "Content-Type")
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        return try await send(request)
    }

    /// A GET with the operator token.
    func get(_ path: String) async throws -> Answer {
        var request = URLRequest(url: URL(string: server.base + path)!)
        request.timeoutInterval = 30
        request.setValue("Bearer " + SignatureVectorTests.operatorToken, forHTTPHeaderField: "Authorization")
        return try await send(request)
    }

    private func send(_ request: URLRequest) async throws -> Answer {
        let (data, response) = try await URLSession.shared.data(for: request)
        let text = String(decoding: data, as: UTF8.self)
        return Answer(status: (response as! HTTPURLResponse).statusCode, json: try? JSONParser.parse(text), text: text)
    }

    /// The id of the event a 202 answer names; a failure, with the answer and the server's log, otherwise.
    func expectAccepted(_ answer: Answer, _ what: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> String {
        #expect(answer.status == 202, "\(what): expected 202, got \(answer.status) \(answer.text)\n\(server.log)", sourceLocation: sourceLocation)
        return try #require(answer.json?["event"]?.stringValue, "\(what): no event id in \(answer.text)", sourceLocation: sourceLocation)
    }

    /// A 401 with `{"error": {"code": "unauthorized", "message": …}}`, the message naming
    /// `reason` when one is given.
    func expectRefused(_ answer: Answer, _ reason: String?, _ what: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        #expect(answer.status == 401, "\(what): expected 401, got \(answer.status) \(answer.text)", sourceLocation: sourceLocation)
        #expect(answer.json?["error"]?["code"] == .string("unauthorized"), "\(what): \(answer.text)", sourceLocation: sourceLocation)
        if let reason {
            #expect(answer.json?["error"]?["message"]?.stringValue?.contains(reason) == true, "\(what): expected '\(reason)' in \(answer.text)",
                    sourceLocation: sourceLocation)
        }
    }

    /// The stored record of event `id` (`GET /api/v1/events/{id}`'s `event`).
    func storedEvent(_ id: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) async throws -> JSONValue {
        let answer = try await get("/api/v1/events/\(id)")
        #expect(answer.status == 200, "event \(id): \(answer.status) \(answer.text)", sourceLocation: sourceLocation)
        return try #require(answer.json?["event"], "event \(id): \(answer.text)", sourceLocation: sourceLocation)
    }

    /// The stored event has exactly `bytes` (its `payloadText` or `payloadBase64`: bodies that
    /// are not one line of JSON are recorded so) and the content type as sent.
    func expectStored(_ id: String, bytes: [UInt8], contentType: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) async throws {
        let record = try await storedEvent(id, sourceLocation: sourceLocation)
        #expect(record["contentType"] == .string(contentType), "event \(id): \(record)", sourceLocation: sourceLocation)
        let stored: [UInt8]? = if let text = record["payloadText"]?.stringValue {
            Array(text.utf8)
        } else if let base64 = record["payloadBase64"]?.stringValue {
            Data(base64Encoded: base64).map { [UInt8]($0) }
        } else {
            nil
        }
        #expect(stored == bytes, "event \(id) does not keep the body byte for byte:\nsent:   \(String(decoding: bytes, as: UTF8.self).debugDescription)\nstored: \(record)",
                sourceLocation: sourceLocation)
    }

    /// `hookbus_events_accepted_total`: events stored and answered 202.
    func acceptedCount(sourceLocation: Testing.SourceLocation = #_sourceLocation) async throws -> Int {
        let answer = try await get("/metrics")
        #expect(answer.status == 200, "/metrics: \(answer.status) \(answer.text)", sourceLocation: sourceLocation)
        return try #require(metric("hookbus_events_accepted_total", in: answer.text), "\(answer.text)", sourceLocation: sourceLocation)
    }

    /// `hookbus_auth_failures_total` summed by reason over its routes.
    func authenticationFailures() async throws -> [String: Int] {
        let answer = try await get("/metrics")
        var counts: [String: Int] = [:]
        for line in answer.text.split(separator: "\n") where line.hasPrefix("hookbus_auth_failures_total{") {
            guard let reason = line.firstMatch(of: /reason="([a-z_]+)"/)?.1, let value = line.split(separator: " ").last.flatMap({ Double($0) }) else { continue }
            counts[String(reason), default: 0] += Int(value)
        }
        return counts
    }
}
