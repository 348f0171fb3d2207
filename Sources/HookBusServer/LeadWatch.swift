public import HookBus
public import Logging
import Synchronization

/// Whether this node runs a role's single-instance work now (the daemons, the schedules):
/// asked of the store once a second — which, when shared by several nodes, gives each role to
/// one node at a time and moves it when that node dies (`EventStore.holdsLead`) — and
/// remembered, so the work's own loops only read a flag.
public final class LeadWatch: Sendable {
    let role: String
    private let store: any EventStore
    private let logger: Logger
    private let held = Atomic<Bool>(false)

    public init(role: String, store: any EventStore, logger: Logger) {
        self.role = role
        self.store = store
        self.logger = logger
    }

    public var isHeld: Bool { held.load(ordering: .relaxed) }

    /// Asks once now; what the loops wait on before their first run.
    func check() async {
        let now: Bool
        do { now = try await store.holdsLead(role) } catch {
            // Unsure whether the lead is still ours: the work stops rather than run twice.
            logger.error("cannot tell whether this node runs the \(role): \(error)")
            now = false
        }
        let before = held.exchange(now, ordering: .relaxed)
        if now != before { logger.notice(now ? "this node runs the \(role) now" : "another node runs the \(role) now") }
    }

    /// Asks once a second until cancelled.
    func keep() async {
        while !Task.isCancelled {
            await check()
            try? await Task.sleep(for: .seconds(1))  // cancelled: the loop ends
        }
    }
}
