import Foundation
import Testing
@testable import HookBus

/// Where run folders go, and the root that is refused because someone else could read or
/// replace the code written there.
@Suite struct RunFoldersTests {
    static let trivial = [("t.yaml", triggerYAML("T", hooks: ["webhook"], code: "echo \"$PWD\""))]

    func fire(_ fixture: RunnerFixture, root: String) async throws -> RunResult {
        let runner = ProcessRunner(interpreters: Interpreters(configured: [:]), folders: RunFolders(configured: root))
        let engine = Engine(store: fixture.store, router: fixture.router, runner: runner)
        let event = try Event.fromWebhook(body: Array("{}".utf8), endpoint: "x")
        _ = try await fixture.store.accept([(event, nil)], idempotencyWindow: 60, claimed: true)
        return try #require(await engine.dispatch(StoredEvent(event: event, state: .running, attempt: 1)).runs.first).result
    }

    @Test func aConfiguredRootIsMadePrivateAndEachRunFolderIsRemoved() async throws {
        let fixture = try RunnerFixture(language: "bash", actions: Self.trivial)
        let root = fixture.folder.url.appendingPathComponent("deep/runs").path
        let result = try await fire(fixture, root: root)
        #expect(result.outcome == .succeeded, "\(result)")
        let folder = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(folder.hasPrefix(root + "/run-"))
        #expect(!FileManager.default.fileExists(atPath: folder), "the run folder is removed afterwards")
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: root)[.posixPermissions] as? Int)
        // 0700; as root 0711, so that runs, which have uids of their own, can pass through to theirs.
        #expect(mode & 0o077 == (geteuid() == 0 ? 0o011 : 0), "root made 0700 (0711 as root), not \(String(mode, radix: 8))")
        #expect(try FileManager.default.contentsOfDirectory(atPath: root).isEmpty)
    }

    @Test func aRootOthersCanWriteToIsRefusedWithTheReason() async throws {
        let fixture = try RunnerFixture(language: "bash", actions: Self.trivial)
        let root = fixture.folder.url.appendingPathComponent("shared").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        chmod(root, 0o777)
        let result = try await fire(fixture, root: root)
        #expect(result.outcome == .error)
        #expect(result.reason?.contains("writable by nobody else") == true, "\(result.reason ?? "")")
        #expect(try FileManager.default.contentsOfDirectory(atPath: root).isEmpty, "no code written there")
    }

    /// As root, a run reaches its folder as its own uid: a folder above the root that other users
    /// cannot pass is refused with the reason, rather than have every run fail to start.
    @Test(.enabled(if: geteuid() == 0, "only a root HookBus's runs have uids of their own"))
    func aRootOtherUsersCannotReachIsRefusedWithTheReason() async throws {
        let fixture = try RunnerFixture(language: "bash", actions: Self.trivial)
        let closed = fixture.folder.url.appendingPathComponent("closed").path
        mkdir(closed, 0o700)
        let result = try await fire(fixture, root: closed + "/runs")
        #expect(result.outcome == .error)
        #expect(result.reason?.contains("runs cannot reach their folders under \(closed)/runs: \(closed) (mode 700) does not let other users pass") == true, "\(result)")
    }

    @Test func aLinkInPlaceOfTheRootIsRefused() async throws {
        let fixture = try RunnerFixture(language: "bash", actions: Self.trivial)
        let elsewhere = fixture.folder.url.appendingPathComponent("elsewhere").path
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        let root = fixture.folder.url.appendingPathComponent("runs-link").path
        try FileManager.default.createSymbolicLink(atPath: root, withDestinationPath: elsewhere)
        let result = try await fire(fixture, root: root)
        #expect(result.outcome == .error)
        #expect(result.reason?.contains("is not a folder") == true, "\(result.reason ?? "")")
        #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere).isEmpty)
    }

    @Test func theSweepRemovesOnlyTheFoldersOfProcessesThatAreGone() throws {
        let fixture = try RunnerFixture(language: "bash", actions: Self.trivial)
        let folders = RunFolders(configured: fixture.folder.url.appendingPathComponent("runs").path)
        let mine = try folders.make()
        // A process that has exited and been reaped: its id names nobody now.
        let gone = Process()
        gone.executableURL = URL(fileURLWithPath: "/bin/true")
        try gone.run()
        gone.waitUntilExit()
        let abandoned = folders.root + "/run-\(gone.processIdentifier)-0f1e2d3c"
        try FileManager.default.createDirectory(atPath: abandoned + "/nested", withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: abandoned + "/trigger.sh", contents: Data("echo left".utf8))
        let unrelated = folders.root + "/notes"
        try FileManager.default.createDirectory(atPath: unrelated, withIntermediateDirectories: true)
        let unnamed = folders.root + "/run-abc"
        try FileManager.default.createDirectory(atPath: unnamed, withIntermediateDirectories: true)

        #expect(try folders.sweepAbandoned() == RunFolders.Sweep(folders: 1, processes: 0))
        #expect(!FileManager.default.fileExists(atPath: abandoned), "the dead process's folder and its files are removed")
        #expect(mine.hasPrefix(folders.root + "/run-\(getpid())-"))
        #expect(FileManager.default.fileExists(atPath: mine), "a live process's run folder stays")
        #expect(FileManager.default.fileExists(atPath: unrelated))
        #expect(FileManager.default.fileExists(atPath: unnamed), "a name without a process id is not a run folder")
        #expect(try folders.sweepAbandoned() == RunFolders.Sweep())
    }

    @Test func memoryBackedFilesystemsAreRecognisedAsTheKernelReportsThem() throws {
        for path in ["/dev/shm", "/proc", "/", NSTemporaryDirectory()] where FileManager.default.fileExists(atPath: path) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/stat")
            process.arguments = ["-f", "-c", "%T", path]
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            process.waitUntilExit()
            let type = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(RunFolders.isMemoryBacked(path) == (type == "tmpfs" || type == "ramfs"), "\(path) is \(type)")
        }
    }

    @Test func theDefaultRootIsInMemoryWhenTheMachineHasSuchAFolder() {
        let folders = RunFolders()
        #expect(folders.root.hasSuffix("/hookbus-runs-\(geteuid())"))
        if RunFolders.isMemoryBacked("/dev/shm") {
            #expect(folders.memoryBacked, "\(folders.root)")
        }
    }

    @Test func runDirIsReadFromTheConfiguration() {
        let folder = TempFolder()
        let path = folder.write("hookbus.yaml", "runner: {run_dir: /var/tmp/hookbus-runs}\n")
        let loaded = ConfigurationLoader().load(path: path, catalog: DefinitionLoader().load([]).catalog)
        #expect(loaded.configuration?.runDirectory == "/var/tmp/hookbus-runs", "\(loaded.diagnostics)")
    }
}
