import Foundation
import Testing
@testable import HookBus
#if canImport(Glibc)
import Glibc
#endif

/// Every run is confined (Landlock, namespaces and rlimits, set up in the run's child before its
/// execve):
/// real scripts try to reach what they must not, and hit their limits.
@Suite struct SandboxTests {
    /// The machine these tests run on offers Landlock (Linux 6.x with it enabled), so runs are
    /// confined by default; without it every test here would prove nothing, so this fails.
    @Test func runsAreConfinedByDefaultHere() {
        #expect(Sandbox.automatic.isConfined, "\(Sandbox.automatic.summary)")
        #expect(Sandbox.automatic.warning == nil)
    }

    /// A folder outside /tmp (the run's /tmp is its own), readable by anyone as far as file modes
    /// go: only the sandbox stands between a run and it.
    final class Outside {
        let path = "/var/tmp/hookbus-sandbox-test-\(UUID().uuidString)"
        init() {
            mkdir(path, 0o755)
            chmod(path, 0o755)
        }
        func write(_ name: String, _ text: String) -> String {
            let file = path + "/" + name
            FileManager.default.createFile(atPath: file, contents: Data(text.utf8), attributes: [.posixPermissions: 0o644])
            return file
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    @Test func aRunCannotReachTheStoreTheConfigurationSecretsOtherRunsOrHookBus() async throws {
        let outside = Outside()
        let store = outside.write("hookbus.sqlite", "SQLite format 3 — every event and run")
        let configuration = outside.write("hookbus.yaml", "incident_system: {token: {file: secret}}")
        let secret = outside.write("other-integration.secret", "api-key-of-another-integration")
        // As root, a sandbox with uids of this test's own (a block of the default range: 65,536 ×
        // 28927 onwards): its one run becomes the first of them, so that the other run's folder and
        // the neighbour below can belong to that very uid.
        let sandbox = geteuid() == 0 ? try Sandbox.resolve(setting: .required, runUIDs: 1_895_759_872...1_895_759_887) : Sandbox.automatic
        let runUser = sandbox.runAs.map { (uid: UInt32(1_895_759_872), gid: $0.gid) }
        // Another run's folder, as HookBus makes them: under the same root (outside /tmp, which
        // each run has of its own), owned by the run's user and readable by mode — so that only
        // the sandbox stands in the way.
        let runRoot = outside.path + "/runs"
        mkdir(runRoot, 0o711)
        let otherRun = runRoot + "/run-1-other"
        mkdir(otherRun, 0o755)
        FileManager.default.createFile(atPath: otherRun + "/trigger.sh", contents: Data("echo other".utf8), attributes: [.posixPermissions: 0o644])
        if let runUser { chown(otherRun, runUser.uid, runUser.gid); chown(otherRun + "/trigger.sh", runUser.uid, runUser.gid) }
        // Another process of the same user as the run (file modes and ptrace rules let a process
        // read its own user's /proc entries and signal them): only the sandbox stops the run.
        let neighbour = Process()
        neighbour.executableURL = URL(fileURLWithPath: runUser == nil ? "/bin/sleep" : "/usr/bin/setpriv")
        neighbour.arguments = (runUser.map { ["--reuid=\($0.uid)", "--regid=\($0.gid)", "--clear-groups", "/bin/sleep"] } ?? []) + ["60"]
        try neighbour.run()
        defer { neighbour.terminate() }
        let code = """
            try() { if out=$(eval "$2" 2>&1); then echo "READ $1: ${out:0:60}"; else echo "DENIED $1"; fi; }
            try store "cat '\(store)'"
            try config "cat '\(configuration)'"
            try secret "cat '\(secret)'"
            try other-run "cat '\(otherRun)/trigger.sh'"
            try run-root "ls '\(runRoot)'"
            try hookbus-environ "cat /proc/\(getpid())/environ"
            try hookbus-cmdline "cat /proc/\(getpid())/cmdline"
            try hookbus-signal "kill -0 \(getpid())"
            try neighbour-environ "cat /proc/\(neighbour.processIdentifier)/environ"
            try neighbour-signal "kill -0 \(neighbour.processIdentifier)"
            try own-folder "echo mine > own.txt && cat own.txt"
            try tmp "echo t > /tmp/scratch && cat /tmp/scratch"
            echo "TMP $(ls -A /tmp | tr '\\n' ' ')"
            echo "USER $(id -u)"
            """
        let fixture = try RunnerFixture(language: "bash", actions: [("spy.yaml", triggerYAML("Spy", hooks: ["webhook"], code: code.replacingOccurrences(of: "\n", with: "\n    ")))],
                                        runRoot: runRoot, sandbox: sandbox)
        let run = try #require(try await fixture.fire(try Event.fromWebhook(body: Array("{}".utf8), endpoint: "x")).first)
        #expect(run.result.outcome == .succeeded, "\(run.result)")
        let lines = run.result.stdout.split(separator: "\n").map(String.init)
        for target in ["store", "config", "secret", "other-run", "hookbus-environ", "hookbus-cmdline", "hookbus-signal", "neighbour-environ", "neighbour-signal"] {
            #expect(lines.contains("DENIED \(target)"), "\(target): \(run.result.stdout)")
        }
        // The root of run folders, where the run can see it at all, holds its own folder only.
        #expect(!run.result.stdout.contains("run-1-other"), "\(run.result.stdout)")
        #expect(lines.contains("READ own-folder: mine"), "\(run.result.stdout)")
        #expect(lines.contains("USER \(runUser?.uid ?? getuid())"), "\(run.result.stdout)")
        #expect(lines.contains("READ tmp: t"), "\(run.result.stdout)")
        // The run's /tmp is its own: none of the host's /tmp (the test's own folders) is there.
        let tmp = try #require(lines.first { $0.hasPrefix("TMP ") })
        #expect(tmp == "TMP scratch ", "\(tmp)")
        // The settings the run got are recorded with its invocation.
        let stored = try #require(try await fixture.store.runs(RunFilter(eventID: run.invocation.eventID)).first)
        let invocation = try #require(stored.invocation.flatMap { try? JSONParser.parse($0) })
        #expect(invocation["sandbox"]?["mode"] == .string("landlock"), "\(stored.invocation ?? "")")
        #expect(invocation["sandbox"]?["network"] == .string("on"))
        #expect(invocation["sandbox"]?["limits"]?["processes"] == .number("256"))
        #expect(invocation["sandbox"]?["limits"]?["memoryBytes"] == .number(String(2 << 30)))
    }

    /// `runner.private_tmp: false` (no mount namespace per run, the sandbox's dearest part): the
    /// run has no /tmp at all rather than the host's, and TMPDIR still works.
    @Test func withoutAPrivateTmpTheHostsTmpIsDenied() async throws {
        let marker = "/tmp/hookbus-private-tmp-test-\(UUID().uuidString)"
        FileManager.default.createFile(atPath: marker, contents: Data("host".utf8), attributes: [.posixPermissions: 0o644])
        defer { try? FileManager.default.removeItem(atPath: marker) }
        let code = """
            cat \(marker) && echo "READ host tmp"
            echo x > /tmp/mine && echo "WROTE tmp"
            echo t > "$TMPDIR/scratch" && echo "TMPDIR $(cat "$TMPDIR/scratch")"
            """
        let sandbox = try Sandbox.resolve(setting: .required, privateTmp: false)
        #expect(sandbox.summary.contains("no private /tmp"), "\(sandbox.summary)")
        let fixture = try RunnerFixture(language: "bash", actions: [("tmp.yaml", triggerYAML("Tmp", hooks: ["webhook"], code: code.replacingOccurrences(of: "\n", with: "\n    ")))],
                                        sandbox: sandbox)
        let run = try #require(try await fixture.fire(try Event.fromWebhook(body: Array("{}".utf8), endpoint: "x")).first)
        #expect(run.result.stdout == "TMPDIR t\n", "\(run.result.stdout) \(run.result.stderr)")
        #expect(run.result.stderr.contains("Permission denied"), "\(run.result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "/tmp/mine"))
        #expect(sandbox.record(for: run.invocation.policy).contains(#""privateTmp":false"#), "\(sandbox.record(for: run.invocation.policy))")
        let configFolder = TempFolder()
        let loaded = ConfigurationLoader().load(path: configFolder.write("hookbus.yaml", "runner: {private_tmp: false}"), catalog: fixture.router.catalog)
        #expect(loaded.configuration?.privateTmp == false, "\(loaded.diagnostics)")
    }

    @Test func aForkBombIsStoppedByItsProcessLimit() async throws {
        // Starts processes without end; each start past the limit is refused (bash retries, then
        // gives up on that one and goes on) until the time limit ends the run and its group.
        let bomb = #"while :; do sleep 60 & done"#
        let fixture = try RunnerFixture(language: "bash", actions: [("bomb.yaml", triggerYAML("Bomb", hooks: ["webhook"], code: bomb))],
                                        config: "integrations: {'Incident Tools': {timeout: 3, limits: {processes: 24}, retry: {attempts: 1}}}")
        let run = try #require(try await fixture.fire(try Event.fromWebhook(body: Array("{}".utf8), endpoint: "x")).first)
        #expect(run.result.outcome == .timedOut, "\(run.result)")
        #expect(run.result.reason == "ran past its time limit of 3 s; it could not start more processes at its limit of 24 (limits.processes)", "\(run.result.reason ?? "no reason")")
    }

    /// The real uid of a process, nil once it has ended (or is a zombie, which runs nothing).
    static func uid(of pid: Int32) -> UInt32? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8), !status.contains("State:\tZ") else { return nil }
        let line = status.split(separator: "\n").first { $0.hasPrefix("Uid:") }
        return line?.split(separator: "\t").dropFirst().first.flatMap { UInt32($0) }
    }

