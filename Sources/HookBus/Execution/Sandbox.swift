public import Foundation
import CHookBusSpawn
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The confinement every run gets, decided once at start: what the kernel offers and which user
/// runs become.
///
/// **Chosen: Landlock, applied in the run's own child between clone and execve** (C,
/// `CHookBusSpawn`; see spawn.c). A run sees the system's programs and libraries read-only (`/usr`, `/bin`, `/lib*`),
/// the few files of `/etc` that name resolution, TLS and interpreters read, its own run folder
/// read-write (its cwd, HOME and TMPDIR), a private `/tmp`, and its own `/proc/PID` — not the
/// data folder, the configuration, secret files, other runs' folders, HookBus's files or other
/// processes (Landlock also scopes signals and abstract sockets to the run). Network is on
/// unless the integration says `network: false`, which gives the run a network namespace with no
/// interface. Resource limits are rlimits (see `ResourceLimits`). Started as root, HookBus runs
/// each trigger as a uid of its own (`RunUIDs`, from `runner.run_uids`) in the group of
/// `runner.sandbox_user` (default `nobody`): Landlock binds root too, but a run must not hold
/// root's other powers, and the process limit is not enforced on root.
///
/// Measured and rejected: bubblewrap (about 10 ms of wall time per start for its namespaces and
/// mounts); a separate exec helper that confines itself and execs the interpreter (this
/// project's first version: a second execve on every run, about 0.8 ms of CPU per start more
/// than confining in the child); seccomp alone (filters system calls, not paths: it cannot
/// allow one folder and deny the next). Namespaces are used
/// only where they are needed — a mount namespace for the private `/tmp` (as root, one that
/// runs take in turn: `TmpSlots`), a network namespace
/// for `network: false`, and, when HookBus is not root (it cannot give runs uids of their own),
/// a user namespace so that the process limit counts a run's own processes. Where the kernel offers no user namespaces, runs still get Landlock:
/// `/tmp` is then denied rather than private, `network: false` denies TCP through Landlock, and
/// the process limit is not applied (each is said in the run's recorded invocation).
public struct Sandbox: Sendable {
    /// How runs are confined on this machine.
    public enum Mode: Sendable, Hashable {
        /// Landlock of this ABI version, with or without namespaces.
        case landlock(abi: Int, namespaces: Bool)
        /// Not confined, and why.
        case none(reason: String)
    }

    public let mode: Mode
    /// Who a run becomes when HookBus runs as root: a uid of its own from `uids`, in group `gid`.
    public struct RunUsers: Sendable {
        public let gid: UInt32
        /// This process's block of `range`; nil in a sandbox resolved only to be shown
        /// (`hookbus validate`), which holds no uids and ends no process.
        let uids: RunUIDs?
        let range: ClosedRange<UInt32>

        var summary: String { uids?.summary ?? "\(range.lowerBound)–\(range.upperBound)" }
    }

    /// Who runs become when HookBus runs as root; nil otherwise (runs keep HookBus's user).
    public let runAs: RunUsers?

    /// What taking this process's run uids found and ended: processes a HookBus that held them
    /// before left running (its runs, when it died), and the uids; nil when there were none.
    public var endedAtStart: (processes: Int, uids: String)? {
        guard let uids = runAs?.uids, uids.endedWhenClaimed > 0 else { return nil }
        return (uids.endedWhenClaimed, uids.summary)
    }
    /// `runner.private_tmp` (where namespaces allow one; see `hasPrivateTmp`).
    let wantsPrivateTmp: Bool
    /// As root with a private `/tmp`: the mount namespaces runs take in turn.
    let tmpSlots: TmpSlots?
    /// The read-only grants, opened ahead for every run (nil where runs are not confined or
    /// inotify cannot be had).
    let grantCache: GrantCache?

    /// Whether runs get a `/tmp` of their own; otherwise `/tmp` is denied to them.
    var hasPrivateTmp: Bool {
        if case let .landlock(_, namespaces) = mode { return namespaces && wantsPrivateTmp }
        return false
    }

    /// Paths every run may read besides `systemReadPaths`: interpreters installed outside the
    /// system folders (`runner.sandbox_read` comes with each run's policy).
    public let extraReadPaths: [String]

    /// The confinement and the audit record of each run policy met so far: a few per
    /// configuration, and both are asked for on every run.
    private let made = MadeForPolicy()

    private final class MadeForPolicy: Sendable {
        let entries = Mutex<[RunPolicy: (confinement: Confinement?, record: String)]>([:])
    }

