public import Foundation
import Subprocess
#if canImport(System)
import System
#else
import SystemPackage
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Runs triggers as real child processes (swift-subprocess), bounded in time and output.
///
/// Each run gets a private folder (mode 0700, under `RunFolders`' root) that is its working
/// directory, HOME and TMPDIR; the code is written there as a file and the folder is removed
/// afterwards. The interpreter is
/// started directly with the argv and environment of the invocation — no shell in between — in a
/// new session, so that on a timeout the whole process group (background children included) is
/// ended: SIGTERM, a grace period, then SIGKILL.
///
/// Each run is confined by `sandbox` (see `Sandbox`): the interpreter is started through the
/// sandbox helper, which confines itself and then becomes the interpreter (same process, same
/// argv, environment, stdin and process group).
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
        let stdinDescriptor: FileDescriptor
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
            if let owner = sandbox.runAs {
                // The folder last: until then only HookBus can reach what is in it.
                for path in written.reversed() where lchown(path, owner.uid, owner.gid) != 0 {
                    throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EPERM)
                }
            }
            // (Stdin is handed over open, never by path: its file stays HookBus's.)
            stdinDescriptor = try Self.pipeHolding(invocation.stdin) ?? {
                try write(invocation.stdin, to: stdinFile)
                return try FileDescriptor.open(FilePath(stdinFile), .readOnly, options: .closeOnExec)
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
        var arguments = [script] + invocation.arguments.map { "--\($0.name)=\(resolve($0.value))" }
        // Through the sandbox helper: its options, then the interpreter's own argv.
        let program = sandbox.helper ?? interpreter
        if sandbox.helper != nil {
            arguments = sandbox.options(for: invocation.policy, runFolder: folder) + ["--", interpreter] + arguments
        }
        var environment: [Environment.Key: String] = [:]
        for entry in invocation.environment {
            guard let key = Environment.Key(rawValue: entry.name) else { continue }
            environment[key] = resolve(entry.value)
        }

        var options = PlatformOptions()
        options.createSession = true
        let limit = outputLimit
        let timeout = invocation.timeoutSeconds
        let grace = graceSeconds
        let runKey = invocation.eventID
        let runStart = Date()
        do {
            let result = try await Subprocess.run(
                .path(FilePath(program)),
                arguments: Arguments(arguments),
                environment: .custom(environment),
                workingDirectory: FilePath(folder),
                platformOptions: options,
                input: .fileDescriptor(stdinDescriptor, closeAfterSpawningProcess: true),
                output: .sequence,
                error: .sequence
            ) { execution -> Collected in
                let processGroup = execution.processIdentifier.value
                RunningProcesses.add(processGroup, key: runKey, timeLimit: timeout, grace: grace)
                async let stderr = Self.collect(execution.standardError, limit: limit)
                let stdout = await Self.collect(execution.standardOutput, limit: limit)
                var collected = Collected(stdout: stdout, stderr: await stderr)
                collected.ending = RunningProcesses.remove(processGroup)
                return collected
            }
            // Whatever the script left behind in its process group does not outlive the run.
            kill(-result.processIdentifier.value, SIGKILL)
            let collected = result.closureResult
            var run = RunResult(outcome: .succeeded, startedAt: runStart, endedAt: Date(),
                                stdout: collected.stdout.text, stderr: collected.stderr.text,
                                stdoutDropped: collected.stdout.dropped, stderrDropped: collected.stderr.dropped)
            switch result.terminationStatus {
            case let .exited(code):
                run.exitCode = code
                run.outcome = code == 0 ? .succeeded : .failed
            case let .signaled(signal):
                run.signal = signal
                run.outcome = .killed
            }
            switch collected.ending {
            case .timeLimit?:
                run.outcome = .timedOut
                run.reason = "ran past its time limit of \(Self.format(timeout)) s"
            case .request?:
                run.outcome = .killed
                run.reason = "ended by HookBus: the next run of its schedule started (re-execution: force)"
            case nil:
                break
            }
            sandbox.explain(&run, policy: invocation.policy)
            return run
        } catch {
            try? stdinDescriptor.close()
            return .error("could not start \(interpreter): \(error)", at: startedAt)
        }
    }

    /// Output kept up to the cap; the rest is read (so the child never blocks) and counted.
    struct Capture: Sendable {
        var bytes: [UInt8] = []
        var dropped = 0
        var text: String { String(decoding: bytes, as: UTF8.self) }
    }

    struct Collected: Sendable {
        var stdout = Capture()
        var stderr = Capture()
        var ending: RunningProcesses.Ending?
    }

    static func collect(_ sequence: SubprocessOutputSequence, limit: Int) async -> Capture {
        var capture = Capture()
        do {
            for try await buffer in sequence {
                buffer.withUnsafeBytes { raw in
                    let room = max(0, limit - capture.bytes.count)
                    if room >= raw.count {
                        capture.bytes.append(contentsOf: raw)
                    } else {
                        capture.bytes.append(contentsOf: raw.prefix(room))
                        capture.dropped += raw.count - room
                    }
                }
            }
        } catch {
            // A read error ends collection; what was read is kept.
        }
        return capture
    }

    /// The trigger's input in a pipe, already written and closed for writing, when it fits the
    /// pipe's buffer (most do): no file to create and remove on every run. Nil when it does not
    /// fit; the caller then uses a file in the run folder.
    static func pipeHolding(_ text: String) throws -> FileDescriptor? {
        guard text.utf8.count <= 1 << 16 else { return nil }
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { return nil }
        let (reader, writer) = (ends[0], ends[1])
        // (Glibc does not export pipe2; swift-subprocess closes every other descriptor in the
        // children it starts, so the moment without close-on-exec leaks nothing to them.)
        _ = fcntl(reader, F_SETFD, FD_CLOEXEC)
        _ = fcntl(writer, F_SETFD, FD_CLOEXEC)
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
        guard complete else {
            close(reader)
            return nil
        }
        return FileDescriptor(rawValue: reader)
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
