import ArgumentParser
import Foundation
import HookBus

/// CPU time to read hook bodies shaped to find a parser's worst case, each about 1 MiB (the
/// default body limit), per 100 KB: the cost of a hostile request under the limits. Target: a
/// few milliseconds per 100 KB whatever the shape (issue 22). Release build.
struct HostileInputBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "hostile")

    @Option(help: "Repetitions per shape; the median is printed.") var repeats = 5

    static func keys(_ count: Int, named name: (Int) -> String) -> String {
        "{" + (0..<count).map { "\"\(name($0))\": \($0)" }.joined(separator: ", ") + "}"
    }

    static let shapes: [(name: String, body: String)] = [
        ("70,000 keys at the top level", keys(70_000) { "k\($0)" }),
        ("70,000 repeats of one top-level key", keys(70_000) { _ in "same" }),
        ("70,000 keys one level down", "{\"tasksBeforeUpdate\": \(keys(70_000) { "k\($0)" }), \"tasksAfterUpdate\": {}}"),
        ("a string of 170,000 escapes", "{\"tasksBeforeUpdate\": {\"note\": \"" + String(repeating: "\\u0041", count: 170_000) + "\"}, \"tasksAfterUpdate\": {}}"),
        ("500,000 tiny numbers", "{\"tasksBeforeUpdate\": {\"n\": [" + Array(repeating: "0", count: 500_000).joined(separator: ",") + "]}, \"tasksAfterUpdate\": {}}"),
        ("2,000 nestings 250 deep", "{\"tasksBeforeUpdate\": {\"n\": [" + Array(repeating: String(repeating: "[", count: 250) + String(repeating: "]", count: 250), count: 2_000).joined(separator: ",") + "]}, \"tasksAfterUpdate\": {}}"),
        ("an ordinary 1 MiB body (one long text field)", "{\"tasksBeforeUpdate\": {\"id\": 7, \"note\": \"" + String(repeating: "lorem ipsum ", count: 87_000) + "\"}, \"tasksAfterUpdate\": {\"id\": 7}}"),
    ]

    func run() throws {
        for (name, body) in Self.shapes {
            let bytes = Array(body.utf8)
            var times: [Double] = []
            for _ in 0..<max(1, repeats) {
                var start = timespec()
                clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start)
                // Accepted or refused (most shapes lack the hook's params), the body is read whole: the cost measured.
                _ = try? Event.fromHookBody(hook: "closeTask", body: bytes, source: EventSource(kind: .hook))
                var end = timespec()
                clock_gettime(CLOCK_THREAD_CPUTIME_ID, &end)
                times.append(Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) / 1e9)
            }
            times.sort()
            let median = times[times.count / 2]
            print(String(format: "hostile: %@: %d KB, %.1f ms CPU = %.2f ms per 100 KB (median of %d)",
                         name, bytes.count / 1024, median * 1000, median * 1000 * 100_000 / Double(bytes.count), times.count))
        }
    }
}
