import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Cleaning up after a HookBus process that died without doing so (kill -9, out of memory).
///
/// A run outlives such a process: it was started in a session of its own, so no signal reached
/// it, and its time limit died with the watchdog. Its event is repeated on the next start, so an
/// orphan would run alongside its own repeat, possibly for ever, and its folder (code, and the
/// params file of a large event) would stay. The server's start ends those runs and removes
/// their folders, before it recovers the events.
extension RunFolders {
    /// What `sweepAbandoned` cleaned up.
    public struct Sweep: Sendable, Equatable {
        /// Run folders of processes that no longer exist, removed.
        public var folders = 0
        /// Processes still working for those folders' runs (orphans of the dead process), ended.
        public var processes = 0
    }

    /// Ends the runs of processes that no longer exist and removes their folders. The root is
    /// checked first, as for a run; folders of live processes and anything not named as a run
    /// folder are left alone. A process id reused by an unrelated process keeps its dead
    /// predecessor's folders until that process ends too — a leak, never a wrong removal.
    /// Process ids are those of this PID namespace: HookBus processes in different containers
    /// must not share a run root.
    ///
    /// A process belongs to a run when its working directory, `HOME` or `TMPDIR` is in the run's
    /// folder (HookBus sets all three to it; a background child that moved elsewhere keeps the
    /// environment). Found through `/proc`, so no run pays for the bookkeeping of a crash. Each
    /// is ended with SIGKILL, and with it the process group it leads (a run leads its own).
    public func sweepAbandoned() throws(RunFolderError) -> Sweep {
        try ensureRoot()
        var sweep = Sweep()
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: root) else { return sweep }
        var abandoned: [String] = []
        for name in names where name.hasPrefix(Self.folderPrefix) {
            let rest = name.dropFirst(Self.folderPrefix.count)
            guard let dash = rest.firstIndex(of: "-"), let pid = pid_t(rest[..<dash]), pid > 0 else { continue }
            // Signal 0 checks that the process exists; EPERM means it does, as another user's.
            if kill(pid, 0) == 0 || errno != ESRCH { continue }
            abandoned.append(name)
        }
        guard !abandoned.isEmpty else { return sweep }
        // The kernel reports working directories resolved; the environment holds the root as
        // configured. A place under either spelling of the root counts.
        let resolvedRoot = realpath(root, nil).map { pointer in defer { free(pointer) }; return String(cString: pointer) } ?? root
        let abandonedNames = Set(abandoned)
        let orphans = Self.processPlaces().compactMap { pid, places in
            places.contains { place in
                [root, resolvedRoot].contains { Self.runFolderName(of: place, under: $0).map(abandonedNames.contains) == true }
            } ? pid : nil
        }
        let orphanSet = Set(orphans)
        for pid in orphans {
            // A group led from elsewhere (a shell that merely stands in the folder) is not
            // HookBus's to end; a run's own group goes with its leader.
            let group = getpgid(pid)
            if group > 1 && orphanSet.contains(group) { kill(-group, SIGKILL) }
            kill(pid, SIGKILL)
            sweep.processes += 1
        }
        for name in abandoned where (try? FileManager.default.removeItem(atPath: root + "/" + name)) != nil {
            sweep.folders += 1
        }
        return sweep
    }

    /// The name of the run folder (`root/run-…`) that contains `path`, if any.
    static func runFolderName(of path: String, under root: String) -> String? {
        guard path.hasPrefix(root + "/" + folderPrefix) else { return nil }
        return String(path.dropFirst(root.count + 1).prefix { $0 != "/" })
    }

    /// For every process this user may inspect (but this one): its working directory and the
    /// values of `HOME` and `TMPDIR` in its environment (`/proc/PID/environ`, NUL-separated;
    /// unreadable for another user's process).
    static func processPlaces() -> [(pid_t, [String])] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        var found: [(pid_t, [String])] = []
        for entry in entries {
            guard let pid = pid_t(entry), pid != getpid() else { continue }
            var places: [String] = []
            if let directory = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(entry)/cwd") { places.append(directory) }
            let environment = (try? FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/\(entry)/environ")).readToEnd()) ?? nil
            for variable in environment?.split(separator: 0) ?? [] {
                let text = String(decoding: variable, as: UTF8.self)
                if text.hasPrefix("HOME=") || text.hasPrefix("TMPDIR=") { places.append(String(text.drop { $0 != "=" }.dropFirst())) }
            }
            if !places.isEmpty { found.append((pid, places)) }
        }
        return found
    }
}
