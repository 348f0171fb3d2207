public import Foundation
import CHookBusSpawn
#if canImport(Glibc)
import Glibc
#endif

/// Runs triggers as real child processes, bounded in time and output.
///
/// Each run gets a private folder (mode 0700, under `RunFolders`' root) that is its working
/// directory, HOME and TMPDIR; the code is written there as a file and the folder is removed
/// afterwards. The interpreter is
/// started directly with the argv and environment of the invocation — no shell in between — in a
/// new session, so that on a timeout the whole process group (background children included) is
/// ended: SIGTERM, a grace period, then SIGKILL.
///
/// Each run is confined by `sandbox` (see `Sandbox`): the child that becomes the interpreter
/// confines itself between its clone and its execve (`ChildProcess`, C: spawn.c); its output and
/// its end are watched by `ChildWatcher`.
public struct ProcessRunner: TriggerRunner {
    public let interpreters: Interpreters
    public let outputLimit: Int
    public let graceSeconds: Double
    /// Where run folders are made.
    public let folders: RunFolders
    /// How every run is confined.
    public let sandbox: Sandbox

    public init(interpreters: Interpreters, outputLimit: Int = 1 << 20, graceSeconds: Double = 5, folders: RunFolders = RunFolders(),
                sandbox: Sandbox = .automatic) {
        self.interpreters = interpreters
        self.outputLimit = outputLimit
        self.graceSeconds = graceSeconds
        self.folders = folders
        self.sandbox = sandbox
        // A child that exits before reading all of its input must not kill HookBus with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
    }

    /// The runner as the configuration describes it (`runner.output_limit`, `runner.grace`,
    /// `runner.run_dir`), with the sandbox resolved from `runner.sandbox`.
    public init(interpreters: Interpreters, configuration: HookBusConfiguration, sandbox: Sandbox) {
        self.init(interpreters: interpreters, outputLimit: configuration.outputLimitBytes, graceSeconds: configuration.graceSeconds,
                  folders: RunFolders(configured: configuration.runDirectory), sandbox: sandbox)
    }

    public func sandboxRecord(for invocation: Invocation) -> String? {
        sandbox.record(for: invocation.policy)
    }

    static func fileExtension(for type: ScriptType) -> String {
        switch type {
        case .python: return "py"
        case .bash: return "sh"
        case .perl: return "pl"
        case .powershell: return "ps1"
        }
    }

    public func run(_ invocation: Invocation, token: String) async -> RunResult {
        let startedAt = Date()
        guard let interpreter = interpreters.path(for: invocation.scriptType) else {
            return .error("interpreter \(Interpreters.command(for: invocation.scriptType)) not found", at: startedAt)
        }
        let folder: String
        do throws(RunFolderError) {
            folder = try folders.make()
        } catch {
            return .error(error.message, at: startedAt)
        }
        let script = folder + "/trigger." + Self.fileExtension(for: invocation.scriptType)
        let stdinFile = folder + "/.stdin.json"
        defer { removeRunFolder(folder, files: [script, stdinFile]) }
        // As root, the uid this run becomes: its own, given back once its process group is ended.
        var runUID: UInt32 = 0
        if let runAs = sandbox.runAs {
            guard let uids = runAs.uids else { return .error("this sandbox was set up to be shown, not to run triggers (it holds no run uids)", at: startedAt) }
            do throws(RunUIDs.ClaimError) {
                guard let uid = try uids.take() else {
                    return .error("no run uid is free: more runs at once than runner.run_uids has uids in this process's block (\(uids.summary))", at: startedAt)
                }
                runUID = uid
            } catch {
                return .error(error.description, at: startedAt)
            }
        }
        defer { if runUID != 0 { sandbox.runAs?.uids?.give(runUID) } }
        // As root, a mount namespace with a /tmp ready for this run, given back after it.
        let tmpSlot = runUID == 0 ? nil : sandbox.tmpSlot(for: invocation.policy, runFolder: folder, uid: runUID)
        // (Not handed on when the run's processes could not all be ended.)
        var leftovers: Int32 = 0
        defer {
            if let tmpSlot {
                if leftovers == 0 { sandbox.tmpSlots?.give(tmpSlot) } else { sandbox.tmpSlots?.close(tmpSlot) }
            }
        }
        let stdinDescriptor: Int32
        do {
            // What HookBus writes here; as root, handed to the user the run becomes.
            var written = [folder, script]
            try write(invocation.code, to: script)
            for (name, content) in invocation.files {
                let file = folder + "/" + name
                let parent = String(file[..<(file.lastIndex(of: "/") ?? file.endIndex)])
                if mkdir(parent, 0o700) == 0 { written.append(parent) }
                try write(content, to: file)
                written.append(file)
            }
            if let runAs = sandbox.runAs {
                // The folder last: until then only HookBus can reach what is in it.
                for path in written.reversed() where lchown(path, runUID, runAs.gid) != 0 {
                    throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EPERM)
                }
            }
            // (Stdin is handed over open, never by path: its file stays HookBus's.)
            stdinDescriptor = try Self.pipeHolding(invocation.stdin) ?? {
                try write(invocation.stdin, to: stdinFile)
                let descriptor = open(stdinFile, O_RDONLY | O_CLOEXEC)
                guard descriptor >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
                return descriptor
            }()
        } catch {
            return .error("cannot write the trigger's files: \(error.localizedDescription)", at: startedAt)
        }

