import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The process groups of runs under way, so that a stopping HookBus can end them instead of
/// leaving them orphaned (each run is in its own session, so it would not get our signals).
public enum RunningProcesses {
    private static let groups = Mutex<Set<Int32>>([])

    static func add(_ group: Int32) { _ = groups.withLock { $0.insert(group) } }
    static func remove(_ group: Int32) { _ = groups.withLock { $0.remove(group) } }

    public static var count: Int { groups.withLock { $0.count } }

    /// Sends `signal` to every running group.
    public static func signalAll(_ signal: Int32) {
        for group in groups.withLock({ $0 }) { kill(-group, signal) }
    }
}
