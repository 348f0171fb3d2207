import Foundation
import HookBus
import Testing

/// Hostile bodies against a real server: while four senders post bodies shaped to find the
/// parser's worst case, the server keeps answering. Requests are made by `curl` processes, so
/// that the figures are the server's, not this test process's (whose threads other tests use).
@Suite(.serialized) struct HostileInputEndToEndTests {
    /// Seconds `curl` took for a GET of `url`.
    static func timedGet(_ url: String) throws -> Double {
        let process = Process()
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["-s", "--noproxy", "*", "-o", "/dev/null", "-w", "%{http_code} %{time_total}", "--max-time", "10", url]
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let parts = String(decoding: data, as: UTF8.self).split(separator: " ")
        guard parts.count == 2, parts[0] == "200", let seconds = Double(parts[1]) else { return 10 }
        return seconds
    }

    @Test func healthAnswersWhileFourHostileBodiesAreBeingSent() async throws {
        let scratch = Scratch()
        scratch.write("hooks/int.yaml", "name: 'Ops'\nscript:\n  type: bash\nconfiguration:\n  data_attributes: {}\n")
        scratch.write("hooks/t.yaml", "integration: 'Ops'\nname: 'T'\ntype: Trigger\nscript:\n  code: 'true'\nhook: [closeTask]\n")
        // 60,000 keys at the top level, just under the 1 MiB body limit: read to the end, then
        // refused (422: the hook's params are missing), so nothing is stored.
        let body = "{" + (0..<60_000).map { "\"k\($0)\": \($0)" }.joined(separator: ", ") + "}"
        #expect(body.utf8.count < 1 << 20)
        let bodyPath = scratch.write("hostile.json", body)
        let server = try ServerProcess(directory: scratch.path, arguments: ["--hooks", "hooks"])
        defer { server.stop() }
        #expect(try Self.timedGet(server.base + "/healthz") < 10)

        // Four senders, each posting the body again and again until told to stop.
        let stop = scratch.path + "/stop"
        var senders: [Process] = []
        for _ in 0..<4 {
            let sender = Process()
            sender.executableURL = URL(fileURLWithPath: "/bin/bash")
            sender.arguments = ["-c", "while [ ! -e '\(stop)' ]; do curl -s --noproxy '*' -o /dev/null -H 'Content-Type: application/json' --data-binary @'\(bodyPath)' '\(server.base)/api/v1/hooks/closeTask'; done"]
            try sender.run()
            senders.append(sender)
        }
        defer {
            FileManager.default.createFile(atPath: stop, contents: nil)
            for sender in senders { sender.waitUntilExit() }
        }
        // Let the senders get going, then ask for the health twenty times.
        try await Task.sleep(for: .milliseconds(500))
        var times: [Double] = []
        for _ in 0..<20 {
            times.append(try Self.timedGet(server.base + "/healthz"))
            try await Task.sleep(for: .milliseconds(50))
        }
        times.sort()
        let (_, metrics) = try await fetchText(server.base + "/metrics")
        let refused = metric(#"hookbus_events_rejected_total{reason="missing_param"}"#, in: metrics) ?? 0
        #expect(refused >= 4, "the hostile bodies were read and refused while /healthz was asked")
        // The median is the figure; the worst is bounded generously (this machine is shared).
        #expect(times[times.count / 2] < 0.1, "health answered in \(times) s")
        #expect(times.last! < 2, "health answered in \(times) s")
    }
}
