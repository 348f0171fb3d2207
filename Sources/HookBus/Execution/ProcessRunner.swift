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
/// Each run gets a private folder (mode 0700) that is its working directory, HOME and TMPDIR; the
/// code is written there as a file and the folder is removed afterwards. The interpreter is
/// started directly with the argv and environment of the invocation — no shell in between — in a
/// new session, so that on a timeout the whole process group (background children included) is
/// ended: SIGTERM, a grace period, then SIGKILL.
public struct ProcessRunner: TriggerRunner {
    public let interpreters: Interpreters
    public let outputLimit: Int
    public let graceSeconds: Double
    /// Where run folders are made.
    public let runRoot: URL

    public init(interpreters: Interpreters, outputLimit: Int = 1 << 20, graceSeconds: Double = 5,
                runRoot: URL = FileManager.default.temporaryDirectory.appendingPathComponent("hookbus-runs")) {
        self.interpreters = interpreters
        self.outputLimit = outputLimit
        self.graceSeconds = graceSeconds
        self.runRoot = runRoot
        // A child that exits before reading all of its input must not kill HookBus with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
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
        let folder: URL
        do {
            folder = try makeRunFolder()
        } catch {
            return .error("cannot make a run folder under \(runRoot.path): \(error.localizedDescription)", at: startedAt)
        }
        let scriptName = "trigger.\(Self.fileExtension(for: invocation.scriptType))"
        defer { removeRunFolder(folder, files: [scriptName, ".stdin.json"]) }
        let script = folder.appendingPathComponent(scriptName)
        let stdinFile = folder.appendingPathComponent(".stdin.json")
        do {
            try write(invocation.code, to: script)
            try write(invocation.stdin, to: stdinFile)
            for (name, content) in invocation.files {
                let file = folder.appendingPathComponent(name)
                mkdir(file.deletingLastPathComponent().path, 0o700)
                try write(content, to: file)
            }
        } catch {
            return .error("cannot write the trigger's files: \(error.localizedDescription)", at: startedAt)
        }

        func resolve(_ value: InvocationValue) -> String {
            switch value {
            case let .plain(text): return text
            case let .secret(secret): return secret.reveal()
            case .runToken: return token
            case .runDirectory: return folder.path
            case let .runFile(name): return folder.appendingPathComponent(name).path
            }
        }
        let arguments = [script.path] + invocation.arguments.map { "--\($0.name)=\(resolve($0.value))" }
        var environment: [Environment.Key: String] = [:]
        for entry in invocation.environment {
            guard let key = Environment.Key(rawValue: entry.name) else { continue }
            environment[key] = resolve(entry.value)
        }

        var options = PlatformOptions()
        options.createSession = true
        let stdinDescriptor: FileDescriptor
        do {
            stdinDescriptor = try FileDescriptor.open(FilePath(stdinFile.path), .readOnly)
        } catch {
            return .error("cannot open the trigger's input: \(error)", at: startedAt)
        }
        let limit = outputLimit
        let timeout = invocation.timeoutSeconds
        let grace = graceSeconds
        let runStart = Date()
        do {
            let result = try await Subprocess.run(
                .path(FilePath(interpreter)),
                arguments: Arguments(arguments),
                environment: .custom(environment),
                workingDirectory: FilePath(folder.path),
                platformOptions: options,
                input: .fileDescriptor(stdinDescriptor, closeAfterSpawningProcess: true),
                output: .sequence,
                error: .sequence
            ) { execution -> Collected in
                let processGroup = execution.processIdentifier.value
                RunningProcesses.add(processGroup)
                defer { RunningProcesses.remove(processGroup) }
                return await withTaskGroup(of: Collected.Part.self) { group in
                    group.addTask { .stdout(await Self.collect(execution.standardOutput, limit: limit)) }
                    group.addTask { .stderr(await Self.collect(execution.standardError, limit: limit)) }
                    group.addTask {
                        // The clock: on expiry end the process group, gently first.
                        guard (try? await Task.sleep(for: .seconds(timeout))) != nil else { return .finished }
                        kill(-processGroup, SIGTERM)
                        guard (try? await Task.sleep(for: .seconds(grace))) != nil else { return .timedOut }
                        kill(-processGroup, SIGKILL)
                        return .timedOut
                    }
                    var collected = Collected()
                    var streamsOpen = 2
                    for await part in group {
                        switch part {
                        case let .stdout(capture): collected.stdout = capture; streamsOpen -= 1
                        case let .stderr(capture): collected.stderr = capture; streamsOpen -= 1
                        case .timedOut: collected.timedOut = true
                        case .finished: break
                        }
                        if streamsOpen == 0 { group.cancelAll() }
                    }
                    return collected
                }
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
            if collected.timedOut {
                run.outcome = .timedOut
                run.reason = "ran past its time limit of \(Self.format(timeout)) s"
            }
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
        enum Part: Sendable {
            case stdout(Capture)
            case stderr(Capture)
            case timedOut
            case finished
        }

        var stdout = Capture()
        var stderr = Capture()
        var timedOut = false
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

    /// The run folder, made with plain system calls: Foundation's FileManager costs a large
    /// share of a trivial run's time on Linux.
    private func makeRunFolder() throws -> URL {
        if mkdir(runRoot.path, 0o700) != 0 && errno != EEXIST {
            try FileManager.default.createDirectory(at: runRoot, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        let folder = runRoot.appendingPathComponent("run-\(UUID().uuidString.lowercased())")
        guard mkdir(folder.path, 0o700) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        return folder
    }

    private func write(_ text: String, to url: URL) throws {
        let descriptor = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
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
    private func removeRunFolder(_ folder: URL, files: [String]) {
        for file in files { unlink(folder.appendingPathComponent(file).path) }
        if rmdir(folder.path) != 0 {
            try? FileManager.default.removeItem(at: folder)
        }
    }

    static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
    }
}
