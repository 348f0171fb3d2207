public import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Where the per-run folders go, and the checks that keep that place private.
///
/// A run folder lives for as long as a trigger runs (milliseconds for most). On a journaling
/// disk, making a folder and a file and removing both costs about 200 µs of wall time and
/// 130 µs of CPU here (ext4 mounted with `discard`), more than a quarter of starting bash; on a
/// memory-backed filesystem it costs 30 µs. So by default run folders go to memory: `$TMPDIR`
/// (or `/tmp`) when it is already tmpfs, as on most current distributions, else `/dev/shm`, else
/// `$TMPDIR` on disk. The price is that a trigger writing very large files to its `TMPDIR` uses
/// memory; `runner.run_dir` puts run folders on a disk folder for such triggers.
///
/// The root is shared ground (`/tmp`, `/dev/shm`), so it is named after the user and used only
/// when it is a real folder (not a link) owned by this user and writable by nobody else;
/// otherwise runs fail with a clear reason rather than write code where another user can read
/// or replace it.
///
/// A run folder is named after the process that made it (`run-<pid>-<uuid>`): a process that
/// dies without cleaning up (kill -9, out of memory, a power cut with a disk `run_dir`) leaves
/// its runs' folders — code, and the params file of a large event — and the runs themselves;
/// the next server start ends those runs and removes the folders (`sweepAbandoned`) without
/// touching those of a HookBus process still running (a `hookbus fire` next to the server
/// shares the root).
public struct RunFolders: Sendable {
    /// The folder under which each run makes its own.
    public let root: String
    /// Whether `root` is on a memory-backed filesystem (shown by `hookbus validate`).
    public var memoryBacked: Bool { Self.isMemoryBacked(Self.existingAncestor(of: root)) }
    /// Whether the root has been checked: before the first run folder, and again whenever it
    /// has to be made anew.
    private let checked = CheckedFlag()

    private final class CheckedFlag: Sendable {
        let value = Atomic<Bool>(false)
    }

    /// - Parameter configured: `runner.run_dir`, when set; otherwise the default above.
    public init(configured: String? = nil) {
        if let configured {
            // Run folders are handed to scripts as HOME and TMPDIR: always absolute.
            root = Self.trimmed(configured.hasPrefix("/") ? configured : FileManager.default.currentDirectoryPath + "/" + configured)
        } else {
            let name = "hookbus-runs-\(geteuid())"
            let temporary = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
            if Self.isMemoryBacked(temporary) {
                root = Self.trimmed(temporary) + "/" + name
            } else if Self.isMemoryBacked("/dev/shm") && access("/dev/shm", W_OK | X_OK) == 0 {
                root = "/dev/shm/" + name
            } else {
                root = Self.trimmed(temporary) + "/" + name
            }
        }
    }

    /// Makes a new private run folder (mode 0700) and returns its path.
    func make() throws(RunFolderError) -> String {
        if !checked.value.load(ordering: .acquiring) {
            try ensureRoot()
            checked.value.store(true, ordering: .releasing)
        }
        let folder = root + "/" + Self.folderPrefix + String(getpid()) + "-" + UUID().uuidString.lowercased()
        if mkdir(folder, 0o700) == 0 { return folder }
        // First run, or the root was removed (a tmpfs cleaned): make the root, check it, retry.
        guard errno == ENOENT else { throw RunFolderError(message: "cannot make a run folder under \(root): \(String(cString: strerror(errno)))") }
        try ensureRoot()
        guard mkdir(folder, 0o700) == 0 else { throw RunFolderError(message: "cannot make a run folder under \(root): \(String(cString: strerror(errno)))") }
        return folder
    }

    static let folderPrefix = "run-"

    /// What `sweepAbandoned` cleaned up.
    public struct Sweep: Sendable, Equatable {
        /// Run folders of processes that no longer exist, removed.
        public var folders = 0
        /// Processes still working in those folders (runs orphaned by the dead process), ended.
        public var processes = 0
    }

