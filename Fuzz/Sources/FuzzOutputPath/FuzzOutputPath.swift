import Foundation
import FuzzSupport
@testable import HookBus

/// The output path language on any text: parsing never crashes, and a path that parses is
/// evaluated against a sample result without crashing.
@_cdecl("FuzzOutputPath_main")
func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { data, size in fuzzOutputPath(data, size) }
}

func fuzzOutputPath(_ pointer: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data = pointer else { return 0 }
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let path = try? OutputPath(text) {
        _ = path.evaluate(sample)
        _ = path.evaluateText(sample)
        precondition((try? OutputPath(path.text)) == path, "its own text does not parse the same: \(path.text)")
    }
    return 0
}

let sample: JSONValue = .object([
    "items": .array([.object(["id": .number("1"), "name": .string("a"), "tags": .array([.string("x")])]), .object(["id": .number("2")])]),
    "count": .number("2"), "nested": .object(["deep": .object(["value": .bool(true)])]),
])
