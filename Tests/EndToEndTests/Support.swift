import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HookBus
import Testing

/// The built `hookbus` binary, next to the test bundle in the build folder.
let hookbusBinary: String = {
    var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    if folder.lastPathComponent.hasSuffix(".xctest") { folder = folder.deletingLastPathComponent() }
    for candidate in [folder, URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".build/debug")] {
        let path = candidate.appendingPathComponent("hookbus").path
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return folder.appendingPathComponent("hookbus").path
}()

let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

final class Scratch: @unchecked Sendable {
    let url: URL
    var path: String { url.path }

    init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("hookbus-e2e-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    /// `state/`: where triggers of a test keep what the test reads back. Runs are sandboxed and
    /// see only their own folder, so a configuration grants this one (`runner.sandbox_write`);
    /// writable by anyone, since as root HookBus runs triggers as `nobody`.
    lazy var state: String = {
        let folder = url.appendingPathComponent("state")
        try! FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        chmod(folder.path, 0o777)
        return folder.path
    }()

    @discardableResult
    func write(_ relative: String, _ text: String) -> String {
        let file = url.appendingPathComponent(relative)
        try! FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try! Data(text.utf8).write(to: file)
        return file.path
    }
}

struct CommandResult {
    let status: Int32
    let stdout: String
    let stderr: String
}

/// Runs `hookbus` with `arguments` in `directory` and waits for it.
func hookbus(_ arguments: [String], in directory: String, stdin: String? = nil, environment: [String: String] = [:]) throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: hookbusBinary)
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: directory)
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let out = directory + "/.stdout-\(UUID().uuidString)"
    let err = directory + "/.stderr-\(UUID().uuidString)"
    FileManager.default.createFile(atPath: out, contents: nil)
    FileManager.default.createFile(atPath: err, contents: nil)
    process.standardOutput = FileHandle(forWritingAtPath: out)
    process.standardError = FileHandle(forWritingAtPath: err)
    if let stdin {
        let input = directory + "/.stdin-\(UUID().uuidString)"
        FileManager.default.createFile(atPath: input, contents: Data(stdin.utf8))
        process.standardInput = FileHandle(forReadingAtPath: input)
    }
    try process.run()
    process.waitUntilExit()
    defer { try? FileManager.default.removeItem(atPath: out); try? FileManager.default.removeItem(atPath: err) }
    return CommandResult(status: process.terminationStatus,
                         stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
                         stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
}

/// `hookbus serve` as a child process on a free loopback port.
final class ServerProcess: @unchecked Sendable {
    let process = Process()
    let logPath: String
    private(set) var port = 0

    /// - Parameter openOnLoopback: pass `--open-on-loopback`, as most tests do: they talk to the
    ///   server without tokens unless they configure some.
    init(directory: String, arguments: [String] = [], environment: [String: String] = [:], openOnLoopback: Bool = true) throws {
        logPath = directory + "/server-\(UUID().uuidString).log"
        FileManager.default.createFile(atPath: logPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: hookbusBinary)
        process.arguments = ["serve", "--port", "0"] + (openOnLoopback ? ["--open-on-loopback"] : []) + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let log = FileHandle(forWritingAtPath: logPath)
        process.standardOutput = log
        process.standardError = log
        try process.run()
        for _ in 0..<600 {
            if let text = try? String(contentsOfFile: logPath, encoding: .utf8),
               let match = text.firstMatch(of: /listening on http:\/\/127\.0\.0\.1:([0-9]+)/) {
                port = Int(match.1)!
                return
            }
            if !process.isRunning { break }
            usleep(50_000)
        }
        throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "server did not start: \(log)"])
    }

    var base: String { "http://127.0.0.1:\(port)" }

    func kill9() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGTERM (a graceful stop), then SIGKILL if it is still running after 20 s.
    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        for _ in 0..<400 where process.isRunning { usleep(50_000) }
        if process.isRunning { kill9() }
        process.waitUntilExit()
    }

    deinit {
        if process.isRunning { kill9() }
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
}

/// One HTTP request; returns the status and body.
func request(_ method: String, _ url: String, body: String? = nil, headers: [String: String] = [:]) async throws -> (Int, JSONValue?) {
    var request = URLRequest(url: URL(string: url)!)
    request.httpMethod = method
    request.timeoutInterval = 30
    if let body {
        request.httpBody = Data(body.utf8)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
    }
    for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
    let (data, response) = try await URLSession.shared.data(for: request)
    return ((response as! HTTPURLResponse).statusCode, try? JSONParser.parse(String(decoding: data, as: UTF8.self)))
}

extension JSONValue {
    /// The elements of an array. Anything else is recorded as a test failure here: an empty
    /// array instead would let `count == 0` and `isEmpty` pass on an answer of the wrong shape.
    /// (`HookBus` has the optional `arrayValue`, for a caller that handles the nil itself.)
    var arrayValue: [JSONValue] {
        if case let .array(elements) = self { return elements }
        Issue.record("expected a JSON array, got \(self)")
        return []
    }
}

/// Checks `condition` every 50 ms until it holds (true) or `limit` has passed (false): what a
/// test waits on instead of a fixed sleep.
func eventually(within limit: Duration, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + limit
    while try await !condition() {
        if ContinuousClock.now >= deadline { return false }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return true
}

/// The value of a counter or gauge in a Prometheus text exposition; `name` with its labels as
/// exposed, e.g. `hookbus_events_rejected_total{reason="backlog_full"}`.
func metric(_ name: String, in text: String) -> Int? {
    text.split(separator: "\n").lazy.compactMap { line -> Int? in
        let parts = line.split(separator: " ")
        guard parts.count == 2, parts[0] == name else { return nil }
        return Double(parts[1]).map { Int($0) }
    }.first
}

/// A GET answered with text (`/metrics`): the status and the body.
func fetchText(_ url: String, headers: [String: String] = [:]) async throws -> (Int, String) {
    var request = URLRequest(url: URL(string: url)!)
    for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
    let (data, response) = try await URLSession.shared.data(for: request)
    return ((response as! HTTPURLResponse).statusCode, String(decoding: data, as: UTF8.self))
}
