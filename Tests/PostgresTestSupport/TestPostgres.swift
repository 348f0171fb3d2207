public import Foundation

/// The PostgreSQL the tests use: the shared throw-away cluster `Scripts/test` starts. A module
/// of its own so that the store tests and the end-to-end tests share it.
///
/// Tools run as processes (psql, `Scripts/postgres-cluster`) rather than through PostgresNIO, so
/// that what sets up a test never depends on the store under test.
public enum TestPostgres {
    /// HOOKBUS_TEST_POSTGRES_URL, or an error whose message says to run `Scripts/test` (tests
    /// that need PostgreSQL fail, never skip, without it).
    public static func sharedURL() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["HOOKBUS_TEST_POSTGRES_URL"], !url.isEmpty else {
            throw TestPostgresError(
                "HOOKBUS_TEST_POSTGRES_URL is not set: run the tests with `Scripts/test`, which starts a throw-away PostgreSQL "
                    + "(or set it to the URL of a server where the tests may create databases)")
        }
        return url
    }

    /// A new, empty database on the shared cluster (CREATE DATABASE with a unique name, through
    /// `/usr/bin/psql` run as a Process), and its URL.
    ///
    /// Nothing drops it: the whole cluster goes when `Scripts/test` ends.
    public static func freshDatabase() throws -> String {
        let shared = try sharedURL()
        guard var components = URLComponents(string: shared) else {
            throw TestPostgresError("HOOKBUS_TEST_POSTGRES_URL is not a URL: \(shared)")
        }
        // Lower-case letters, digits and _ only: a name psql needs no quotes for.
        let name = "hookbus_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        try psql(shared, "CREATE DATABASE \(name)")
        components.path = "/" + name
        guard let url = components.string else { throw TestPostgresError("cannot make a URL for database \(name) from \(shared)") }
        return url
    }

    /// Runs `sql` on `url` with psql; returns its output, unaligned and without headers, trimmed.
    /// - Throws: `TestPostgresError` with psql's stderr when psql exits non-zero (an SQL error
    ///   included: ON_ERROR_STOP).
    @discardableResult
    public static func psql(_ url: String, _ sql: String) throws -> String {
        try run("/usr/bin/psql", [url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-tA", "-c", sql], environment: ["PGCONNECT_TIMEOUT": "10"])
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `Scripts/postgres-cluster` with `arguments`; returns its output, trimmed.
    @discardableResult
    public static func cluster(_ arguments: [String]) throws -> String {
        // Through bash: a lost executable bit (an archive, a copy) must not break the tests.
        try run("/bin/bash", [clusterScript] + arguments).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// HOOKBUS_TEST_POSTGRES_CLUSTER_SCRIPT (set by `Scripts/test`), else the package's own.
    public static var clusterScript: String {
        if let script = ProcessInfo.processInfo.environment["HOOKBUS_TEST_POSTGRES_CLUSTER_SCRIPT"], !script.isEmpty { return script }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Scripts/postgres-cluster").path
    }

    /// Runs `executable` and waits for it, at most `timeout` seconds (then SIGTERM, and SIGKILL
    /// two seconds later); returns its stdout.
    /// - Throws: `TestPostgresError` with the command and its stderr when it exits non-zero or
    ///   times out.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:], timeout: TimeInterval = 120) throws -> String {
        // Output goes to files, not pipes: `postgres-cluster start` leaves a server running, and
        // a pipe a daemon inherited would never reach its end.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hookbus-testpg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("stdout"), err = folder.appendingPathComponent("stderr")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        FileManager.default.createFile(atPath: err.path, contents: nil)
        let outHandle = try FileHandle(forWritingTo: out), errHandle = try FileHandle(forWritingTo: err)
        defer { try? outHandle.close(); try? errHandle.close() }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = outHandle
        process.standardError = errHandle
        try process.run()

        let deadline = Date().addingTimeInterval(timeout)
        var timedOut = false
        while process.isRunning {
            if !timedOut, Date() > deadline {
                timedOut = true
                process.terminate()
                let pid = process.processIdentifier
                DispatchQueue.global().asyncAfter(deadline: .now() + 2) { _ = kill(pid, SIGKILL) }
            }
            usleep(5_000)
        }
        let stdout = (try? String(contentsOf: out, encoding: .utf8)) ?? ""
        let stderr = ((try? String(contentsOf: err, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let command = ([executable] + arguments).joined(separator: " ")
        if timedOut { throw TestPostgresError("\(command): no end after \(Int(timeout)) s\(stderr.isEmpty ? "" : ": \(stderr)")") }
        guard process.terminationStatus == 0 else {
            throw TestPostgresError("\(command): exit \(process.terminationStatus)\(stderr.isEmpty ? "" : ": \(stderr)")")
        }
        return stdout
    }
}

/// A cluster of a test's own (for tests that stop, kill or start PostgreSQL), through
/// `Scripts/postgres-cluster`; removed when released.
///
/// All its properties are constants, so it is checked `Sendable`; its methods block the calling
/// thread for as long as the script runs (about a second to start or stop).
public final class PrivateCluster: Sendable {
    /// `postgres://hookbus@127.0.0.1:PORT/hookbus`, the same across stops and starts.
    public let url: String
    /// In /tmp rather than $TMPDIR: as root the cluster belongs to an unprivileged user, who
    /// must reach the folder, and the server's socket path must stay short.
    public let folder: String

    public init() throws {
        let folder = "/tmp/hookbus-pg-" + UUID().uuidString.prefix(8).lowercased()
        do {
            url = try TestPostgres.cluster(["start", folder])
        } catch {
            _ = try? TestPostgres.cluster(["remove", folder])
            throw error
        }
        self.folder = folder
    }

    /// Fast shutdown (`pg_ctl stop -m fast`): connections end, the server checkpoints.
    public func stop() throws { try TestPostgres.cluster(["stop", folder]) }

    /// Starts the stopped (or killed: crash recovery first) server again on the same port.
    public func startAgain() throws { try TestPostgres.cluster(["start-again", folder]) }

    /// SIGKILL to the postmaster and its children: a crash, with only what was committed kept.
    public func kill() throws { try TestPostgres.cluster(["kill", folder]) }

    deinit { _ = try? TestPostgres.cluster(["remove", folder]) }
}

/// Why the test PostgreSQL is not there, or a tool for it failed.
public struct TestPostgresError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
