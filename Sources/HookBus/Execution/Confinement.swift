import CHookBusSpawn
#if canImport(Glibc)
import Glibc
#endif

/// One run policy's sandbox in the form the spawned child reads it (`hb_confinement`: C
/// strings, a sorted grant table, formatted mount options and id maps). Made once per policy by
/// `Sandbox` and shared by every run of it; never changed after it is made, and freed with it.
final class Confinement: Sendable {
    /// A path a run may use, and how.
    struct Grant: Sendable {
        enum Rights: Sendable { case read, all, device }
        let path: String
        let rights: Rights
        /// Skipped when missing (a system file an upgrade removed).
        let optional: Bool
    }

    /// The tmpfs options of the run's own `/tmp`; nil for none.
    let privateTmpOptions: String?
    /// Whether a path granted lies under `/tmp` (and must be bound into the run's own).
    let grantsBeneathTmp: Bool
    /// The grants' paths in the table's order, and whether HookBus may open each ahead
    /// (`GrantCache`: read-only, not under `/tmp`).
    let grantPaths: [String]
    let grantCacheable: [Bool]

    /// Read-only after `init`, which is why sharing it is safe.
    nonisolated(unsafe) let pointer: UnsafeMutablePointer<hb_confinement>
    nonisolated(unsafe) private let grantTable: UnsafeMutablePointer<hb_grant>
    nonisolated(unsafe) private let strings: [UnsafeMutablePointer<CChar>]

    /// - Parameters:
    ///   - grants: in any order; sorted here by path length, as the child binds folders before
    ///     what is in them.
    ///   - privateTmpBytes: the size of the run's own `/tmp`, or nil for none.
    ///   - runGroup: the group a root HookBus's runs become (each with a uid of its own, given
    ///     per start); nil when not root: runs keep HookBus's user and group, in a user namespace.
    init(landlockABI: Int, grants: [Grant], privateTmpBytes: Int?, noNetwork: Bool, denyTCP: Bool,
         runGroup: UInt32?, limits: ResourceLimits, processes: Int?) {
        var strings: [UnsafeMutablePointer<CChar>] = []
        func keep(_ text: String) -> UnsafePointer<CChar> {
            let copy = strdup(text)!
            strings.append(copy)
            return UnsafePointer(copy)
        }
        let sorted = grants.enumerated().sorted { ($0.element.path.utf8.count, $0.offset) < ($1.element.path.utf8.count, $1.offset) }.map(\.element)
        grantTable = .allocate(capacity: max(1, sorted.count))
        for (index, grant) in sorted.enumerated() {
            let rights: UInt64 = switch grant.rights {
            case .read: UInt64(HB_RIGHTS_READ)
            case .all: ~0
            case .device: UInt64(HB_RIGHTS_DEVICE)
            }
            grantTable[index] = hb_grant(path: keep(grant.path), rights: rights, optional: grant.optional ? 1 : 0)
        }
        var confinement = hb_confinement()
        confinement.landlock_abi = Int32(landlockABI)
        confinement.grants = UnsafePointer(grantTable)
        confinement.grant_count = Int32(sorted.count)
        confinement.proc_self = 1
        privateTmpOptions = privateTmpBytes.map { "size=\($0),nr_inodes=65536,mode=1777" }
        if let privateTmpOptions { confinement.private_tmp_options = keep(privateTmpOptions) }
        grantsBeneathTmp = grants.contains { Sandbox.isBeneathTmp($0.path) }
        grantPaths = sorted.map(\.path)
        grantCacheable = sorted.map { $0.rights != .all && !Sandbox.isBeneathTmp($0.path) }
        confinement.no_network = noNetwork ? 1 : 0
        confinement.deny_tcp = denyTCP ? 1 : 0
        if let runGroup {
            confinement.switch_user = 1
            confinement.gid = runGroup
        }
        confinement.uid_map = keep("\(getuid()) \(getuid()) 1\n")
        confinement.gid_map = keep("\(getgid()) \(getgid()) 1\n")
        confinement.memory = UInt64(limits.memoryBytes ?? 0)
        confinement.cpu_seconds = UInt64(limits.cpuSeconds ?? 0)
        confinement.processes = UInt64(processes ?? 0)
        confinement.file_size = UInt64(limits.fileSizeBytes ?? 0)
        pointer = .allocate(capacity: 1)
        pointer.initialize(to: confinement)
        self.strings = strings
    }

    deinit {
        for string in strings { free(string) }
        grantTable.deallocate()
        pointer.deallocate()
    }
}
