import ArgumentParser
import Foundation
import HookBus

/// `hookbus replay`: dispatch recorded events again — locally through the same router and runner
/// as the server, or to a running HookBus with `--to` — and re-drive stored events that failed.
struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay recorded events (JSON Lines), or re-drive stored events that failed.")

    @OptionGroup var options: CommonOptions

    @Argument(help: "Recorded events (JSON Lines), or - for stdin.")
    var file: String?

    @Flag(name: .long, help: "Show what would run, without running anything.") var dryRun = false
    @Flag(name: .long, help: "JSON Lines output.") var json = false
    @Flag(name: .long, help: "Stop at the first bad line instead of skipping it.") var strict = false
    @Option(name: .long, help: "Re-drive this stored event (its failed runs, or all its runs if none failed).") var event: String?
    @Flag(name: .long, help: "Re-drive every stored event with a failed or interrupted run not yet repeated.") var failed = false
    @Option(name: .long, help: "With --failed: only events since this time (ISO 8601 or an age like 12h).") var since: String?
    @Option(name: .long, help: "Send the events to a running HookBus at this base URL instead of running them here.") var to: String?
    @Option(name: .long, help: "With --to: the hook endpoints' bearer token.") var token: String?
    @Option(name: .long, help: "With --to: requests in flight at once.") var concurrency: Int = 8
    @Option(name: .long, help: "With --to: at most this many events per request (POST /api/v1/events).") var batch: Int = 500
    @Option(name: .long, help: "With --to: at most this many events per second (0: no limit).") var rate: Double = 0

    func validate() throws {
        let sources = [file != nil, event != nil, failed].filter { $0 }.count
        if sources != 1 { throw ValidationError("give exactly one of FILE, --event ID or --failed") }
        if to != nil && (event != nil || failed) { throw ValidationError("--to sends a file; re-drives run locally") }
        if to != nil && dryRun { throw ValidationError("--dry-run runs nothing and sends nothing; leave out --to") }
        if since != nil && !failed { throw ValidationError("--since goes with --failed") }
        if let since, parseSince(since) == nil { throw ValidationError("--since must be an ISO 8601 time or an age like 12h") }
        if concurrency < 1 || concurrency > 1024 { throw ValidationError("--concurrency must be 1-1024") }
        if batch < 1 || batch > 10_000 { throw ValidationError("--batch must be 1-10000") }
        if rate < 0 { throw ValidationError("--rate must be positive") }
        if let to, URL(string: to)?.scheme == nil { throw ValidationError("--to must be a URL such as http://127.0.0.1:8080") }
    }

    func run() async throws {
        let output = ReplayOutput(json: json)
        var summary = ReplaySummary()
        if let to, let file {
            let sender = ReplaySender(base: to, token: token ?? ProcessInfo.processInfo.environment["HOOKBUS_HOOK_TOKEN"], concurrency: concurrency, rate: rate, maximumEvents: batch)
            try await sender.send(file: file, strict: strict, output: output, summary: &summary)
        } else {
            let context: CommandContext
            do { context = try CommandContext(options: options, quiet: json) } catch { throw CommandFailure.exit("\(error)") }
            let replayer = LocalReplayer(context: context, output: output, dryRun: dryRun)
            if let file {
                try await replayer.replay(file: file, strict: strict, summary: &summary)
            } else {
                try await replayer.redrive(eventID: event, since: since.flatMap { parseSince($0) }, summary: &summary)
            }
        }
        output.finish(summary)
        if summary.failed { throw ExitCode(1) }
    }
}

/// Counts for the summary line at the end.
struct ReplaySummary {
    var read = 0
    var dispatched = 0
    var sent = 0
    var duplicates = 0
    var skipped = 0
    var sendFailures = 0
    var runs: [String: Int] = [:]
    var stoppedEarly = false

    var failed: Bool {
        skipped > 0 || sendFailures > 0 || stoppedEarly || (runs["left waiting"] ?? 0) > 0 || runs.contains { RunOutcome(rawValue: $0.key)?.isFailure == true && $0.value > 0 }
    }
}

/// Progress on a terminal, plain lines elsewhere, and the closing summary — all on stderr, so
/// stdout carries only results (`--json`).
final class ReplayOutput: @unchecked Sendable {
    let json: Bool
    private let terminal = isatty(STDERR_FILENO) == 1
    private var lastProgress = ContinuousClock.now
    private var lastPlainLine = ContinuousClock.now
    private let lock = NSLock()
    /// stdout is written in blocks: one system call per result line would dominate a dry run.
    private var pending: [UInt8] = []

    init(json: Bool) { self.json = json }

    private func flushResults() {
        guard !pending.isEmpty else { return }
        FileHandle.standardOutput.write(Data(pending))
        pending.removeAll(keepingCapacity: true)
    }

    func problem(_ text: String) {
        lock.withLock {
            flushResults()
            if terminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            FileHandle.standardError.write(Data((text + "\n").utf8))
        }
    }

    func result(_ line: String) {
        lock.withLock {
            pending.append(contentsOf: line.utf8)
            pending.append(0x0A)
            if pending.count >= 1 << 16 { flushResults() }
        }
    }

    /// At most ten updates a second on a terminal; a plain line every five seconds otherwise.
    func progress(done: Int, total: Int?, what: String) {
        lock.withLock {
            let now = ContinuousClock.now
            if terminal {
                guard now - lastProgress > .milliseconds(100) else { return }
                lastProgress = now
                var bar = ""
                if let total, total > 0 {
                    let filled = min(30, done * 30 / total)
                    bar = "[" + String(repeating: "#", count: filled) + String(repeating: " ", count: 30 - filled) + "] "
                }
                FileHandle.standardError.write(Data("\r\u{1B}[K\(bar)\(done)\(total.map { "/\($0)" } ?? "") events \(what)".utf8))
            } else {
                guard now - lastPlainLine > .seconds(5) else { return }
                lastPlainLine = now
                FileHandle.standardError.write(Data("\(done)\(total.map { "/\($0)" } ?? "") events \(what)\n".utf8))
            }
        }
    }

    func finish(_ summary: ReplaySummary) {
        var parts = ["\(summary.read) read"]
        if summary.dispatched > 0 || summary.sent == 0 { parts.append("\(summary.dispatched) dispatched") }
        if summary.sent > 0 { parts.append("\(summary.sent) sent") }
        if summary.duplicates > 0 { parts.append("\(summary.duplicates) already accepted") }
        parts.append("\(summary.skipped) skipped")
        if summary.sendFailures > 0 { parts.append("\(summary.sendFailures) not sent") }
        var line = "replay: " + parts.joined(separator: ", ")
        if !summary.runs.isEmpty {
            line += "; runs: " + summary.runs.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        }
        if summary.stoppedEarly { line += "; stopped at the first bad line (--strict)" }
        lock.withLock {
            flushResults()
            if terminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }
}

/// Opens FILE or stdin.
func openInput(_ path: String) throws -> FileHandle {
    if path == "-" { return FileHandle.standardInput }
    guard let handle = FileHandle(forReadingAtPath: path) else { throw CommandFailure.exit("cannot read '\(path)'") }
    return handle
}

/// Lines in a file, for the progress bar (nil for stdin).
func lineCount(_ path: String) -> Int? {
    guard path != "-", let handle = FileHandle(forReadingAtPath: path) else { return nil }
    defer { try? handle.close() }
    var count = 0
    while let chunk = try? handle.read(upToCount: 1 << 20), !chunk.isEmpty {
        count += chunk.withUnsafeBytes { bytes in bytes.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) } }
    }
    return count
}