    public var isConfined: Bool {
        if case .landlock = mode { return true }
        return false
    }

    /// The warning to show at start and in `hookbus validate`, when runs go unconfined although
    /// the configuration did not turn the sandbox off.
    public var warning: String? {
        if case let .none(reason) = mode, reason != Self.turnedOff { return "runs are not sandboxed: \(reason)" }
        return nil
    }

    static let turnedOff = "runner.sandbox is none"

    /// One line for logs and `hookbus validate`.
    public var summary: String {
        switch mode {
        case let .landlock(abi, namespaces):
            // (As root, runs have uids of their own instead of user namespaces.)
            let kinds = runAs == nil ? "user, mount and network" : "mount and network"
            var text = "Landlock ABI \(abi)" + (namespaces ? " with \(kinds) namespaces"
                                                  : runAs == nil ? " without namespaces (no private /tmp, no process limit)" : " without namespaces (no private /tmp)")
            if !namespaces && geteuid() != 0 && hb_is_dumpable() == 0 {
                text += " because HookBus is not dumpable (started with file capabilities?) and cannot write its runs' user id maps"
            }
            if namespaces && !wantsPrivateTmp { text += "; no private /tmp (runner.private_tmp: false): /tmp is denied" }
            if abi < 6 { text += "; signals and abstract sockets are not scoped to the run (Landlock ABI 6 does that)" }
            if let runAs { text += "; each run as a uid of its own (\(runAs.summary)) in group \(runAs.gid)" }
            return text
        case let .none(reason):
            return "none (\(reason))"
        }
    }

