#if canImport(Glibc)
import Glibc
#endif

/// Why a confined run ended, when its sandbox or one of its limits ended it: the reason the
/// audit trail shows next to the outcome.
extension Sandbox {
    /// The automatic sandbox of a runner built without a configuration (tests, benchmarks): on
    /// wherever the kernel allows it. A machine where it cannot be set up gets runs unconfined,
    /// with the reason in each run's record.
    public static let automatic: Sandbox = {
        do throws(SetupError) {
            return try resolve(setting: .auto)
        } catch {
            return Sandbox(mode: .none(reason: error.description), runAs: nil, extraReadPaths: [])
        }
    }()

    /// The child's exit status when it could not confine the run (its stderr says why).
    static let setupFailureStatus: Int32 = 125
    /// How the child's own lines begin (spawn.c's `hb_child_exit`).
    static let childPrefix = "hookbus: "

    /// Sets `run`'s outcome and reason when the sandbox or a limit ended it:
    /// - the child could not set the run up (status 125: its sandbox, stdio or folder) or start
    ///   the interpreter (127), and said why in a line "hookbus: …" on stderr: `error`, with
    ///   that reason (the trigger never ran, never unconfined). A trigger could print such a
    ///   line and exit so itself; it then only changes its own outcome;
    /// - SIGXCPU / SIGXFSZ: the kernel's signals for the CPU and file size limits (or a shell's
    ///   exit status 128 + the signal, when the process it ended was the shell's child);
    /// - an allocation or a fork refused (ENOMEM's "Cannot allocate memory", python's
    ///   MemoryError, perl's "Out of memory!"; EAGAIN's "Resource temporarily unavailable"), as
    ///   the interpreter reports it on stderr: rlimits give no other sign, so the reason says the
    ///   run failed *at* its limit rather than guess when the text is absent.
    func explain(_ run: inout RunResult, policy: RunPolicy) {
        guard run.outcome != .succeeded else { return }
        if run.exitCode == Self.setupFailureStatus || run.exitCode == 127,
           let line = run.stderr.split(separator: "\n").first(where: { $0.hasPrefix(Self.childPrefix) }) {
            run.outcome = .error
            let setUp = isConfined ? "the sandbox could not be set up: " : "the run could not be set up: "
            run.reason = (run.exitCode == 127 ? "" : setUp) + line.dropFirst(Self.childPrefix.count)
            return
        }
        guard isConfined else { return }
        var found: String?
        let limits = policy.limits
        // A shell reports a child ended by a signal as 128 + its number.
        func endedBy(_ signal: Int32) -> Bool { run.signal == signal || run.exitCode == 128 + signal }
        if endedBy(SIGXCPU), let seconds = limits.cpuSeconds {
            found = "stopped at its CPU time limit of \(seconds) s (limits.cpu_seconds)"
        } else if endedBy(SIGXFSZ), let bytes = limits.fileSizeBytes {
            found = "stopped writing a file past its size limit of \(Self.bytes(bytes)) (limits.file_size)"
        } else if let bytes = limits.memoryBytes, Self.memoryRefusals.contains(where: run.stderr.contains) {
            found = "ran out of memory at its limit of \(Self.bytes(bytes)) (limits.memory)"
        } else if let count = limits.processes, run.stderr.contains("Resource temporarily unavailable") {
            found = "could not start more processes at its limit of \(count) (limits.processes)"
        }
        guard let found else { return }
        run.reason = run.reason.map { "\($0); it \(found)" } ?? found
    }

    static let memoryRefusals = ["MemoryError", "Cannot allocate memory", "Out of memory!", "out of memory"]

    static func bytes(_ count: Int) -> String {
        if count % (1 << 30) == 0 { return "\(count >> 30) GiB" }
        if count % (1 << 20) == 0 { return "\(count >> 20) MiB" }
        if count % (1 << 10) == 0 { return "\(count >> 10) KiB" }
        return "\(count) bytes"
    }
}
