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

    /// Form bodies of about 1 MiB, shaped for the URL-encoded and multipart readers' worst cases.
    static let formShapes: [(name: String, contentType: String, body: [UInt8])] = {
        let boundary = String(repeating: "b", count: 70)
        let part = "--\(boundary)\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nv\r\n"
        return [
            ("100,000 fields", "application/x-www-form-urlencoded", Array((0..<100_000).map { "f\($0)=\($0)" }.joined(separator: "&").utf8)),
            ("150,000 repeats of one name", "application/x-www-form-urlencoded", Array(Array(repeating: "same=1", count: 150_000).joined(separator: "&").utf8)),
            ("300,000 percent escapes", "application/x-www-form-urlencoded", Array(("a=" + String(repeating: "%41", count: 300_000)).utf8)),
            ("12,000 parts of one name", "multipart/form-data; boundary=\(boundary)", Array((String(repeating: part, count: 12_000) + "--\(boundary)--\r\n").utf8)),
            ("14,000 near-delimiters and no end", "multipart/form-data; boundary=\(boundary)",
             Array(("--\(boundary)\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\n" + String(repeating: "\r\n--" + boundary.dropLast(), count: 14_000)).utf8)),
        ]
    }()

    @Test(arguments: 0..<formShapes.count)
    func aFormBodyCostsTimeInProportionToItsSize(_ index: Int) {
        let (name, contentType, body) = Self.formShapes[index]
        #expect(body.count > 500_000 && body.count < 1_600_000, "\(name): \(body.count) bytes")
        let seconds = Self.cpuSeconds { _ = try? FormFields.parse(WebhookBody(bytes: body, contentType: contentType)) }
        #expect(seconds < Self.bound, "\(name): \(seconds) s of CPU")
    }

    @Test func theLastOfARepeatedTopLevelKeyWinsInItsPlace() throws {
        var parser = JSONParser(#"{"a": 1, "b": 2, "a": 3, "c": 4, "b": 5}"#)
        let members = try parser.parseObjectMembers()
        #expect(members.map(\.key) == ["a", "c", "b"])
        #expect(members.map(\.raw) == ["3", "4", "5"])
    }

    /// A FIFO, a device, a socket-less loop and a dangling link named like definition files: each
    /// is a warning naming it, none is opened (a FIFO would block the load for ever).
    @Test(.timeLimit(.minutes(1)))
    func definitionPathsThatAreNotFilesAreWarnedAboutAndNeverRead() throws {
        let folder = TempFolder()
        folder.write("hooks/int.yaml", integrationYAML(language: "bash"))
        folder.write("hooks/t.yaml", triggerYAML("T", hooks: ["webhook"], code: "true"))
        let hooks = folder.url.appendingPathComponent("hooks").path
        #expect(mkfifo(hooks + "/pipe.yaml", 0o600) == 0)
        #expect(symlink("loop.yaml", hooks + "/loop.yaml") == 0)
        #expect(symlink("nowhere.yaml", hooks + "/gone.yaml") == 0)
        #expect(symlink("/dev/zero", hooks + "/zero.yaml") == 0)
        let result = DefinitionLoader().load([hooks])
        #expect(result.errorCount == 0, "\(result.diagnostics)")
        #expect(result.catalog.triggers.map(\.name) == ["T"])
        let warnings = result.diagnostics.filter { $0.severity == .warning }.map(\.description)
        for (file, reason) in [("pipe.yaml", "a FIFO"), ("loop.yaml", "a symbolic link loop"), ("gone.yaml", "a symbolic link to nothing"), ("zero.yaml", "a device")] {
            #expect(warnings.contains { $0.contains("\(hooks)/\(file)") && $0.contains("skipped: it is \(reason)") }, "\(file): \(warnings)")
        }
        // A path that is not there is missing, not a broken link.
        #expect(DefinitionLoader().load([hooks + "/absent"]).diagnostics.map(\.description) == ["\(hooks)/absent: error: no such file or folder"])
        // Named directly, as a definition root or as the configuration, it is an error.
        #expect(DefinitionLoader().load([hooks + "/pipe.yaml"]).diagnostics.contains { $0.severity == .error && $0.description.contains("a FIFO") })
        let configuration = ConfigurationLoader().load(path: hooks + "/pipe.yaml", catalog: result.catalog)
        #expect(configuration.configuration == nil && configuration.diagnostics.contains { $0.description.contains("it is a FIFO") }, "\(configuration.diagnostics)")
    }

    @Test func controlCharactersAndBinaryContentAreReportedWhereTheyAre() {
        let bell = YAMLDocument.parse(data: Data("name: 'x'\nversion: '1\u{07}0'\n".utf8), displayPath: "bell.yaml", limits: .default)
        #expect(bell.diagnostics.map(\.description) == ["bell.yaml:2:12: error: control character U+0007 is not allowed in YAML"])
        let binary = YAMLDocument.parse(data: Data([0x61, 0x3A, 0x20, 0x31, 0x0A, 0x62, 0x3A, 0x00]), displayPath: "bin.yaml", limits: .default)
        #expect(binary.diagnostics.map(\.description) == ["bin.yaml:2:3: error: file is binary (it contains a NUL byte), not YAML"])
    }

    @Test func aRecordedEventWithManyParamsIsReadInProportionToItsSize() throws {
        let params = Self.keys(70_000) { "k\($0)" }
        let record = "{\"id\": \"evt_1\", \"hook\": \"webhook\", \"params\": {\"payload\": \(params)}}"
        let seconds = Self.cpuSeconds { _ = try? Event.fromRecord(record) }
        #expect(seconds < Self.bound, "\(seconds) s of CPU")
    }
}

