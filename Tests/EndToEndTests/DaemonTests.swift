import Foundation
import HookBus
import Testing

/// Daemon actions inside a real server: their objects become events that reach triggers, and
/// their cursor carries across a restart.
@Suite(.serialized) struct DaemonTests {
    static func setUp(_ scratch: Scratch) {
        scratch.write("hooks/feed.yaml", "name: 'Feed'\nscript:\n  type: bash\nconfiguration:\n  data_attributes: {}\n")
        scratch.write("hooks/poll.yaml", """
            integration: 'Feed'
            name: 'Poll'
            type: Daemon
            script:
              code: |
                n=${since:-0}
                echo "[{\\"id\\": $((n + 1)), \\"kind\\": \\"alert\\"}, {\\"id\\": $((n + 2)), \\"kind\\": \\"alert\\"}]"
            fields:
              - id: since
                label: 'Last id seen'
                type: number
                required: true
                default: '0'
            """)
        scratch.write("hooks/broken.yaml", """
            integration: 'Feed'
            name: 'Broken'
            type: Daemon
            script:
              code: 'echo "not a list"'
            """)
        scratch.write("hooks/seen.yaml", """
            integration: 'Feed'
            name: 'Seen'
            type: Trigger
            script:
              code: 'echo "$payload"'
            hook: [webhook]
            """)
        scratch.write("hookbus.yaml", """
            daemons:
              alerts:
                integration: 'Feed'
                action: 'Poll'
                every: 1s
                cursor: {field: since, from: id}
              broken:
                integration: 'Feed'
                action: 'Broken'
                every: 1h
            """)
    }

    /// The ids the trigger saw, from its runs' stdout.
    static func seenIDs(_ server: ServerProcess) async throws -> [Int] {
        let (_, body) = try await request("GET", server.base + "/api/v1/runs?trigger=Seen&outcome=succeeded&limit=1000")
        return (body?["runs"]?.arrayValue ?? []).compactMap { run in
            run["stdout"]?.stringValue.flatMap { try? JSONParser.parse($0) }?["id"]?.scalarText.flatMap { Int($0) }
        }.sorted()
    }

    static func waitForSeen(_ server: ServerProcess, atLeast count: Int) async throws -> [Int] {
        for _ in 0..<200 {
            let ids = try await seenIDs(server)
            if ids.count >= count { return ids }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try await seenIDs(server)
    }

    @Test func objectsReachTriggersAndTheCursorSurvivesARestart() async throws {
        let scratch = Scratch()
        Self.setUp(scratch)
        let first = try ServerProcess(directory: scratch.path, arguments: ["--hooks", "hooks"])
        let before = try await Self.waitForSeen(first, atLeast: 4)
        #expect(Array(before.prefix(4)) == [1, 2, 3, 4], "each run starts after the last object of the previous one")
        // A daemon that prints something other than an array: a failed run with the reason, no events.
        let (_, failed) = try await request("GET", first.base + "/api/v1/runs?trigger=Broken")
        let broken = try #require(failed?["runs"]?.arrayValue.first)
        #expect(broken["outcome"] == .string("failed"))
        #expect(broken["reason"]?.stringValue?.contains("must print a JSON array of objects") == true)
        #expect(broken["hook"] == .string("action"))
        first.stop()

        let seenBeforeRestart = before.count
        let lastBefore = try #require(before.last)
        let second = try ServerProcess(directory: scratch.path, arguments: ["--hooks", "hooks"])
        defer { second.stop() }
        let after = try await Self.waitForSeen(second, atLeast: seenBeforeRestart + 2)
        let new = after.filter { $0 > lastBefore }
        #expect(new.count >= 2, "runs after the restart continue from the saved cursor: \(after)")
        #expect(new.first == lastBefore + 1, "\(after)")
        #expect(Set(after).count == after.count, "no object became two events")
    }

    @Test func aBadDaemonConfigurationIsReportedAtItsLine() throws {
        let scratch = Scratch()
        Self.setUp(scratch)
        scratch.write("hookbus.yaml", "daemons:\n  x:\n    integration: 'Feed'\n    action: 'Seen'\n    every: 'soon'\n")
        let result = try hookbus(["validate", "hooks", "--config", "hookbus.yaml"], in: scratch.path)
        #expect(result.status != 0)
        let printed = result.stdout + result.stderr
        #expect(printed.contains("hookbus.yaml:4:13: error: daemon 'x': action 'Seen' is of type Trigger, not Daemon"), "\(printed)")
        #expect(printed.contains("hookbus.yaml:5:12: error: daemon 'x': 'every' must be a number and a unit"), "\(printed)")
    }
}
