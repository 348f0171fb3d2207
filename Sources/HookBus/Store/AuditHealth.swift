public import Foundation
import Synchronization

/// Whether the audit trail is being written: failures so far, and whether records are waiting
/// for a write that keeps failing. A failed write is retried until it succeeds (`RunRecorder`),
/// so nothing is lost while the store refuses for a while; this says that it is refusing, for
/// `/healthz` (degraded), the metrics (`hookbus_audit_write_failures_total`) and the logs.
public final class AuditHealth: Sendable {
    public struct Snapshot: Sendable, Equatable {
        /// Failed writes since start (each retry that fails counts).
        public var failures: Int
        /// Records waiting for a write that has failed and not yet succeeded.
        public var failing: Bool
        public var lastError: String?
        /// Records given up on: each refused on its own for longer than the store's retry
        /// limit (`RunRecorder.giveUpAfter`), logged with its run id.
        public var lost: Int
    }

    private let state = Mutex(Snapshot(failures: 0, failing: false, lastError: nil, lost: 0))

    public init() {}

    public var snapshot: Snapshot { state.withLock { $0 } }

    package func failed(_ error: any Error) {
        state.withLock { state in
            state.failures += 1
            state.failing = true
            state.lastError = "\(error)"
        }
    }

    package func lost(_ count: Int) {
        state.withLock { $0.lost += count }
    }

    /// Clears `failing`; whether it was set (checked and cleared at once).
    package func recovered() -> Bool {
        state.withLock { state in
            defer { state.failing = false }
            return state.failing
        }
    }
}
