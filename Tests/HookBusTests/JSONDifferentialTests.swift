import Foundation
import Testing
@testable import HookBus

/// The JSON parser against Foundation's JSONSerialization on inputs at the edges of RFC 8259:
/// they accept and refuse the same, except where HookBus documents that it differs —
/// - numbers are kept as written, so one past a Double's range (`1e400`) is accepted;
/// - a trailing comma (`[1,]`, `{"a":1,}`) is refused: the RFC has none, Foundation allows it;
/// - a byte-order mark before the value is refused: HTTP bodies and records carry none.
@Suite struct JSONDifferentialTests {
    static let inputs: [String] = [
        "{}", "[]", "1", "-0", "-1e-400", "01", "1.", ".5", "+1", "1e", "0x10", #""\ud800""#, #""\udc00\ud800""#, #""\u0000""#,
        "\"a\u{01}b\"", #""\x41""#, "{\"a\" 1}", "[1 2]", "nul", "null", "true ", " [1] ", "[1]x", "\"\u{7F}\"",
        #"{"a":1,"a":2}"#, #"["\/"]"#, "1.0E+2", "1E2", "-", "[-]", #""\u00e9""#, "\"é\"", "[[[]]]", #"{"":0}"#, #""\uD834\uDD1E""#,
        "123456789012345678901234567890", "[1e400]", "1e400", "[1,]", #"{"a":1,}"#, "\u{FEFF}[1]", "", " ", "[", "]", "{", #"{"a"}"#,
        #"{"a":}"#, "[,1]", "[1,,2]", "\"\\\"", #""\u12""#, #""\uZZZZ""#, "tru", "True", "NaN", "Infinity", "-Infinity", "[01]", "[-01]",
        "1e+", "1e-5", "0.0e0", "[\"\t\"]", "[\"\\t\"]", "\t[1]\n", "\r\n{}\r\n", "/* c */ 1", "1 // c",
    ]

    /// Inputs on which the two may differ, by the documented reasons above.
    static let documented: Set<String> = ["1e400", "[1e400]", "[1,]", #"{"a":1,}"#, "\u{FEFF}[1]"]

    @Test func acceptsAndRefusesWhatJSONSerializationDoesExceptWhereDocumented() {
        for input in Self.inputs {
            let foundation = (try? JSONSerialization.jsonObject(with: Data(input.utf8), options: [.fragmentsAllowed])) != nil
            let hookbus = (try? JSONParser.parse(input)) != nil
            if Self.documented.contains(input) {
                #expect(foundation != hookbus, "\(input.debugDescription): documented as a difference, but both \(hookbus ? "accept" : "refuse") it")
            } else {
                #expect(foundation == hookbus, "\(input.debugDescription): JSONSerialization \(foundation ? "accepts" : "refuses"), HookBus \(hookbus ? "accepts" : "refuses")")
            }
        }
    }
}