    /// The system's programs, libraries and the files of `/etc` that name resolution, TLS,
    /// locales and the interpreters read, those this machine has at start (a run skips one
    /// an upgrade removed since; links among them are resolved at start, so a restart picks up
    /// one that was pointed elsewhere).
    static let systemReadPaths: [String] = {
        var paths = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]
        let etc = ["passwd", "group", "nsswitch.conf", "hosts", "host.conf", "resolv.conf", "gai.conf", "services", "protocols",
                   "localtime", "timezone", "locale.alias", "locale.conf", "ssl", "ca-certificates", "ca-certificates.conf", "pki",
                   "crypto-policies", "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "mime.types", "os-release", "debian_version",
                   "alternatives", "perl", "xdg"]
        paths += etc.map { "/etc/" + $0 }
        // Debian's python reads /etc/python3.X (sitecustomize); the versions on this machine.
        // (An /etc that cannot be listed grants none of them: python then runs without its
        // site configuration, and no more is opened than asked for.)
        let pythonFolders = (try? FileManager.default.contentsOfDirectory(atPath: "/etc"))?.filter { $0.hasPrefix("python") }.sorted() ?? []
        paths += pythonFolders.map { "/etc/" + $0 }
        // Only those this machine has, as real paths (a run's grants follow no link: `/lib` is
        // `/usr/lib` on a merged-/usr system), and none beneath another.
        return canonicalSet(paths)
    }()

    /// The real paths of those of `paths` that exist, without duplicates and without any that
    /// lies beneath another of them.
    static func canonicalSet(_ paths: [String]) -> [String] {
        var real: [String] = []
        for path in paths {
            guard let resolved = realpath(path, nil) else { continue }
            real.append(String(cString: resolved))
            free(resolved)
        }
        let sorted = Set(real).sorted { $0.count < $1.count }
        var kept: [String] = []
        for path in sorted where !kept.contains(where: { path == $0 || path.hasPrefix($0 == "/" ? "/" : $0 + "/") }) {
            kept.append(path)
        }
        return kept
    }

    /// Devices a run may read and write.
    static let devices = canonicalSet(["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"])

    /// A sandbox turned off.
    public static let off = Sandbox(mode: .none(reason: turnedOff), runAs: nil, extraReadPaths: [])

    init(mode: Mode, runAs: RunUsers?, extraReadPaths: [String], privateTmp: Bool = true) {
        self.mode = mode
        self.runAs = runAs
        self.extraReadPaths = extraReadPaths
        self.wantsPrivateTmp = privateTmp
        if case let .landlock(_, namespaces) = mode, namespaces, privateTmp, runAs?.uids != nil {
            tmpSlots = TmpSlots()
        } else {
            tmpSlots = nil
        }
        if case .landlock = mode { grantCache = GrantCache() } else { grantCache = nil }
    }

    /// The grants of `confinement` opened ahead, to hold until the child has exec'd; nil when
    /// there is no cache.
    func openedGrants(for confinement: Confinement) -> (GrantCache.Generation, GrantCache.Generation.Table)? {
        guard let grantCache else { return nil }
        let generation = grantCache.generation()
        return (generation, grantCache.table(for: confinement, in: generation))
    }

    /// A mount namespace with a private `/tmp` ready for this run (as root; see `TmpSlots`), to
    /// hand back once the run has ended; nil when the run makes its own (or has no private
    /// `/tmp`): when its folder or a granted path lies under the host's `/tmp`, which would have
    /// to be bound into it.
    func tmpSlot(for policy: RunPolicy, runFolder: String, uid: UInt32) -> TmpSlots.Slot? {
        guard let tmpSlots, let runAs, let confinement = confinement(for: policy), let options = confinement.privateTmpOptions,
              !confinement.grantsBeneathTmp, !Self.isBeneathTmp(runFolder) else { return nil }
        return tmpSlots.take(options: options, uid: uid, gid: runAs.gid)
    }

    /// Whether a real path is `/tmp` or lies under it.
    static func isBeneathTmp(_ path: String) -> Bool {
        path == "/tmp" || path.hasPrefix("/tmp/")
    }

    /// Why the sandbox cannot be set up as configured (`runner.sandbox: required` where the
    /// kernel cannot, an unknown `runner.sandbox_user`, no free block of `runner.run_uids`).
    public struct SetupError: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// The sandbox `setting` gives on this machine: the kernel probed once (what Landlock and
    /// namespaces it allows). `interpreters` installed outside the system folders are made
    /// readable (a python under /opt).
    ///
    /// As root, this takes a block of `runUIDs` for this process's runs (ending what an earlier
    /// holder's runs left under them) unless `forRuns` is false: a sandbox only to be shown.
    public static func resolve(setting: SandboxSetting, user: String = "nobody", runUIDs: ClosedRange<UInt32> = RunUIDs.defaultRange,
                               readPaths: [String] = [], privateTmp: Bool = true, interpreters: Interpreters? = nil,
                               forRuns: Bool = true) throws(SetupError) -> Sandbox {
        if setting == .none { return .off }
        func unconfined(_ reason: String) throws(SetupError) -> Sandbox {
            if setting == .required { throw SetupError(description: "runner.sandbox is required, but \(reason)") }
            return Sandbox(mode: .none(reason: reason), runAs: nil, extraReadPaths: [])
        }
        let probe = Probe.shared
        guard probe.landlock >= 1 else {
            return try unconfined("this kernel does not offer Landlock (Linux 5.13 or later with Landlock enabled, and openat2 and Landlock not filtered away)")
        }
        var runAs: RunUsers?
        if geteuid() == 0 {
            // (See hb_keep_memory_private: a run's child shares this memory as the run user.)
            let failure = hb_keep_memory_private()
            guard failure == 0 else { return try unconfined("HookBus's memory cannot be made private to root: \(String(cString: strerror(failure)))") }
            guard let entry = getpwnam(user) else { throw SetupError(description: "runner.sandbox_user '\(user)' is not a user on this machine") }
            guard entry.pointee.pw_uid != 0 else { throw SetupError(description: "runner.sandbox_user '\(user)' is root; runs never keep root") }
            guard entry.pointee.pw_gid != 0 else { throw SetupError(description: "runner.sandbox_user '\(user)' has group 0 (root's) as its group; runs never keep it: choose another user") }
            let gid = entry.pointee.pw_gid
            do throws(RunUIDs.ClaimError) {
                runAs = RunUsers(gid: gid, uids: forRuns ? try RunUIDs.block(of: runUIDs) : nil, range: runUIDs)
            } catch {
                throw SetupError(description: error.description)
            }
        }
        var extra = canonicalSet(readPaths)
        for path in interpreters?.resolutions.values.compactMap(\.path) ?? [] {
            guard let prefix = installPrefix(of: path), !systemReadPaths.contains(where: { prefix == $0 || prefix.hasPrefix($0 + "/") }) else { continue }
            if !extra.contains(prefix) { extra.append(prefix) }
        }
        return Sandbox(mode: .landlock(abi: probe.landlock, namespaces: probe.namespaces), runAs: runAs, extraReadPaths: extra, privateTmp: privateTmp)
    }

    /// How a run of `policy` is confined (its own folder is added at each start); nil when
    /// runs are not confined.
    func confinement(for policy: RunPolicy) -> Confinement? {
        madeFor(policy).confinement
    }

    /// The run's confinement as the audit trail keeps it with the invocation (JSON object text).
    func record(for policy: RunPolicy) -> String {
        madeFor(policy).record
    }

    private func madeFor(_ policy: RunPolicy) -> (confinement: Confinement?, record: String) {
        if let known = made.entries.withLock({ $0[policy] }) { return known }
        let fresh = (confinement: policyConfinement(policy), record: policyRecord(policy))
        made.entries.withLock { $0[policy] = fresh }
        return fresh
    }

    /// What `policy` gives, all but the run's own folder.
    private func policyConfinement(_ policy: RunPolicy) -> Confinement? {
        guard case let .landlock(abi, namespaces) = mode else { return nil }
        var grants = Self.systemReadPaths.map { Confinement.Grant(path: $0, rights: .read, optional: true) }
        grants += (extraReadPaths + policy.readPaths).map { Confinement.Grant(path: $0, rights: .read, optional: false) }
        grants += policy.writePaths.map { Confinement.Grant(path: $0, rights: .all, optional: false) }
        grants += Self.devices.map { Confinement.Grant(path: $0, rights: .device, optional: false) }
        // Without namespaces, `network: false` can only deny TCP (Landlock 4); before that, the
        // namespace it asks for cannot be made and the run is refused.
        let noNetwork = !policy.network && (namespaces || abi < 4)
        let denyTCP = !policy.network && !namespaces && abi >= 4
        // The private /tmp is memory: bounded like a file the run may write (or 1 GiB).
        return Confinement(landlockABI: abi, grants: grants, privateTmpBytes: hasPrivateTmp ? policy.limits.fileSizeBytes ?? 1 << 30 : nil,
                           noNetwork: noNetwork, denyTCP: denyTCP, runGroup: runAs?.gid, limits: policy.limits,
                           processes: namespaces || runAs != nil ? policy.limits.processes : nil)
    }

    private func policyRecord(_ policy: RunPolicy) -> String {
        var fields: [String: JSONValue] = [:]
        switch mode {
        case let .none(reason):
            fields["mode"] = .string("none")
            fields["reason"] = .string(reason)
        case let .landlock(abi, namespaces):
            fields["mode"] = .string("landlock")
            fields["landlockABI"] = .number(String(abi))
            fields["privateTmp"] = .bool(hasPrivateTmp)
            fields["network"] = .string(policy.network ? "on" : namespaces ? "off (network namespace)"
                                        : abi >= 4 ? "off for TCP (Landlock; other protocols are not blocked)" : "off cannot be enforced here: the run is refused")
            if let runAs { fields["user"] = .string("a uid of its own from \(runAs.summary), group \(runAs.gid)") }
            var limits: [String: JSONValue] = [:]
            if let bytes = policy.limits.memoryBytes { limits["memoryBytes"] = .number(String(bytes)) }
            if let seconds = policy.limits.cpuSeconds { limits["cpuSeconds"] = .number(String(seconds)) }
            if let count = policy.limits.processes {
                limits["processes"] = namespaces || runAs != nil ? .number(String(count)) : .string("not enforced (no user namespaces)")
            }
            if let bytes = policy.limits.fileSizeBytes { limits["fileSizeBytes"] = .number(String(bytes)) }
            fields["limits"] = .object(limits)
            if !(extraReadPaths + policy.readPaths).isEmpty { fields["read"] = .array((extraReadPaths + policy.readPaths).map(JSONValue.string)) }
            if !policy.writePaths.isEmpty { fields["write"] = .array(policy.writePaths.map(JSONValue.string)) }
        }
        return JSONValue.object(fields).jsonText
    }

    /// `/opt/python/3.12/bin/python3.12` → `/opt/python/3.12`: the folder an interpreter's
    /// libraries are found under (its binary's real path, two levels up).
    static func installPrefix(of path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        let binary = URL(fileURLWithPath: String(cString: resolved))
        let prefix = binary.deletingLastPathComponent().deletingLastPathComponent().path
        return prefix == "/" ? nil : prefix
    }

    /// What this kernel allows runs, probed once per process (`hb_probe`: a rule made as a run
    /// makes one, and a child that makes a run's namespaces).
    struct Probe: Sendable {
        var landlock = 0
        var namespaces = false

        static let shared: Probe = {
            var landlock: Int32 = 0
            var namespaces: Int32 = 0
            hb_probe(&landlock, &namespaces)
            return Probe(landlock: Int(landlock), namespaces: namespaces == 1)
        }()
    }
}
