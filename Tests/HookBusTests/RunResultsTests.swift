import Foundation
import Testing
@testable import HookBus

/// `output` and `table_view` are evaluated on a trigger's JSON stdout and kept with the run.
@Suite struct RunResultsTests {
    static let lookup = #"import json; print(json.dumps({"country": "US", "hits": [{"url": "http://a.example/", "score": 7}, {"url": "http://b.example/", "score": 2}], "headers": {"MIME-Version": "1.0"}, "tags": ["x", "y", "x"]}))"#

    @Test func outputsAndTheTableAreStoredWithTheRun() async throws {
        let extra = """
            output:
              - path: 'country'
              - path: 'hits.[].url'
              - path: 'headers."MIME-Version"'
              - path: 'tags | unique() | join(;)'
              - path: 'missing.key'
            table_view:
              - display_name: 'URL'
                value: 'hits.[].url'
              - display_name: 'Score'
                value: 'hits.[].score'
              - display_name: 'Country'
                value: 'country'
            """
        let fixture = try RunnerFixture(actions: [("t.yaml", triggerYAML("Lookup", hooks: ["newIncident"], extra: extra, code: Self.lookup))])
        let run = try #require(try await fixture.fire(try fixture.event(.newIncident, #"{"incidentsDetail": {"id": 3}}"#)).first)
        #expect(run.result.outcome == .succeeded, "\(run.result)")
        let stored = try #require(try await fixture.store.runs(RunFilter(eventID: run.invocation.eventID)).first)
        let results = try #require(stored.jsonValue["results"])
        #expect(results["output"]?["country"] == .string("US"))
        #expect(results["output"]?["hits.[].url"]?.jsonText == #"["http://a.example/","http://b.example/"]"#)
        #expect(results["output"]?[#"headers."MIME-Version""#] == .string("1.0"))
        #expect(results["output"]?["tags | unique() | join(;)"] == .string("x;y"))
        #expect(results["output"]?["missing.key"] == .null)
        #expect(results["table"]?["columns"]?.jsonText == #"["URL","Score","Country"]"#)
        #expect(results["table"]?["rows"]?.jsonText == #"[["http://a.example/","7","US"],["http://b.example/","2","US"]]"#)
    }

    @Test func aRunThatDoesNotPrintJSONHasNoResults() async throws {
        let fixture = try RunnerFixture(actions: [("t.yaml", triggerYAML("Plain", hooks: ["newIncident"], extra: "output:\n  - path: 'country'", code: "print('not json')"))])
        let run = try #require(try await fixture.fire(try fixture.event(.newIncident, #"{"incidentsDetail": {"id": 4}}"#)).first)
        #expect(run.result.outcome == .succeeded)
        let stored = try #require(try await fixture.store.runs(RunFilter(eventID: run.invocation.eventID)).first)
        #expect(stored.results == nil)
    }
}

/// What the store writes with SQLite's C API comes back exactly: text with a NUL or non-ASCII
/// bytes in it, empty text (not NULL), missing values (NULL), numbers.
@Suite struct StoredRunFidelityTests {
    @Test func outputWithNULAndNonASCIIAndEmptyTextIsKeptExactly() async throws {
        let fixture = try RunnerFixture(language: "bash", actions: [("t.yaml", triggerYAML("Bytes", hooks: ["newIncident"], code: #"printf 'a\0b é ✓'; exit 3"#))])
        let run = try #require(try await fixture.fire(try fixture.event(.newIncident, #"{"incidentsDetail": {"id": 9}}"#)).first)
        #expect(run.result.outcome == .failed && run.result.exitCode == 3, "\(run.result)")
        #expect(run.result.stdout == "a\u{0}b é ✓", "as captured")
        let stored = try #require(try await fixture.store.runs(RunFilter(eventID: run.invocation.eventID)).first)
        #expect(stored.stdout == "a\u{0}b é ✓")
        #expect(stored.stderr == "", "empty stderr is stored as empty text")
        #expect(stored.exitCode == 3 && stored.signal == nil)
        #expect(stored.outcome == "failed")
    }
}
