import CHookBusSpawn
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The uids a root HookBus gives its runs: each run one that no other run has while it runs
/// (`runner.run_uids`, by default 1879048192–1895825407; runs keep `runner.sandbox_user`'s group).
///
/// Why a uid per run: the process limit (RLIMIT_NPROC) counts the processes of one user, so a
/// uid of its own makes it count that run's processes only, and runs cannot reach each other
/// through file modes or signals either (Landlock already stops them). The first version gave
/// every run `nobody` and a user namespace of its own instead, for the same count; making the
/// namespace and writing its id maps from HookBus cost about 10% of bash's start rate
/// (`hookbus-bench sandbox`, README "The sandbox's cost"). A uid costs nothing. The default
/// range lies above the ranges systemd hands to containers (up to 1879048191) and below 2³¹.
///
/// Two HookBus processes on one machine (the server and `hookbus fire`, two nodes) must never
/// hand out the same uid: each holds a block of its own for as long as it lives, locked
/// (`flock`) in a folder only root can write — `/run/hookbus-run-uids`, or
/// `/dev/shm/hookbus-run-uids` where there is no `/run`. Blocks are the uids' own, not the
/// range's: block N is uids N × 65,536 to N × 65,536 + 65,535, whatever range a process was
/// configured with, so two processes whose ranges overlap still contend for the same locks. A
/// process hands out the part of its block that lies in its range (at least 16 uids).
///
/// Within its block a process hands uids out in turn. A process a run left behind (a daemon that
/// left its process group; the group itself is ended with the run) keeps its uid; every process
/// still holding a uid of the block is ended when the block is claimed (its last owner may have
/// died with runs going) and whenever the turn comes round again (`hb_sweep_uids`). The uids
/// of runs still running then are spared, and each is swept alone before it is handed out next.
public final class RunUIDs: Sendable {
    /// Uids in a block: a process starts this many runs before it reuses one.
    static let blockSize: UInt32 = 65_536
    /// The default `runner.run_uids`.
    public static let defaultRange: ClosedRange<UInt32> = 1_879_048_192...1_895_825_407

    /// This process's block.
    let first: UInt32
    let count: UInt32
    private let state: Mutex<State>
    /// The lock file that holds the block (open for as long as this process lives).
    private let lock: Int32
    /// Processes left under the block's uids that were ended when it was claimed (the runs of a
    /// HookBus that held it and died; the server logs how many).
    let endedWhenClaimed: Int

    private struct State {
        var next: UInt32 = 0
        var inUse: Set<UInt32> = []
        /// Uids the last sweep spared because runs held them: those runs may have left
        /// processes since.
        var spared: Set<UInt32> = []
    }

    /// Why no block could be held.
    struct ClaimError: Error {
        let description: String
    }

    private init(first: UInt32, count: UInt32, lock: Int32, endedWhenClaimed: Int) {
        self.first = first
        self.count = count
        self.lock = lock
        self.endedWhenClaimed = endedWhenClaimed
        state = Mutex(State())
    }

    /// This process's block of `range` (claimed on first use, then the same for every caller).
    static func block(of range: ClosedRange<UInt32>) throws(ClaimError) -> RunUIDs {
        try claimed.withLock { (blocks: inout [ClosedRange<UInt32>: RunUIDs]) throws(ClaimError) -> RunUIDs in
            if let block = blocks[range] { return block }
            let block = try claim(range)
            blocks[range] = block
            return block
        }
    }

    private static let claimed = Mutex<[ClosedRange<UInt32>: RunUIDs]>([:])

    /// The runs' uid range as the README and `hookbus validate` show it.
    var summary: String { "\(first)–\(first + count - 1)" }

    /// The fewest uids of a block a process hands out.
    static let minimumCount: UInt32 = 16

