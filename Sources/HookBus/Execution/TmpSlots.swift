import CHookBusSpawn
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Mount namespaces with a private `/tmp` that a root HookBus's runs take in turn, one run at a
/// time, instead of making one per run (C: tmpslot.c, which says why).
///
/// What a fresh namespace per run gave, each run gets still:
/// - **An empty `/tmp` of its own.** A namespace is taken again only when its `/tmp` is found
///   empty; one a run left anything in is dropped (a new one is made), so nothing a run wrote is
///   ever seen by another, and nothing needs deleting on HookBus's side.
/// - **Nothing of an earlier run's.** A namespace is given back only once every process of its
///   run has ended (`hb_end_processes_of`: each run has a uid of its own, `RunUIDs`), so no
///   process of an earlier run holds anything in it. Before the check, its `/tmp` is handed to
///   the next run's uid with mode 0700, and one carrying an extended attribute (a default ACL
///   an earlier run set) is dropped too.
///
/// A namespace is a slave of the host's mounts as they were when it was made (new ones reach it
/// only where the host's mounts are shared), so none is used for more than `lifetime`: what is
/// mounted on the host shows in runs within that time, as it did at once with a namespace per run.
///
/// Used only where nothing of the run lies under the host's `/tmp` (its run folder, a granted
/// path): those would have to be bound into the namespace, so such runs get one of their own,
/// as before. A namespace that cannot be made is not an error here: the run then makes its own.
/// Making one takes a thread of its own for a moment (`hb_tmp_slot_make`), so it is done only
/// when no idle one is fit: for the first runs, and after a run that left files in `/tmp`.
final class TmpSlots: Sendable {
    /// A namespace and its `/tmp`, open.
    struct Slot: Sendable {
        let namespace: Int32
        let tmp: Int32
        /// The tmpfs mount options it was made with (its size bound comes from the run's policy).
        let options: String
        let made: ContinuousClock.Instant
    }

    /// How long a namespace is used, at most.
    static let lifetime: Duration = .seconds(60)

    /// Namespaces not in use, by mount options.
    private let idle = Mutex<[String: [Slot]]>([:])
    /// At most this many are kept idle; more are closed when given back.
    static let idleLimit = 64

    init() {}

    /// A namespace for a run of `uid` (and `gid`) whose `/tmp` is a tmpfs of `options`, its `/tmp`
    /// that uid's alone and empty; nil when none can be made.
    func take(options: String, uid: UInt32, gid: UInt32) -> Slot? {
        while let slot = idle.withLock({ $0[options]?.popLast() }) {
            if slot.made.duration(to: .now) < Self.lifetime && hand(slot, to: uid, gid: gid) { return slot }
            close(slot)
        }
        var namespace: Int32 = -1
        var tmp: Int32 = -1
        guard hb_tmp_slot_make(options, &namespace, &tmp) == 0 else { return nil }
        let slot = Slot(namespace: namespace, tmp: tmp, options: options, made: .now)
        guard hand(slot, to: uid, gid: gid) else {
            close(slot)
            return nil
        }
        return slot
    }

    /// The run that had `slot` has ended, its process group with it.
    func give(_ slot: Slot) {
        let kept = slot.made.duration(to: .now) < Self.lifetime && idle.withLock { idle -> Bool in
            guard idle.values.reduce(0, { $0 + $1.count }) < Self.idleLimit else { return false }
            idle[slot.options, default: []].append(slot)
            return true
        }
        if !kept { close(slot) }
    }

    /// Gives the slot's `/tmp` to `uid` alone, then checks that it is empty and carries no
    /// extended attribute (`hb_tmp_slot_hand`).
    private func hand(_ slot: Slot, to uid: UInt32, gid: UInt32) -> Bool {
        hb_tmp_slot_hand(slot.tmp, uid, gid) == 1
    }

    /// Closes a slot that must not be used again (the processes of its run could not be ended).
    /// (The namespace itself lives on while a process is still in it.)
    func close(_ slot: Slot) {
        Glibc.close(slot.tmp)
        Glibc.close(slot.namespace)
    }
}
