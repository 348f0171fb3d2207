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
/// memory-backed filesystem it costs 30 µs. So by default run folders go to memory: `/dev/shm`
/// where it is tmpfs, as on nearly every Linux machine, else `$TMPDIR` (or `/tmp`) when that is,
/// else `$TMPDIR` on disk. `/dev/shm` before `/tmp`: a sandboxed run's `/tmp` is its own, so a
/// run folder under the host's `/tmp` would have to be bound into it on every start, and a root
/// HookBus could not hand that run a mount namespace made before (`TmpSlots`). The price is that a
/// trigger writing very large files to its `TMPDIR` uses memory; `runner.run_dir` puts run
/// folders on a disk folder for such triggers.
///
/// The root is shared ground (`/tmp`, `/dev/shm`), so it is named after the user and used only
/// when it is a real folder (not a link) owned by this user and writable by nobody else;
/// otherwise runs fail with a clear reason rather than write code where another user can read
/// or replace it.
///
/// A run folder is named after the process that made it (`run-<pid>-<uuid>`): a process that
/// dies without cleaning up (kill -9, out of memory, a power cut with a disk `run_dir`) leaves
/// its runs' folders — code, and the params file of a large event — and the runs themselves;
/// the next server start ends those runs and removes the folders (`sweepAbandoned`, in
/// AbandonedRuns.swift) without
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
            // Run folders are handed to scripts as HOME and TMPDIR: always absolute, and real (the
            // sandbox refuses a path with a link, `.` or `..` in it).
            root = Self.realPath(configured.hasPrefix("/") ? configured : FileManager.default.currentDirectoryPath + "/" + configured)
        } else {
            let name = "hookbus-runs-\(geteuid())"
            let temporary = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
            if Self.isMemoryBacked("/dev/shm") && access("/dev/shm", W_OK | X_OK) == 0 {
                root = Self.realPath("/dev/shm/" + name)
            } else if Self.isMemoryBacked(temporary) {
                root = Self.realPath(Self.trimmed(temporary) + "/" + name)
            } else {
                root = Self.realPath(Self.trimmed(temporary) + "/" + name)
            }
        }
    }

    /// Makes a new private run folder (mode 0700) and returns its path.
    func make() throws(RunFolderError) -> String {
        if !checked.value.load(ordering: .acquiring) {
            try ensureRoot()
            checked.value.store(true, ordering: .releasing)
        }
        let folder = root + "/" + Self.folderPrefix + Self.owner + "-" + UUID().uuidString.lowercased()
        if mkdir(folder, 0o700) == 0 { return folder }
        // First run, or the root was removed (a tmpfs cleaned): make the root, check it, retry.
        guard errno == ENOENT else { throw RunFolderError(message: "cannot make a run folder under \(root): \(String(cString: strerror(errno)))") }
        try ensureRoot()
        guard mkdir(folder, 0o700) == 0 else { throw RunFolderError(message: "cannot make a run folder under \(root): \(String(cString: strerror(errno)))") }
        return folder
    }

    static let folderPrefix = "run-"
    /// This process's id, as run folders are named (glibc no longer caches `getpid`: a system
    /// call per run otherwise).
    private static let owner = String(getpid())

    /// Creates the root if needed, then refuses it unless it is a folder owned by this user that
    /// nobody else can write to.
    ///
    /// As root, the root is 0711 (others may pass through, not list): each run then has a uid of
    /// its own (`RunUIDs`) and must reach its own run folder by path (HOME, the script).
    func ensureRoot() throws(RunFolderError) {
        let mode: mode_t = geteuid() == 0 ? 0o711 : 0o700
        if mkdir(root, mode) != 0 && errno != EEXIST {
            do {
                try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true, attributes: [.posixPermissions: Int(mode)])
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
        // (mkdir's mode is narrowed by the umask; an existing root made before keeps its own.)
        if geteuid() == 0 && status.st_mode & 0o777 != mode && status.st_uid == 0 { chmod(root, mode) }
        guard status.st_uid == geteuid(), status.st_mode & 0o022 == 0 else {
            throw RunFolderError(message: "the run folder root \(root) belongs to uid \(status.st_uid) with mode \(String(status.st_mode & 0o777, radix: 8)); it must be this user's (uid \(geteuid())) and writable by nobody else: remove it or set runner.run_dir")
        }
        // As root, runs have uids of their own (`RunUIDs`) and reach their folder by path: every
        // folder above it must let other users pass.
        var folder = root
        while geteuid() == 0, let slash = folder.lastIndex(of: "/"), slash != folder.startIndex {
            folder = String(folder[..<slash])
            guard stat(folder, &status) == 0 else { continue }
            guard status.st_mode & 0o001 != 0 else {
                throw RunFolderError(message: "runs cannot reach their folders under \(root): \(folder) (mode \(String(status.st_mode & 0o777, radix: 8))) does not let other users pass, and runs have uids of their own; give it o+x or set runner.run_dir elsewhere")
            }
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

    /// `path` with `.` and `..` taken out and the folders above it resolved (links followed) as
    /// far as they exist; the rest appended as written. The last component is never resolved:
    /// a link in place of the root itself is refused by `ensureRoot`, not followed.
    static func realPath(_ path: String) -> String {
        let standard = trimmed(URL(fileURLWithPath: path).standardizedFileURL.path)
        guard let lastSlash = standard.lastIndex(of: "/"), standard != "/" else { return standard }
        var existing = lastSlash == standard.startIndex ? "/" : String(standard[..<lastSlash])
        var rest: [Substring] = [standard[standard.index(after: lastSlash)...]]
        while existing != "/", access(existing, F_OK) != 0, let slash = existing.lastIndex(of: "/") {
            rest.insert(existing[existing.index(after: slash)...], at: 0)
            existing = slash == existing.startIndex ? "/" : String(existing[..<slash])
        }
        guard let resolved = realpath(existing, nil) else { return standard }
        defer { free(resolved) }
        let base = String(cString: resolved)
        return rest.isEmpty ? base : (base == "/" ? "" : base) + "/" + rest.joined(separator: "/")
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
