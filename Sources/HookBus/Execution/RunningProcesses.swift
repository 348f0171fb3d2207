import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The process groups of runs under way, with their time limits.
///
/// One watchdog task checks every deadline a few times a second, instead of a timer per run: a
/// timer task per run (start, cancel, wake-ups) costs a measurable share of a trivial run's CPU,
/// and a limit is counted in seconds, so being up to `tick` late does not matter. On expiry the
/// whole group is sent SIGTERM, then SIGKILL after the grace period.
///
/// A stopping HookBus also uses the registry to end runs instead of leaving them orphaned (each
/// run is in its own session, so it would not get our signals).
public enum RunningProcesses {
    struct Entry {
        var key: String?
        var deadline: ContinuousClock.Instant
        var grace: Duration
        var terminatedAt: ContinuousClock.Instant?
        var endedOnRequest = false
    }

    /// How a run's group was ended by HookBus, if it was.
    enum Ending {
        case timeLimit
        case request
    }

    private struct State {
        var entries: [Int32: Entry] = [:]
        var watching = false
    }

    private static let state = Mutex(State())
    static let tick = Duration.milliseconds(50)

    /// Registers a started group with its limit and grace period (both in seconds).
    /// - Parameter key: the run's event id, by which `end(key:)` finds it.
    static func add(_ group: Int32, key: String? = nil, timeLimit: Double, grace: Double) {
        let now = ContinuousClock.now
        let startWatchdog = state.withLock { state -> Bool in
            state.entries[group] = Entry(key: key, deadline: now + duration(timeLimit), grace: duration(grace))
            defer { state.watching = true }
            return !state.watching
        }
        if startWatchdog {
            Task.detached { await watch() }
        }
    }

    /// `seconds` as a duration, capped at 10^12 s (a configured limit of 1e19 would otherwise
    /// trap in the conversion; any bound past a lifetime means "no bound").
    static func duration(_ seconds: Double) -> Duration {
        .milliseconds(Int64(min(max(seconds, 0), 1e12) * 1000))
    }

    /// Unregisters a finished group; true when the watchdog ended it for running past its limit.
    @discardableResult
    static func remove(_ group: Int32) -> Ending? {
        guard let entry = state.withLock({ $0.entries.removeValue(forKey: group) }), entry.terminatedAt != nil else { return nil }
        return entry.endedOnRequest ? .request : .timeLimit
    }

    /// Ends the run with this key as a time limit would: SIGTERM now, SIGKILL after its grace
    /// period. Used when a Scheduled action with `re-execution: force` starts again.
    public static func end(key: String) {
        let now = ContinuousClock.now
        let groups = state.withLock { state -> [Int32] in
            var found: [Int32] = []
            for (group, entry) in state.entries where entry.key == key && entry.terminatedAt == nil {
                state.entries[group]?.terminatedAt = now
                state.entries[group]?.endedOnRequest = true
                found.append(group)
            }
            return found
        }
        for group in groups { kill(-group, SIGTERM) }
    }

    public static var count: Int { state.withLock { $0.entries.count } }

    /// Sends `signal` to every running group.
    public static func signalAll(_ signal: Int32) {
        for group in state.withLock({ Array($0.entries.keys) }) { kill(-group, signal) }
    }

    /// Runs while any group is registered.
    private static func watch() async {
        while true {
            try? await Task.sleep(for: tick)
            let now = ContinuousClock.now
            let (terminate, forceKill, keepWatching) = state.withLock { state -> ([Int32], [Int32], Bool) in
                var terminate: [Int32] = []
                var forceKill: [Int32] = []
                for (group, entry) in state.entries {
                    if let terminatedAt = entry.terminatedAt {
                        if now >= terminatedAt + entry.grace { forceKill.append(group) }
                    } else if now >= entry.deadline {
                        terminate.append(group)
                        state.entries[group]?.terminatedAt = now
                    }
                }
                if state.entries.isEmpty { state.watching = false }
                return (terminate, forceKill, state.watching)
            }
            for group in terminate { kill(-group, SIGTERM) }
            for group in forceKill { kill(-group, SIGKILL) }
            if !keepWatching { return }
        }
    }
}
