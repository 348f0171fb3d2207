import Foundation
import FuzzSupport
@testable import HookBus

/// Recorded events and hook bodies on any bytes: reading never crashes, and a record read is
/// written back as a record that reads as the same event (decode → encode → decode).
@_cdecl("FuzzEventCodec_main")
func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { data, size in fuzzEventCodec(data, size) }
}

func fuzzEventCodec(_ pointer: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data = pointer else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let text = String(decoding: bytes, as: UTF8.self)
    if let event = try? Event.fromRecord(text) {
        let record = event.recordJSON
        guard let again = try? Event.fromRecord(record) else { preconditionFailure("its own record does not read: \(record)") }
        precondition(again.recordJSON == record, "the record changed: \(record) → \(again.recordJSON)")
    }
    for hook in ["updateIncident", "incidentCustomAction", "webhook", "addObservableIp"] {
        if let event = try? Event.fromHookBody(hook: hook, body: bytes, source: EventSource(kind: .hook)) {
            let record = event.recordJSON
            guard let again = try? Event.fromRecord(record) else { preconditionFailure("a hook event's record does not read: \(record)") }
            precondition(again.recordJSON == record, "the record changed: \(record) → \(again.recordJSON)")
        }
    }
    return 0
}