    /// Removes the run folders of processes that no longer exist. The root is checked first, as
    /// for a run; folders of live processes and anything not named as a run folder are left
    /// alone. A process id reused by an unrelated process keeps its dead predecessor's folders
    /// until that process ends too — a leak, never a wrong removal. Process ids are those of
    /// this PID namespace: HookBus processes in different containers must not share a run root.
    ///
    /// A run outlives a HookBus killed with SIGKILL: it was started in a session of its own, so
    /// no signal reached it, and its time limit died with the watchdog. Its event is repeated on
    /// the next start, so such an orphan would run alongside its own repeat and could run for
    /// ever; each process whose working directory is in an abandoned folder is ended with its
    /// process group (SIGKILL) before the folder is removed. Found through `/proc/PID/cwd`, so
    /// no run pays for the bookkeeping of a crash.
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
        // Working directories are reported resolved: compare with the root resolved.
        let resolvedRoot = realpath(root, nil).map { pointer in defer { free(pointer) }; return String(cString: pointer) } ?? root
        let folders = Set(abandoned.map { resolvedRoot + "/" + $0 })
        let orphans = Self.workingDirectories().compactMap { pid, directory in
            Self.enclosingRunFolder(of: directory, under: resolvedRoot).map(folders.contains) == true ? pid : nil
        }
        let orphanSet = Set(orphans)
        for pid in orphans {
            // A run leads its own process group (its own session): the group goes with it, also
            // the members that left the folder. A group led from elsewhere (a shell that merely
            // stands in the folder) is not HookBus's to end.
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

    /// The run folder (`root/run-…`) that contains `directory`, if any.
    static func enclosingRunFolder(of directory: String, under root: String) -> String? {
        guard directory.hasPrefix(root + "/" + folderPrefix) else { return nil }
        let rest = directory.dropFirst(root.count + 1)
        return root + "/" + String(rest.prefix { $0 != "/" })
    }

    /// The working directory of every process this user may inspect, by process id.
    static func workingDirectories() -> [(pid_t, String)] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        var found: [(pid_t, String)] = []
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        for entry in entries {
            guard let pid = pid_t(entry), pid != getpid() else { continue }
            let length = readlink("/proc/\(entry)/cwd", &buffer, buffer.count - 1)
            guard length > 0 else { continue }
            found.append((pid, String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)))
        }
        return found
    }

    /// Creates the root if needed, then refuses it unless it is a folder owned by this user that
    /// nobody else can write to.
    func ensureRoot() throws(RunFolderError) {
        if mkdir(root, 0o700) != 0 && errno != EEXIST {
            do {
                try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw RunFolderError(message: "cannot make the run folder root \(root): \(error.localizedDescription)")
            }
        }
        var status = stat()
        guard lstat(root, &status) == 0 else {
            throw RunFolderError(message: "cannot inspect the run folder root \(root): \(String(cString: strerror(errno)))")
        }
        guard status.st_mode & S_IFMT == S_IFDIR else {
            throw RunFolderError(message: "the run folder root \(root) is not a folder (a link or a file is there): remove it or set runner.run_dir")
        }
        guard status.st_uid == geteuid(), status.st_mode & 0o022 == 0 else {
            throw RunFolderError(message: "the run folder root \(root) belongs to uid \(status.st_uid) with mode \(String(status.st_mode & 0o777, radix: 8)); it must be this user's (uid \(geteuid())) and writable by nobody else: remove it or set runner.run_dir")
        }
    }

    /// Whether `path` is on tmpfs or ramfs: the filesystem type of the longest mount point
    /// containing it, read from `/proc/self/mounts` (Glibc's module does not export `statfs`).
    static func isMemoryBacked(_ path: String) -> Bool {
        guard let resolved = realpath(path, nil) else { return false }
        let target = String(cString: resolved)
        free(resolved)
        guard let mounts = try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8) else { return false }
        var best: (point: String, type: String)?
        for line in mounts.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count >= 3 else { continue }
            // Mount points escape spaces and the like as octal (\040).
            let point = String(fields[1]).replacingOccurrences(of: "\\040", with: " ")
            let contains = point == "/" || target == point || target.hasPrefix(point + "/")
            if contains && point.count >= (best?.point.count ?? -1) { best = (point, String(fields[2])) }
        }
        return best?.type == "tmpfs" || best?.type == "ramfs"
    }

    private static func trimmed(_ path: String) -> String {
        path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
    }

    private static func existingAncestor(of path: String) -> String {
        var candidate = path
        while !candidate.isEmpty && access(candidate, F_OK) != 0 {
            guard let slash = candidate.lastIndex(of: "/") else { return "." }
            candidate = slash == candidate.startIndex ? "/" : String(candidate[..<slash])
        }
        return candidate.isEmpty ? "/" : candidate
    }
}

/// Why no run folder could be made; the run is recorded as `error` with this message.
public struct RunFolderError: Error, Sendable {
    public let message: String
}