    /// Whether the process ends (or is a zombie) within 10 s.
    static func ends(_ pid: Int32) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(10)
        while uid(of: pid) != nil {
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return true
    }

    /// A process of another HookBus's run under `uid`, as one that died would leave it; returned
    /// once it has become that uid (at most 10 s).
    static func strayProcess(uid: UInt32) async throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        process.arguments = ["--reuid=\(uid)", "--regid=65534", "--clear-groups", "/bin/sleep", "120"]
        try process.run()
        let deadline = ContinuousClock.now + .seconds(10)
        while Self.uid(of: process.processIdentifier) != uid && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        return process
    }

    /// As root, each run is a uid of its own (in `sandbox_user`'s group), handed out in turn from
    /// this process's block, and every process of that uid ends with the run — one that left its
    /// process group too. Processes under the block's uids that are not this HookBus's runs' (a
    /// HookBus that died left them) are ended when the block is taken and when the turn comes round.
    @Test(.enabled(if: geteuid() == 0, "only a root HookBus gives runs uids of their own"))
    func eachRunHasAUidOfItsOwnAndNothingItStartedOutlivesIt() async throws {
        // (A block of the default range of its own: 65,536 × 28925 onwards.)
        let range: ClosedRange<UInt32> = 1_895_628_800...1_895_628_815
        let before = try await Self.strayProcess(uid: range.lowerBound + 3)
        defer { before.terminate() }
        #expect(Self.uid(of: before.processIdentifier) == range.lowerBound + 3)
        let sandbox = try Sandbox.resolve(setting: .required, runUIDs: range)
        #expect(Self.uid(of: before.processIdentifier) == nil, "ended when the block was taken")
        #expect(sandbox.endedAtStart?.processes == 1 && sandbox.endedAtStart?.uids == "\(range.lowerBound)–\(range.upperBound)", "\(String(describing: sandbox.endedAtStart))")
        let group = try #require(sandbox.runAs?.gid)
        // A daemon that leaves the run's session (setsid); the run waits until it has.
        let code = #"setsid sh -c 'echo > left; exec sleep 120' </dev/null >/dev/null 2>&1 & while [ ! -e left ]; do :; done; echo "RUN $(id -u) $(id -g) $! $(stat -c %u .)""#
        let fixture = try RunnerFixture(language: "bash", actions: [("leave.yaml", triggerYAML("Leave", hooks: ["webhook"], code: code))], sandbox: sandbox)
        func fire() async throws -> (uid: UInt32, gid: UInt32, daemon: Int32, folderOwner: UInt32) {
            let run = try #require(try await fixture.fire(try Event.fromWebhook(body: Array("{}".utf8), endpoint: "x")).first)
            let fields = run.result.stdout.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            guard run.result.outcome == .succeeded, fields.count == 5, let uid = UInt32(fields[1]), let gid = UInt32(fields[2]),
                  let daemon = Int32(fields[3]), let owner = UInt32(fields[4]) else {
                throw EventError(.malformed, "unexpected run: \(run.result)")
            }
            return (uid, gid, daemon, owner)
        }
        var runs: [(uid: UInt32, gid: UInt32, daemon: Int32, folderOwner: UInt32)] = []
        for _ in range {
            let run = try await fire()
            // (SIGKILL was sent as the run ended; the process goes as soon as the kernel gets to it.)
            #expect(await Self.ends(run.daemon), "the daemon of uid \(run.uid) outlived its run")
            runs.append(run)
        }
        // Sixteen runs, sixteen uids, every one from the block, the folder the run's own.
        #expect(runs.map(\.uid) == Array(range), "\(runs)")
        #expect(runs.allSatisfy { $0.gid == group && $0.folderOwner == $0.uid }, "\(runs)")
        // The turn comes round: a process under one of the block's uids is ended first.
        let stray = try await Self.strayProcess(uid: range.lowerBound)
        defer { stray.terminate() }
        #expect(Self.uid(of: stray.processIdentifier) == range.lowerBound)
        let next = try await fire()
        #expect(next.uid == range.lowerBound)
        #expect(Self.uid(of: stray.processIdentifier) == nil, "ended when the turn came round")
    }

    /// As root, runs take mount namespaces with a private /tmp in turn (`TmpSlots`) rather than
    /// make one each: a namespace is handed on only once its run's processes have ended, and
    /// only when its /tmp is empty and carries no extended attribute; each run finds /tmp empty.
    @Test(.enabled(if: geteuid() == 0, "only a root HookBus hands runs namespaces made before"))
    func runsTakeANamespaceInTurnOnlyWhenNothingOfTheLastRunIsLeftInIt() async throws {
        let outside = Outside()
        let log = outside.path + "/log"
        mkdir(log, 0o777)
        chmod(log, 0o777)
        let code = """
            import os, subprocess
            n = len(open("\(log)/count").read()) if os.path.exists("\(log)/count") else 0
            open("\(log)/count", "a").write("x")
            # Which namespace: its /tmp's birth time (namespace and device numbers are reused).
            born = subprocess.run(["stat", "-c", "%w", "/tmp"], capture_output=True, text=True).stdout.strip()
            print("TMP", sorted(os.listdir("/tmp")), "BORN", born)
            if n == 0:
                left = subprocess.Popen(["sleep", "120"], start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                print("LEFT", left.pid)
            elif n == 1:
                open("/tmp/secret", "w").write("kept by the second run")
            elif n == 2:
                try:
                    os.setxattr("/tmp", "user.mark", b"1")
                    print("XATTR set")
                except OSError as error:
                    print("XATTR", error.errno)
            """
        let sandbox = try Sandbox.resolve(setting: .required, runUIDs: 1_895_694_336...1_895_694_351)
        let fixture = try RunnerFixture(language: "python", actions: [("turns.yaml", triggerYAML("Turns", hooks: ["webhook"], code: code.replacingOccurrences(of: "\n", with: "\n    ")))],
                                        config: "runner: {sandbox_write: ['\(log)']}", concurrency: 1, runRoot: outside.path + "/runs", sandbox: sandbox)
        func fire() async throws -> [String] {
            let run = try #require(try await fixture.fire(try Event.fromWebhook(body: Array("{}".utf8), endpoint: "x")).first)
            #expect(run.result.outcome == .succeeded, "\(run.result)")
            return run.result.stdout.split(separator: "\n").map(String.init)
        }
        func namespace(_ lines: [String]) -> String? {
            guard let line = lines.first, let range = line.range(of: " BORN ") else { return nil }
            let born = String(line[range.upperBound...])
            return born.isEmpty || born == "-" ? nil : born
        }
        let first = try await fire()
        // What the first run left running ended with it.
        let left = try #require(first.first(where: { $0.hasPrefix("LEFT ") }).flatMap { Int32($0.dropFirst(5)) })
        #expect(await Self.ends(left), "\(first)")
        let second = try await fire()
        let third = try await fire()
        let fourth = try await fire()
        // Each found /tmp empty.
        for lines in [first, second, third, fourth] { #expect(lines.first?.hasPrefix("TMP [] BORN ") == true && namespace(lines) != nil, "\(lines)") }
        // The first left its /tmp as it found it: the second took the same namespace. The second
        // left a file: the third got a new one.
        #expect(namespace(first) != nil && namespace(first) == namespace(second), "\(first) \(second)")
        #expect(namespace(third) != nil && namespace(third) != namespace(second), "\(second) \(third)")
        // The third left an extended attribute on /tmp (where tmpfs keeps them): dropped too.
        if third.contains("XATTR set") {
            #expect(namespace(fourth) != namespace(third), "\(third) \(fourth)")
        } else {
            #expect(namespace(fourth) == namespace(third), "\(third) \(fourth)")
        }
    }

    /// The read-only grants are opened once for all runs (`GrantCache`); a file replaced by rename
    /// (as `resolv.conf` is) is granted as the new file from the next run on, not as the old inode.
    @Test func aReadOnlyFileReplacedByRenameIsGrantedAsTheNewOne() async throws {
        let outside = Outside()
        let file = outside.write("settings.conf", "first")
        let fixture = try RunnerFixture(language: "bash", actions: [("read.yaml", triggerYAML("Read", hooks: ["webhook"], code: "cat '\(file)'"))],
                                        config: "runner: {sandbox_read: ['\(file)']}")
        func fire() async throws -> RunResult {
            try #require(try await fixture.fire(try Event.fromWebhook(body: Array("{}".utf8), endpoint: "x")).first).result
        }
        let first = try await fire()
        #expect(first.outcome == .succeeded && first.stdout == "first", "\(first)")
        let replacement = outside.write("settings.conf.new", "second")
        #expect(rename(replacement, file) == 0)
        let second = try await fire()
        #expect(second.outcome == .succeeded && second.stdout == "second", "\(second)")
        // Changed in place (the same inode), it is read as it is now.
        try Data("third".utf8).write(to: URL(fileURLWithPath: file))
        let third = try await fire()
        #expect(third.outcome == .succeeded && third.stdout == "third", "\(third)")
    }

    /// A run whose folder lies under the host's /tmp (`runner.run_dir` there) gets a namespace of
    /// its own, its folder bound at the same path into its private /tmp: it works in its folder
    /// and sees nothing else of the host's /tmp.
    @Test func aRunWhoseFolderIsUnderTheHostsTmpHasItBoundIntoItsOwnTmp() async throws {
        let base = "/tmp/hookbus-bound-\(UUID().uuidString)"
        mkdir(base, 0o755)
        defer { try? FileManager.default.removeItem(atPath: base) }
        let marker = "/tmp/hookbus-bound-marker-\(UUID().uuidString)"
        FileManager.default.createFile(atPath: marker, contents: Data("host".utf8), attributes: [.posixPermissions: 0o644])
        defer { unlink(marker) }
        let code = #"echo mine > own.txt && cat own.txt; echo "TMP $(ls -A /tmp | tr '\n' ' ')"; cat \#(marker) 2>/dev/null && echo SEEN; echo "CWD $PWD""#
        let fixture = try RunnerFixture(language: "bash", actions: [("bound.yaml", triggerYAML("Bound", hooks: ["webhook"], code: code))], runRoot: base + "/runs")
        let run = try #require(try await fixture.fire(try Event.fromWebhook(body: Array("{}".utf8), endpoint: "x")).first)
        #expect(run.result.outcome == .succeeded, "\(run.result)")
        let lines = run.result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "mine" && !lines.contains("SEEN"), "\(run.result.stdout)")
        #expect(lines.contains("TMP \(base.dropFirst(5)) "), "\(run.result.stdout)")
        #expect(lines.contains { $0.hasPrefix("CWD \(base)/runs/run-") }, "\(run.result.stdout)")
    }

    @Test func aMemoryHogIsStoppedByItsMemoryLimit() async throws {
        let hog = "data = bytearray(3 * 1024 ** 3)\nprint(len(data))"
        let fixture = try RunnerFixture(language: "python", actions: [("hog.yaml", triggerYAML("Hog", hooks: ["webhook"], code: hog.replacingOccurrences(of: "\n", with: "\n    ")))],
                                        config: "integrations: {'Incident Tools': {limits: {memory: 256MiB}, retry: {attempts: 1}}}")
        let run = try #require(try await fixture.fire(try Event.fromWebhook(body: Array("{}".utf8), endpoint: "x")).first)
        #expect(run.result.outcome == .failed, "\(run.result)")
        #expect(run.result.reason == "ran out of memory at its limit of 256 MiB (limits.memory)", "\(run.result)")
    }

    @Test func cpuAndFileSizeLimitsEndARunWithTheirSignal() async throws {
        let fixture = try RunnerFixture(language: "bash", actions: [
            ("spin.yaml", triggerYAML("Spin", hooks: ["webhook"], code: "while :; do :; done")),
        ], config: "integrations: {'Incident Tools': {limits: {cpu_seconds: 1}, action_limits: {Spin: {file_size: 1MiB}}, retry: {attempts: 1}}}")
        let run = try #require(try await fixture.fire(try Event.fromWebhook(body: Array("{}".utf8), endpoint: "x")).first)
        #expect(run.result.outcome == .killed && run.result.signal == SIGXCPU, "\(run.result)")
        #expect(run.result.reason == "stopped at its CPU time limit of 1 s (limits.cpu_seconds)")

        let writer = try RunnerFixture(language: "bash", actions: [("big.yaml", triggerYAML("Big", hooks: ["webhook"], code: "head -c 3000000 /dev/zero > big.bin"))],
                                       config: "integrations: {'Incident Tools': {action_limits: {Big: {file_size: 1MiB}}, retry: {attempts: 1}}}")
        let written = try #require(try await writer.fire(try Event.fromWebhook(body: Array("{}".utf8), endpoint: "x")).first)
        // head is ended by SIGXFSZ; bash, the run's process, exits with 128 + its number.
        #expect(written.result.outcome == .failed && written.result.exitCode == 128 + SIGXFSZ, "\(written.result)")
        #expect(written.result.reason == "stopped writing a file past its size limit of 1 MiB (limits.file_size)", "\(written.result)")
    }

    @Test func networkFalseBlocksAConnectThatNetworkTrueMakes() async throws {
        let listener = try LoopbackListener()
        let code = """
            import socket
            try:
                socket.create_connection(("127.0.0.1", \(listener.port)), timeout=5).close()
                print("connected")
            except OSError as error:
                print("refused", error.errno)
            """.replacingOccurrences(of: "\n", with: "\n    ")
        let closed = try RunnerFixture(language: "python", actions: [("net.yaml", triggerYAML("Net", hooks: ["webhook"], code: code))],
                                       config: "integrations: {'Incident Tools': {network: false}}")
        let open = try RunnerFixture(language: "python", actions: [("net.yaml", triggerYAML("Net", hooks: ["webhook"], code: code))])
        let blocked = try #require(try await closed.fire(try Event.fromWebhook(body: Array("{}".utf8), endpoint: "x")).first)
        let reached = try #require(try await open.fire(try Event.fromWebhook(body: Array("{}".utf8), endpoint: "x")).first)
        #expect(blocked.result.stdout.hasPrefix("refused"), "\(blocked.result)")
        #expect(reached.result.stdout == "connected\n", "\(reached.result)")
        let stored = try #require(try await closed.store.runs(RunFilter(eventID: blocked.invocation.eventID)).first)
        #expect(stored.invocation?.contains(#""network":"off"#) == true, "\(stored.invocation ?? "")")
    }

    /// A folder granted for reading stays read-only though it lies under the run's own /tmp
    /// (writable by mode), and a link a run plants where a later run's grant points is refused,
    /// not followed.
    @Test func readOnlyStaysReadOnlyAndAPlantedLinkIsRefused() async throws {
        let folder = TempFolder()
        let readable = folder.sharedWithRuns("readable")
        FileManager.default.createFile(atPath: readable + "/f.txt", contents: Data("data".utf8), attributes: [.posixPermissions: 0o666])
        let shared = folder.sharedWithRuns("shared")
        mkdir(shared + "/inner", 0o777)
        chmod(shared + "/inner", 0o777)
        let outside = Outside()
        _ = outside.write("secret", "top secret")
        let code = """
            if echo more >> '\(readable)/f.txt'; then echo WROTE-READ-ONLY; else echo DENIED-READ-ONLY; fi
            rm -rf '\(shared)/inner' && ln -s '\(outside.path)' '\(shared)/inner' && echo PLANTED
            cat '\(shared)/inner/secret' 2>/dev/null || true
            """
        let fixture = try RunnerFixture(language: "bash", actions: [("plant.yaml", triggerYAML("Plant", hooks: ["webhook"], code: code.replacingOccurrences(of: "\n", with: "\n    ")))],
                                        config: "integrations: {'Incident Tools': {sandbox_read: ['\(readable)', '\(shared)/inner'], sandbox_write: ['\(shared)'], retry: {attempts: 1}}}")
        let first = try #require(try await fixture.fire(try Event.fromWebhook(body: Array("{}".utf8), endpoint: "x")).first)
        #expect(first.result.stdout.contains("DENIED-READ-ONLY") && first.result.stdout.contains("PLANTED"), "\(first.result)")
        #expect(try String(contentsOfFile: readable + "/f.txt", encoding: .utf8) == "data")
        let second = try #require(try await fixture.fire(try Event.fromWebhook(body: Array("{}".utf8), endpoint: "x")).first)
        #expect(second.result.outcome == .error && second.result.reason?.contains("a symbolic link is on the way") == true, "\(second.result)")
        #expect(!second.result.stdout.contains("top secret") && !first.result.stdout.contains("top secret"))
    }

    @Test func everythingAndTmpCannotBeGranted() throws {
        let folder = TempFolder()
        folder.write("hooks/int.yaml", integrationYAML())
        folder.write("hooks/t.yaml", triggerYAML("T", hooks: ["webhook"]))
        let catalog = DefinitionLoader().load([folder.path + "/hooks"]).catalog
        let path = folder.write("hookbus.yaml", "runner: {sandbox_read: [/, /tmp/], sandbox_write: ['/tmp/../tmp']}\n")
        let messages = ConfigurationLoader().load(path: path, catalog: catalog).diagnostics.map { $0.description.replacingOccurrences(of: folder.path + "/", with: "") }
        #expect(messages.contains("hookbus.yaml:1:25: error: 'runner.sandbox_read' cannot list '/': it would open every file to every run"), "\(messages)")
        #expect(messages.contains("hookbus.yaml:1:28: error: 'runner.sandbox_read' cannot list '/tmp/': each run has a /tmp of its own"), "\(messages)")
        #expect(messages.contains { $0.hasPrefix("hookbus.yaml:1:52: error: 'runner.sandbox_write' cannot list '/tmp/../tmp'") }, "\(messages)")
    }

    @Test func limitsAndTheSandboxSettingAreCheckedWhereTheyAreWritten() throws {
        let folder = TempFolder()
        folder.write("hooks/int.yaml", integrationYAML())
        folder.write("hooks/t.yaml", triggerYAML("T", hooks: ["webhook"]))
        let catalog = DefinitionLoader().load([folder.path + "/hooks"]).catalog
        let path = folder.write("hookbus.yaml", """
            runner:
              sandbox: sometimes
              limits: {memory: 12 parsecs, processes: 0}
            integrations:
              'Incident Tools':
                network: maybe
                action_limits: {Nope: {cpu_seconds: 2}}
                sandbox_write: [relative/path]
            """)
        let tmp = folder.write("tmp.yaml", "runner: {private_tmp: sometimes}")
        let tmpMessages = ConfigurationLoader().load(path: tmp, catalog: catalog).diagnostics.map(\.description)
        #expect(tmpMessages.contains { $0.contains("tmp.yaml:1:23: error:") && $0.contains("runner.private_tmp") }, "\(tmpMessages)")
        // Uids for runs: a range of at least 16, written FIRST-LAST, without 0 (root).
        for (text, valid) in [("1879048192-1879048207", true), ("0-100", false), ("2000-2010", false), ("2000", false), ("3000-2000", false), ("5-4294967295", false)] {
            let file = folder.write("uids.yaml", "runner: {run_uids: '\(text)'}")
            let loaded = ConfigurationLoader().load(path: file, catalog: DefinitionLoader().load([]).catalog)
            if valid {
                #expect(loaded.configuration?.runUIDs == 1_879_048_192...1_879_048_207, "\(loaded.diagnostics)")
            } else {
                #expect(loaded.diagnostics.map(\.description).contains { $0.contains("uids.yaml:1:20: error: 'runner.run_uids' is a range of at least 16 uids") }, "\(text): \(loaded.diagnostics)")
            }
        }
        let messages = ConfigurationLoader().load(path: path, catalog: catalog).diagnostics.map { $0.description.replacingOccurrences(of: folder.path + "/", with: "") }
        #expect(messages.contains("hookbus.yaml:2:12: error: 'runner.sandbox' is one of 'auto', 'required', 'none', not 'sometimes'"), "\(messages)")
        #expect(messages.contains("hookbus.yaml:3:20: error: 'runner.limits.memory' is a size in bytes, or with a unit (KiB, MiB, GiB), or 'none'; not '12 parsecs'"), "\(messages)")
        #expect(messages.contains("hookbus.yaml:3:43: error: 'runner.limits.processes' is a whole number from 1 to 1000000, or 'none'; not '0'"), "\(messages)")
        #expect(messages.contains { $0.hasPrefix("hookbus.yaml:6:14: error:") && $0.contains("network") }, "\(messages)")
        #expect(messages.contains { $0.hasPrefix("hookbus.yaml:7:21: error: integration 'Incident Tools' has no action 'Nope'") }, "\(messages)")
        #expect(messages.contains("hookbus.yaml:8:21: error: 'integrations.Incident Tools.sandbox_write' lists absolute paths, not 'relative/path'"), "\(messages)")
    }
}

/// A TCP listener on a loopback port that the kernel completes connections for (no accept
/// needed: the backlog holds them).
final class LoopbackListener {
    let descriptor: Int32
    let port: UInt16

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        descriptor = fd
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw POSIXError(.EADDRNOTAVAIL) }
        port = UInt16(bigEndian: address.sin_port)
    }

    deinit { close(descriptor) }
}
