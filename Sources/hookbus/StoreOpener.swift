import Foundation
import HookBus
import HookBusPostgres
import Synchronization

/// The one place the commands open the configured store (`store:` in `hookbus.yaml`): the
/// SQLite file in `data_dir`, or the shared PostgreSQL database as a node of its own.
///
/// A PostgreSQL store is a node of the cluster while it is open (a lease, a run-id salt of 64):
/// every store opened here is closed when the command ends (`closeAll`, from `Entry.main`, on
/// every path out), so that a script that runs `hookbus fire` in a loop does not leave dead
/// nodes behind holding salts until their leases run out.
enum StoreOpener {
    private static let open = Mutex<[PostgresStore]>([])

    /// Opens the store of `configuration`. `node` names a PostgreSQL node (default: this host
    /// and this process's pid; the configuration's `store.node` wins).
    /// - Parameter stopsWhenFenced: a server stops (SIGTERM to itself: the graceful stop) when
    ///   its node finds its lease gone and its work run by another node (`NodeLease`); its
    ///   supervisor starts it again as a new node. A command only says so and ends.
    static func open(_ configuration: HookBusConfiguration, node: String? = nil, stopsWhenFenced: Bool = false) async throws -> any EventStore {
        switch configuration.store {
        case .sqlite:
            return try SQLiteStore(path: configuration.databasePath)
        case let .postgres(url, configuredName, connections, acceptWriters):
            guard url.isResolved else { throw CommandFailure("the store's URL (\(url.origin)) was not read") }
            let store = try await PostgresStore.open(url: url.reveal(), name: configuredName ?? node, connections: connections,
                                                 acceptWriters: acceptWriters)
            Self.open.withLock { $0.append(store) }
            if stopsWhenFenced { store.onLeaseLost { kill(getpid(), SIGTERM) } }
            return store
        }
    }

    /// Where the store is, for messages (never a password).
    static func describe(_ configuration: HookBusConfiguration) -> String {
        switch configuration.store {
        case .sqlite: configuration.databasePath
        case let .postgres(url, _, _, _): (try? PostgresURL(url.reveal()).redacted) ?? "PostgreSQL (\(url.origin))"
        }
    }

    /// Whether there is a trail to read at all (a SQLite file not yet made has none).
    static func exists(_ configuration: HookBusConfiguration) -> Bool {
        guard case .sqlite = configuration.store else { return true }
        return FileManager.default.fileExists(atPath: configuration.databasePath)
    }

    /// Closes every store opened here: their last run records written, their nodes gone.
    static func closeAll() async {
        for store in Self.open.withLock({ stores in defer { stores.removeAll() }; return stores }) {
            await store.close()
        }
    }
}
