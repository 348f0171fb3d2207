import Foundation
import FuzzSupport
@testable import HookBus

/// The JSON parser on any bytes: it never crashes, and what it accepts survives a round trip
/// (written out and read again, it is the same value).
@_cdecl("FuzzJSON_main")
func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { data, size in fuzzJSON(data, size) }
}

func fuzzJSON(_ pointer: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data = pointer else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var parser = JSONParser(bytes)
    if let value = try? parser.parseDocument() {
        let again = try? JSONParser.parse(value.jsonText)
        precondition(again == value, "round trip changed the value: \(value.jsonText)")
    }
    var objectParser = JSONParser(bytes)
    _ = try? objectParser.parseObjectMembers()
    return 0
}
