import Foundation
import FuzzSupport
@testable import HookBus

/// A definition or configuration file on any bytes: YAML reading and the definition parser
/// never crash nor hang (libFuzzer's -timeout catches a hang), and every error they report has
/// a line unless it is about the whole file.
@_cdecl("FuzzDefinitions_main")
func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { data, size in fuzzDefinitions(data, size) }
}

func fuzzDefinitions(_ pointer: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data = pointer else { return 0 }
    let document = YAMLDocument.parse(data: Data(UnsafeBufferPointer(start: data, count: size)), displayPath: "fuzz.yaml", limits: .default)
    var parser = DefinitionParser(file: "fuzz.yaml")
    if document.diagnostics.isEmpty { _ = parser.parse(document.root) }
    for diagnostic in document.diagnostics + parser.diagnostics where diagnostic.severity == .error {
        precondition(diagnostic.line > 0 || diagnostic.message.hasPrefix("file is"), "an error without a line: \(diagnostic)")
    }
    return 0
}
