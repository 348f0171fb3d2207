import CHookBusSpawn
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Output of a run, kept up to the cap; the rest is read (so the child never blocks) and counted.
struct Capture: Sendable {
    var bytes: [UInt8] = []
    var dropped = 0
    var text: String { String(decoding: bytes, as: UTF8.self) }

    mutating func append(_ raw: UnsafeRawBufferPointer, limit: Int) {
        let room = max(0, limit - bytes.count)
        if room >= raw.count {
            bytes.append(contentsOf: raw)
        } else {
            bytes.append(contentsOf: raw.prefix(room))
            dropped += raw.count - room
        }
    }
}

/// How a run's process ended and what it printed.
struct ChildEnding: Sendable {
    var exitCode: Int32?
    var signal: Int32?
    var stdout = Capture()
    var stderr = Capture()
    /// Why the run could not be watched (its group was killed); nil normally.
    var failure: String?
    /// Its output pipes were still held open, past its time limit and grace period, by a
    /// process that left its process group (the group kill cannot reach it); HookBus stopped
    /// reading them then.
    var pipesAbandoned = false
}

/// One thread that reads every run's stdout and stderr and sees every run end, through one
/// epoll set: a run is over when both pipes reached their end and its pidfd became readable
/// (a background child that keeps the pipes open keeps the run going, until its time limit
/// ends the group).
///
/// Why one thread and not a task per pipe: swift-subprocess's sequences and waits cost a
/// trivial run about as much CPU in HookBus as the start itself; here a run costs three epoll
/// registrations and a few reads, and no thread is started or parked per run. The run's task
/// waits on a continuation the thread resumes.
final class ChildWatcher: Sendable {
    static let shared = ChildWatcher()

    private let epoll: Int32
    private let openFailure: String?
    private let watched = Mutex<[UInt64: Watched]>([:])
    private let nextID = Atomic<UInt64>(1)

    /// A run being watched. After registration only the watcher thread touches it.
    private final class Watched: @unchecked Sendable {
        let child: ChildProcess
        let limit: Int
        let continuation: CheckedContinuation<ChildEnding, Never>
        /// When to stop waiting for pipes its ended process left open.
        let giveUpAt: ContinuousClock.Instant
        var ending = ChildEnding()
        var exited = false
        /// Its pipes not yet at their end (closed here when they get there).
        var openPipes: [Int32]

        init(child: ChildProcess, limit: Int, giveUpAt: ContinuousClock.Instant, continuation: CheckedContinuation<ChildEnding, Never>) {
            self.child = child
            self.limit = limit
            self.giveUpAt = giveUpAt
            self.continuation = continuation
            openPipes = [child.stdout, child.stderr]
        }

        var isOver: Bool { exited && openPipes.isEmpty }
    }

    private init() {
        epoll = hb_epoll_create()
        openFailure = epoll < 0 ? "cannot watch runs: epoll_create1: \(String(cString: strerror(-epoll)))" : nil
        guard epoll >= 0 else { return }
        let thread = Thread { [self] in loop() }
        thread.name = "hookbus-runs"
        thread.start()
    }

    /// Waits until `child` has ended and its pipes are closed; `limit` bytes of each output
    /// are kept. The pipes are closed here; the pidfd is left for `ChildProcess.reap()`.
    /// - Parameter giveUpAfter: from now, how long pipes that outlive the process are read
    ///   (its time limit and grace period: by then its process group has been killed, and
    ///   only a process that left the group can still hold them).
    func watch(_ child: ChildProcess, limit: Int, giveUpAfter: Duration) async -> ChildEnding {
        await withCheckedContinuation { continuation in
            let id = nextID.add(1, ordering: .relaxed).oldValue
            let run = Watched(child: child, limit: limit, giveUpAt: .now + giveUpAfter, continuation: continuation)
            // Registered and made known to the thread in one step: an event that comes first
            // finds no run and is reported again (level-triggered), so none is lost; a run that
            // cannot be registered was never seen by the thread.
            let failure = openFailure ?? watched.withLock { runs -> String? in
                var registered: [Int32] = []
                for (kind, descriptor) in [child.pidfd, child.stdout, child.stderr].enumerated() {
                    let failure = hb_epoll_add(epoll, descriptor, id << 2 | UInt64(kind))
                    if failure != 0 {
                        for descriptor in registered { _ = hb_epoll_remove(epoll, descriptor) }
                        return "cannot watch the run: epoll_ctl: \(String(cString: strerror(failure)))"
                    }
                    registered.append(descriptor)
                }
                runs[id] = run
                return nil
            }
            guard let failure else { return }
            // A run that cannot be watched is not left running unseen: its group is killed, and
            // the run ends with the reason.
            kill(-child.pid, SIGKILL)
            close(child.stdout)
            close(child.stderr)
            run.ending.failure = failure
            continuation.resume(returning: run.ending)
        }
    }

