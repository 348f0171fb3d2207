import Crypto
import Foundation
import Synchronization

/// Refuses a timestamped signature (Slack's, Stripe's) used a second time: a captured request
/// re-sent by someone else must not run its triggers again.
///
/// Only timestamped schemes are guarded. Their senders sign every delivery anew (a retry has a
/// new timestamp), so a repeat is a replay; a signature over the body alone (GitHub's) is the
/// same on a sender's own redelivery, which must pass: those senders give a delivery id for
/// `Idempotency-Key` instead.
///
/// What is remembered is a digest of what was signed (`WebhookVerifier.Verified`), until its
/// timestamp leaves the tolerance window (signed at + tolerance): from then on the timestamp check
/// refuses it anyway. Entries are kept in buckets by the second they expire, so forgetting costs
/// each entry once, never a pass over the table. The table is in memory, per server, and holds
/// only requests whose signature verified: at most the signed traffic of one window.
final class SignatureReplayGuard: Sendable {
    private struct Table {
        var seen: Set<SHA256.Digest> = []
        var expiring: [Int64: [SHA256.Digest]] = [:]
        /// The next second whose bucket has not been forgotten yet.
        var swept: Int64?
    }

    private let table = Mutex(Table())

    /// Enters what was signed at `signedAt`; false when it was entered before and its window
    /// has not passed.
    func claim(_ digest: SHA256.Digest, signedAt: Double, tolerance: Double, now: Date = Date()) -> Bool {
        let second = Int64(now.timeIntervalSince1970.rounded(.down))
        let expiry = Int64((signedAt + tolerance).rounded(.up))
        return table.withLock { table in
            var next = table.swept ?? second
            // Buckets are visited once each: an idle hour is 3,600 empty look-ups.
            while next <= second {
                for old in table.expiring.removeValue(forKey: next) ?? [] { table.seen.remove(old) }
                next += 1
            }
            table.swept = next
            guard table.seen.insert(digest).inserted else { return false }
            table.expiring[max(expiry, second + 1), default: []].append(digest)
            return true
        }
    }
}
