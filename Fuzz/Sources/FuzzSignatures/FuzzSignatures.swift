import Foundation
import FuzzSupport
@testable import HookBus
@testable import HookBusServer

/// Webhook signature headers on any text: the header parsers (lists of signatures, `t=…,v1=…`
/// pairs, hex) never crash, and verification of a body under each shipped scheme answers
/// (accepted or refused) without crashing.
@_cdecl("FuzzSignatures_main")
func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { data, size in fuzzSignatures(data, size) }
}

func fuzzSignatures(_ pointer: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data = pointer else { return 0 }
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    for separator in [",", " ", ";"] { _ = WebhookVerifier.split(text, by: separator) }
    _ = WebhookVerifier.hexBytes(text)
    for scheme in schemes {
        _ = verifier.verify(scheme, header: { _ in text }, query: ["token": text], body: Array(text.utf8), now: Date())
    }
    return 0
}

let verifier = WebhookVerifier()
let secret = Secret("fuzz-secret", origin: "fuzz")
/// GitHub (hex with a prefix), Slack (a timestamp header and a template), Stripe (`t=…,v1=…`
/// with several signatures), base64 (Shopify), and a bearer token.
let schemes: [WebhookEndpoint.Authentication] = {
    var github = WebhookEndpoint.HMACScheme(header: "X-Hub-Signature-256", secrets: [secret])
    github.prefix = "sha256="
    var slack = WebhookEndpoint.HMACScheme(header: "X-Slack-Signature", secrets: [secret])
    slack.prefix = "v0="
    slack.timestampHeader = "X-Slack-Request-Timestamp"
    slack.template = "v0:{timestamp}:{body}"
    var stripe = WebhookEndpoint.HMACScheme(header: "Stripe-Signature", secrets: [secret])
    stripe.timestampField = "t"
    stripe.prefix = "v1="
    stripe.separator = ","
    stripe.template = "{timestamp}.{body}"
    var shopify = WebhookEndpoint.HMACScheme(header: "X-Shopify-Hmac-Sha256", secrets: [secret])
    shopify.encoding = .base64
    return [.hmac(github), .hmac(slack), .hmac(stripe), .hmac(shopify), .token(header: "Authorization", query: "token", secrets: [secret])]
}()