        func resolve(_ value: InvocationValue) -> String {
            switch value {
            case let .plain(text): return text
            case let .secret(secret): return secret.reveal()
            case .runToken: return token
            case .runDirectory: return folder
            case let .runFile(name): return folder + "/" + name
            }
        }
        let arguments = [interpreter, script] + invocation.arguments.map { "--\($0.name)=\(resolve($0.value))" }
        // Names the kernel could not pass as given are left out (as a shell would refuse them).
        let environment = invocation.environment.compactMap { entry -> String? in
            guard !entry.name.isEmpty, !entry.name.utf8.contains(UInt8(ascii: "=")), !entry.name.utf8.contains(0) else { return nil }
            return entry.name + "=" + resolve(entry.value)
        }
        let runStart = Date()
        let child: ChildProcess
        do throws(ChildProcess.SpawnError) {
            let confinement = sandbox.confinement(for: invocation.policy)
            child = try await ChildProcess.start(path: interpreter, arguments: arguments, environment: environment, directory: folder,
                                                 stdin: stdinDescriptor, confinement: confinement, runFolder: folder,
                                                 runUID: runUID, mountNamespace: tmpSlot?.namespace ?? -1,
                                                 openedGrants: confinement.flatMap(sandbox.openedGrants(for:)))
        } catch {
            close(stdinDescriptor)
            return .error("could not start \(interpreter): \(error)", at: startedAt)
        }
        // The child has its own copy (or failed to start and will say so on its stderr).
        close(stdinDescriptor)
        RunningProcesses.add(child.pid, key: invocation.eventID, timeLimit: invocation.timeoutSeconds, grace: graceSeconds)
        let ended = await ChildWatcher.shared.watch(child, limit: outputLimit,
                                                    giveUpAfter: RunningProcesses.duration(invocation.timeoutSeconds) + RunningProcesses.duration(graceSeconds) + .seconds(1))
        let ending = RunningProcesses.remove(child.pid)
        // Whatever the script left behind in its process group does not outlive the run; the
        // group's leader is reaped only now, so that its id cannot have been reused meanwhile.
        kill(-child.pid, SIGKILL)
        child.reap()
        // As root, the run's uid is its own: every process still holding it (one that left the
        // group included) ends with the run, before its namespace and its uid are handed on.
        if runUID != 0 { leftovers = hb_end_processes_of(runUID) }
        var run = RunResult(outcome: .succeeded, startedAt: runStart, endedAt: Date(),
                            stdout: ended.stdout.text, stderr: ended.stderr.text,
                            stdoutDropped: ended.stdout.dropped, stderrDropped: ended.stderr.dropped)
        if let signal = ended.signal {
            run.signal = signal
            run.outcome = .killed
        } else if let code = ended.exitCode {
            run.exitCode = code
            run.outcome = code == 0 ? .succeeded : .failed
        }
        if let failure = ended.failure {
            run.outcome = .error
            run.reason = failure
            return run
        }
        switch ending {
        case .timeLimit?:
            run.outcome = .timedOut
            run.reason = "ran past its time limit of \(Self.format(invocation.timeoutSeconds)) s"
        case .request?:
            run.outcome = .killed
            run.reason = "ended by HookBus: the next run of its schedule started (re-execution: force)"
        case nil:
            break
        }
        if ended.pipesAbandoned {
            let note = "a process that left its process group still held its output open; HookBus stopped reading it after the time limit"
            run.reason = run.reason.map { "\($0); \(note)" } ?? note
        }
        if leftovers != 0 {
            let note = "the processes it left could not be ended: \(String(cString: strerror(leftovers)))"
            run.reason = run.reason.map { "\($0); \(note)" } ?? note
        }
        sandbox.explain(&run, policy: invocation.policy)
        return run
    }

    /// The trigger's input in a pipe, already written and closed for writing, when it fits the
    /// pipe's buffer (most do): no file to create and remove on every run. Nil when it does not
    /// fit; the caller then uses a file in the run folder.
    static func pipeHolding(_ text: String) throws -> Int32? {
        guard text.utf8.count <= 1 << 16 else { return nil }
        var ends: [Int32] = [-1, -1]
        // (Close-on-exec from the start; the reading end is made blocking again for the child.)
        guard hb_pipe(&ends) == 0 else { return nil }
        let (reader, writer) = (ends[0], ends[1])
        // The writer never blocks: a short write (a pipe smaller than usual) falls back to a file.
        _ = fcntl(writer, F_SETFL, fcntl(writer, F_GETFL) | O_NONBLOCK)
        defer { close(writer) }
        var text = text
        let complete = text.withUTF8 { buffer -> Bool in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(writer, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += written
            }
            return true
        }
        guard complete, fcntl(reader, F_SETFL, fcntl(reader, F_GETFL) & ~O_NONBLOCK) == 0 else {
            close(reader)
            return nil
        }
        return reader
    }

    private func write(_ text: String, to path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(descriptor) }
        var remaining = text
        try remaining.withUTF8 { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
                }
                offset += written
            }
        }
    }

    /// Removes the run folder: the files HookBus wrote, then the folder; anything the script
    /// left behind is removed recursively.
    private func removeRunFolder(_ folder: String, files: [String]) {
        for file in files { unlink(file) }
        if rmdir(folder) != 0 {
            try? FileManager.default.removeItem(atPath: folder)
        }
    }

    static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
    }
}
