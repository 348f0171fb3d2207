import Foundation
import HookBus
import Synchronization

/// Refuses a timestamped signature (Slack's, Stripe's) used a second time within its tolerance
/// window: a captured request re-sent by someone else must not run its triggers again.
///
/// Only timestamped schemes are guarded. Their senders sign every delivery anew (a retry has a
/// new timestamp), so a repeat is a replay; past the window the timestamp check refuses it. A
/// signature over the body alone (GitHub's) is the same on a sender's own redelivery, which must
/// pass: those senders give a delivery id for `Idempotency-Key` instead.
///
/// Kept in memory per server: entries live as long as the tolerance (five minutes by default),
/// and only requests whose signature verified are entered, so the table holds at most the
/// signed traffic of one window.
final class SignatureReplayGuard: Sendable {
    private struct Table {
        var expiries: [[UInt8]: Date] = [:]
        var nextSweep = Date.distantPast
    }

    private let table = Mutex(Table())

    /// Enters a verified signature (`WebhookVerifier.Verified.replayKey`: its timestamp and MAC,
    /// which no two endpoints share unless they share a secret — then a request captured at one
    /// is refused at the other too); false when it was entered before and has not expired.
    func claim(_ key: [UInt8], tolerance: Double, now: Date = Date()) -> Bool {
        table.withLock { table in
            if now >= table.nextSweep {
                // Forget what has expired, at most once a second.
                table.expiries = table.expiries.filter { $0.value > now }
                table.nextSweep = now.addingTimeInterval(1)
            }
            if let expiry = table.expiries[key], expiry > now { return false }
            // Twice the tolerance: a timestamp may be that far from the moment it is checked.
            table.expiries[key] = now.addingTimeInterval(2 * tolerance)
            return true
        }
    }
}
