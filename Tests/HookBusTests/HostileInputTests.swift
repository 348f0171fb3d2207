import Foundation
import Testing
@testable import HookBus

/// Bodies shaped to find a parser's worst case, each about 1 MiB (the server's default body
/// limit): every one must cost time in proportion to its size. The bound is the CPU time of the
/// thread that parses (other tests run in this process), and generous — it catches quadratic
/// work (a 70,000-key body took minutes), not a slow machine or a debug build.
@Suite struct HostileInputTests {
    /// CPU seconds this thread spends in `work`.
    static func cpuSeconds(_ work: () throws -> Void) rethrows -> Double {
        func now() -> Double {
            var time = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
            return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
        }
        let start = now()
        try work()
        return now() - start
    }

    /// Generous: a debug build parses a megabyte in well under a second.
    static let bound = 3.0

    static func keys(_ count: Int, named name: (Int) -> String) -> String {
        "{" + (0..<count).map { "\"\(name($0))\": \($0)" }.joined(separator: ", ") + "}"
    }

    static let shapes: [(name: String, body: String)] = [
        ("70,000 keys at the top level", keys(70_000) { "k\($0)" }),
        ("70,000 repeats of one key at the top level", keys(70_000) { _ in "same" }),
        ("70,000 keys one level down", "{\"tasksBeforeUpdate\": \(keys(70_000) { "k\($0)" }), \"tasksAfterUpdate\": {}}"),
        ("70,000 repeats of one key one level down", "{\"tasksBeforeUpdate\": \(keys(70_000) { _ in "same" }), \"tasksAfterUpdate\": {}}"),
        ("a string of 170,000 escapes", "{\"tasksBeforeUpdate\": {\"note\": \"" + String(repeating: "\\u0041", count: 170_000) + "\"}, \"tasksAfterUpdate\": {}}"),
        ("500,000 tiny numbers", "{\"tasksBeforeUpdate\": {\"n\": [" + Array(repeating: "0", count: 500_000).joined(separator: ",") + "]}, \"tasksAfterUpdate\": {}}"),
        ("2,000 nestings just under the depth bound", "{\"tasksBeforeUpdate\": {\"n\": [" + Array(repeating: String(repeating: "[", count: 250) + String(repeating: "]", count: 250), count: 2_000).joined(separator: ",") + "]}, \"tasksAfterUpdate\": {}}"),
    ]

    @Test(arguments: 0..<shapes.count)
    func aHookBodyCostsTimeInProportionToItsSize(_ index: Int) throws {
        let (name, body) = Self.shapes[index]
        #expect(body.utf8.count > 500_000 && body.utf8.count < 1_600_000, "\(name): \(body.utf8.count) bytes")
        let seconds = Self.cpuSeconds {
            // Accepted or refused (a missing param), it is read to the end either way.
            _ = try? Event.fromHookBody(hook: "closeTask", body: Array(body.utf8), source: EventSource(kind: .hook))
        }
        #expect(seconds < Self.bound, "\(name): \(seconds) s of CPU")
        let parse = Self.cpuSeconds { _ = try? JSONParser.parse(body) }
        #expect(parse < Self.bound, "\(name): \(parse) s of CPU to parse")
    }

    @Test func theLastOfARepeatedTopLevelKeyWinsInItsPlace() throws {
        var parser = JSONParser(#"{"a": 1, "b": 2, "a": 3, "c": 4, "b": 5}"#)
        let members = try parser.parseObjectMembers()
        #expect(members.map(\.key) == ["a", "c", "b"])
        #expect(members.map(\.raw) == ["3", "4", "5"])
    }

    @Test func aRecordedEventWithManyParamsIsReadInProportionToItsSize() throws {
        let params = Self.keys(70_000) { "k\($0)" }
        let record = "{\"id\": \"evt_1\", \"hook\": \"webhook\", \"params\": {\"payload\": \(params)}}"
        let seconds = Self.cpuSeconds { _ = try? Event.fromRecord(record) }
        #expect(seconds < Self.bound, "\(seconds) s of CPU")
    }
}