    private static func claim(_ range: ClosedRange<UInt32>) throws(ClaimError) -> RunUIDs {
        let folder = try lockFolder()
        var candidates = 0
        for block in (range.lowerBound / blockSize)...(range.upperBound / blockSize) {
            // The part of this block in the range.
            let first = max(range.lowerBound, block * blockSize)
            let last = min(range.upperBound, block * blockSize + (blockSize - 1))
            guard last - first + 1 >= minimumCount else { continue }
            candidates += 1
            let path = folder + "/block-\(block).lock"
            let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
            guard descriptor >= 0 else { throw ClaimError(description: "cannot open the run uid lock \(path): \(String(cString: strerror(errno)))") }
            if flock(descriptor, LOCK_EX | LOCK_NB) == 0 {
                // Whatever a previous holder's runs left behind ends before a uid is handed out.
                do throws(ClaimError) {
                    let ended = try sweep(first: first, count: last - first + 1, keeping: [])
                    return RunUIDs(first: first, count: last - first + 1, lock: descriptor, endedWhenClaimed: ended)
                } catch {
                    close(descriptor)
                    throw error
                }
            }
            let failure = errno
            close(descriptor)
            guard failure == EWOULDBLOCK else { throw ClaimError(description: "cannot lock \(path): \(String(cString: strerror(failure)))") }
        }
        guard candidates > 0 else {
            throw ClaimError(description: "runner.run_uids (\(range.lowerBound)–\(range.upperBound)) has no \(minimumCount) uids within one block of \(blockSize) (uids N × \(blockSize) to N × \(blockSize) + \(blockSize - 1))")
        }
        throw ClaimError(description: "every block of runner.run_uids (\(range.lowerBound)–\(range.upperBound)) is held by another HookBus process")
    }

    /// The folder of block locks: root's own, writable by nobody else (a lock another user could
    /// replace would let it make two HookBus processes share uids).
    private static func lockFolder() throws(ClaimError) -> String {
        var status = stat()
        let base = stat("/run", &status) == 0 && status.st_mode & S_IFMT == S_IFDIR && status.st_uid == 0 && status.st_mode & 0o022 == 0 ? "/run" : "/dev/shm"
        let folder = base + "/hookbus-run-uids"
        if mkdir(folder, 0o700) != 0 && errno != EEXIST {
            throw ClaimError(description: "cannot make \(folder): \(String(cString: strerror(errno)))")
        }
        guard lstat(folder, &status) == 0, status.st_mode & S_IFMT == S_IFDIR, status.st_uid == 0, status.st_mode & 0o022 == 0 else {
            throw ClaimError(description: "\(folder) must be a folder of root's that nobody else can write: remove it")
        }
        return folder
    }

    /// A uid for a run, not in use by another; nil when every uid of the block is (more runs at
    /// once than the block has uids).
    func take() throws(ClaimError) -> UInt32? {
        try state.withLock { (state: inout State) throws(ClaimError) -> UInt32? in
            guard state.inUse.count < Int(count) else { return nil }
            while true {
                if state.next == count {
                    // The turn comes round: no uid is handed out again while a process left
                    // behind still holds it.
                    let running = Array(state.inUse)
                    _ = try Self.sweep(first: first, count: count, keeping: running)
                    state.spared = Set(running)
                    state.next = 0
                }
                let uid = first + state.next
                if state.inUse.contains(uid) {
                    state.next += 1
                    continue
                }
                if state.spared.contains(uid) {
                    _ = try Self.sweep(first: uid, count: 1, keeping: [])
                    state.spared.remove(uid)
                }
                state.next += 1
                state.inUse.insert(uid)
                return uid
            }
        }
    }

    /// The run that had `uid` has ended (its process group with it).
    func give(_ uid: UInt32) {
        _ = state.withLock { $0.inUse.remove(uid) }
    }

    /// Ends the processes holding a uid of the block but `keeping`; how many.
    private static func sweep(first: UInt32, count: UInt32, keeping: [UInt32]) throws(ClaimError) -> Int {
        let result = keeping.withUnsafeBufferPointer { hb_sweep_uids(first, count, $0.baseAddress, Int32($0.count)) }
        guard result >= 0 else {
            throw ClaimError(description: "cannot look for processes left behind by runs: \(String(cString: strerror(-result)))")
        }
        return Int(result)
    }
}