    private func loop() {
        let capacity = 64
        var tokens = [UInt64](repeating: 0, count: capacity)
        var events = [UInt32](repeating: 0, count: capacity)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        var nextSweep = ContinuousClock.now + Self.sweepInterval
        while true {
            let count = hb_epoll_wait(epoll, &tokens, &events, Int32(capacity), Int32(Self.sweepInterval.components.seconds * 1000))
            if count < 0 {
                // Only an interruption can end a wait on a valid epoll set.
                precondition(-count == EINTR, "epoll_wait failed: \(String(cString: strerror(-count)))")
                continue
            }
            for index in 0..<Int(count) {
                let id = tokens[index] >> 2
                guard let run = watched.withLock({ $0[id] }) else { continue }
                switch tokens[index] & 3 {
                case 0: ended(run)
                case 1: read(run.child.stdout, into: &run.ending.stdout, run: run, buffer: buffer)
                default: read(run.child.stderr, into: &run.ending.stderr, run: run, buffer: buffer)
                }
                if run.isOver { finish(run, id: id) }
            }
            let now = ContinuousClock.now
            if now >= nextSweep {
                nextSweep = now + Self.sweepInterval
                giveUpOnAbandonedPipes(now: now)
            }
        }
    }

    static let sweepInterval = Duration.seconds(1)

    private func finish(_ run: Watched, id: UInt64) {
        watched.withLock { _ = $0.removeValue(forKey: id) }
        run.continuation.resume(returning: run.ending)
    }

    /// Runs whose process has ended but whose pipes are still open past their time limit and
    /// grace period: a process that left the run's group (setsid) holds them, and nothing
    /// HookBus sends to the group reaches it. Reading stops, so that the run ends and frees its
    /// slot; that process gets EPIPE or SIGPIPE if it writes again.
    private func giveUpOnAbandonedPipes(now: ContinuousClock.Instant) {
        let overdue = watched.withLock { runs in runs.filter { $0.value.exited && !$0.value.openPipes.isEmpty && now >= $0.value.giveUpAt } }
        for (id, run) in overdue {
            for descriptor in run.openPipes {
                _ = hb_epoll_remove(epoll, descriptor)
                close(descriptor)
            }
            run.openPipes = []
            run.ending.pipesAbandoned = true
            finish(run, id: id)
        }
    }

    /// The process has ended: its status is read, but it is not reaped yet (see `ChildProcess`).
    private func ended(_ run: Watched) {
        var code: Int32 = 0
        var signal: Int32 = 0
        let failure = hb_wait_status(run.child.pidfd, 0, &code, &signal)
        if failure != 0 {
            run.ending.failure = "cannot read the run's exit status: \(String(cString: strerror(failure)))"
        } else if signal > 0 {
            run.ending.signal = signal
        } else {
            run.ending.exitCode = code
        }
        _ = hb_epoll_remove(epoll, run.child.pidfd)
        run.exited = true
    }

    /// One read of what is there (level-triggered: more is reported again); at the end of the
    /// pipe, or on a read error, the pipe is done and closed.
    private func read(_ descriptor: Int32, into capture: inout Capture, run: Watched, buffer: UnsafeMutableRawBufferPointer) {
        let count = Glibc.read(descriptor, buffer.baseAddress, buffer.count)
        if count > 0 {
            capture.append(UnsafeRawBufferPointer(rebasing: buffer[..<count]), limit: run.limit)
            return
        }
        if count < 0 && (errno == EAGAIN || errno == EINTR) { return }
        _ = hb_epoll_remove(epoll, descriptor)
        close(descriptor)
        run.openPipes.removeAll { $0 == descriptor }
    }
}