/// The event codec's round trip (decode → encode → decode is the identity), on the fuzzer's
/// seed inputs and what the fuzzer found.
@Suite struct EventCodecRoundTripTests {
    static let corpus = packageRoot.appendingPathComponent("Fuzz/Corpus/FuzzEventCodec")

    /// Found by the fuzzer: `.790` was read as 0.7899999… and written back as `.789`.
    @Test func everyMillisecondOfATimestampSurvivesReadingAndWriting() throws {
        // Finer than a millisecond, at the ends of a second and of the years a record may carry:
        // written truncated to the millisecond, never carried into the next second.
        for (written, read) in [("2026-12-03T10:00:00.1239Z", "2026-12-03T10:00:00.123Z"), ("2026-12-31T23:59:59.9995Z", "2026-12-31T23:59:59.999Z"),
                                ("2499-12-31T23:59:59.999Z", "2499-12-31T23:59:59.999Z"), ("1970-01-01T00:00:00.001Z", "1970-01-01T00:00:00.001Z")] {
            #expect(Event.formatDate(try #require(Event.parseDate(written))) == read, "\(written)")
        }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let date = Date(timeIntervalSince1970: Double(UInt64.random(in: 1_500_000_000_000...2_500_000_000_000, using: &generator)) / 1000)
            let text = Event.formatDate(date)
            let read = try #require(Event.parseDate(text))
            #expect(Event.formatDate(read) == text)
        }
    }

    /// Found by the fuzzer: a record received in the year 9546 was kept with a time it would not
    /// write back the same; such a record is refused.
    @Test func aRecordFromOutsideTheValidYearsIsRefused() throws {
        let text = String(decoding: try Data(contentsOf: Self.corpus.appendingPathComponent("found-year-9546.json")), as: UTF8.self)
        #expect(throws: EventError.self) { try Event.fromRecord(text) }
        do { _ = try Event.fromRecord(text) } catch { #expect(error.message.contains("'receivedAt' is out of range (1970–2499)"), "\(error.message)") }
    }

    /// Found by the fuzzer: libyaml's refusal of a C1 control character had a byte offset and
    /// no line.
    @Test func aControlCharacterLibyamlRefusesIsReportedAtItsLine() throws {
        let data = try Data(contentsOf: packageRoot.appendingPathComponent("Fuzz/Corpus/FuzzDefinitions/found-c1-control.yaml"))
        let document = YAMLDocument.parse(data: data, displayPath: "found.yaml", limits: .default)
        #expect(document.diagnostics.map(\.description) == ["found.yaml:3:7: error: YAML reader error: control characters are not allowed"])
    }

    @Test func hookBodiesAndRecordsReadBackAsTheSameRecord() throws {
        var checked = 0
        defer { #expect(checked >= 2, "the seeds should give hook events and records to read back") }
        for name in try FileManager.default.contentsOfDirectory(atPath: Self.corpus.path).sorted() {
            let bytes = Array(try Data(contentsOf: Self.corpus.appendingPathComponent(name)))
            for hook in ["updateIncident", "incidentCustomAction", "webhook", "addObservableIp"] {
                guard let event = try? Event.fromHookBody(hook: hook, body: bytes, source: EventSource(kind: .hook)) else { continue }
                let record = event.recordJSON
                let again = try Event.fromRecord(record)
                #expect(again.recordJSON == record, "\(name) as \(hook)")
                checked += 1
            }
            if let event = try? Event.fromRecord(String(decoding: bytes, as: UTF8.self)) {
                #expect(try Event.fromRecord(event.recordJSON).recordJSON == event.recordJSON, "\(name) as a record")
                checked += 1
            }
        }
    }
}
