import Foundation
import HookBus
import Logging
import PostgresNIO
import Synchronization

/// This process as a node of the cluster: its row in `nodes`, the lease it renews, and the
/// run-id salt it holds (`RunIDs`: ids are unique across nodes as long as no two live nodes
/// share a salt, and the table's unique key makes sure of that).
///
/// Every node (a server, a CLI command while it runs) renews its lease each `beat`; a node
/// whose lease ran out (`duration` without a renewal: it was killed, hung, or cut off) is
/// taken over by whichever node sweeps first: its events that were running become pending
/// again with their attempt raised, its runs `interrupted`, its claimed deferred runs waiting
/// again — within `duration + beat` of its last renewal.
///
/// A node that finds its own row gone (it was paused or cut off longer than its lease) is
/// fenced: every write that completes work checks the row in its transaction
/// (`PostgresRunWriter`), claims need it too, so it completes and claims nothing — and it does
/// not join again under a new name in the same process (its runs still under way were taken
/// over and run elsewhere; a new identity would let their late ends complete work it lost).
/// It calls `onLost` instead: the server stops, to be started again by its supervisor.
///
/// Renewals go through a connection of their own (`database` is the lease's, not the store's
/// pool): a node whose pool is busy with slow reads must not lose its lease for it.
final class NodeLease: Sendable {
    struct Identity: Sendable {
        let id: String
        let salt: Int64
        let runIDs: RunIDs
    }

    /// How long a lease lasts without renewal, and how often it is renewed. A dead node's work
    /// is taken over within `duration + beat` (the bound is 15 s).
    static let duration = Duration.seconds(8)
    static let beat = Duration.seconds(1)

    let name: String
    private let database: PostgresDatabase
    let identity: Identity
    /// Since when this node's renewals have succeeded without a gap: it sweeps others only
    /// after a whole lease of them, so a node back from a network cut (whose own lease may have
    /// run out meanwhile) does not take over nodes that were cut off with it.
    private let healthySince = Mutex<ContinuousClock.Instant?>(nil)
    private let logger: Logger
    /// Set once the lease is found gone: never cleared.
    private let lost = Mutex(false)
    private let lostHandler = Mutex<(@Sendable () -> Void)?>(nil)

    var isLost: Bool { lost.withLock { $0 } }

    /// Told (once) when this node finds its lease gone.
    func onLost(_ handler: @escaping @Sendable () -> Void) {
        lostHandler.withLock { $0 = handler }
    }
    var id: String { identity.id }

    private init(name: String, database: PostgresDatabase, identity: Identity, logger: Logger) {
        self.name = name
        self.database = database
        self.identity = identity
        healthySince.withLock { $0 = .now }
        self.logger = logger
    }

    /// Joins the cluster: a row with a free salt and a fresh lease.
    static func join(name: String, database: PostgresDatabase, logger: Logger) async throws -> NodeLease {
        NodeLease(name: name, database: database, identity: try await register(name: name, database: database), logger: logger)
    }

    private static func register(name: String, database: PostgresDatabase) async throws -> Identity {
        let id = "node_" + UUID().uuidString.lowercased()
        let now = Date().timeIntervalSince1970
        let seconds = Double(duration.components.seconds)
        // Nodes whose lease ran out free their salts first (their work is swept with them).
        for _ in 0..<5 {
            do {
                let salt: Int64? = try await database.call("join the cluster") { client in
                    let rows = try await client.query("""
                        INSERT INTO nodes (id, name, salt, started_at, lease_until)
                        SELECT \(id), \(name), s, \(now), now() + make_interval(secs => \(seconds))
                        FROM generate_series(0, 63) AS s WHERE s NOT IN (SELECT salt FROM nodes) ORDER BY s LIMIT 1
                        RETURNING salt
                        """)
                    for try await salt in rows.decode(Int64.self) { return Optional(salt) }
                    return nil
                }
                guard let salt else {
                    throw StoreQueryFailed(what: "join the cluster", detail: "all 64 run-id salts are held by live nodes: no more than 64 processes can use one database", sqlState: nil)
                }
                return Identity(id: id, salt: salt, runIDs: RunIDs(salt: salt))
            } catch let error as StoreQueryFailed where error.sqlState == "23505" {
                continue  // another node took the same salt at the same moment
            }
        }
        throw StoreQueryFailed(what: "join the cluster", detail: "no free run-id salt after five tries", sqlState: nil)
    }

    /// Renews the lease; when the row is gone, the node is lost for good (see the type).
    func renew() async {
        guard !isLost else { return }
        let id = self.id
        let seconds = Double(Self.duration.components.seconds)
        do {
            let renewed = try await database.call("renew the node's lease", limit: Self.beat * 2) { client in
                let rows = try await client.query("UPDATE nodes SET lease_until = now() + make_interval(secs => \(seconds)) WHERE id = \(id) RETURNING 1")
                for try await _ in rows.decode(Int.self) { return true }
                return false
            }
            if renewed {
                healthySince.withLock { $0 = $0 ?? .now }
                return
            }
            logger.critical("this node's lease ran out and another node took its work over: it claims and completes nothing more, and stops", metadata: ["node": "\(id)"])
            lost.withLock { $0 = true }
            healthySince.withLock { $0 = nil }
            lostHandler.withLock { $0 }?()
        } catch {
            healthySince.withLock { $0 = nil }
            logger.error("cannot renew this node's lease: \(error)", metadata: ["node": "\(id)"])
        }
    }

    /// Whether this node has renewed without a gap for a whole lease (`healthySince`).
    var maySweep: Bool {
        healthySince.withLock { since in since.map { ContinuousClock.now - $0 >= Self.duration } ?? false }
    }

    /// Leaves the cluster: the row is removed, so nobody waits for its lease to run out.
    /// Work it still held (a run a stop ended) is taken over at once by the next sweep.
    func leave() async {
        let id = self.id
        do {
            try await database.call("leave the cluster") { client in _ = try await client.query("DELETE FROM nodes WHERE id = \(id)") }
        } catch {
            logger.error("cannot remove this node's row; its lease will run out: \(error)")
        }
    }
}
