// swift-tools-version: 6.2
import PackageDescription

/// libFuzzer targets for HookBus's input-facing code, outside the main package so that
/// `swift build` and `swift test` never build them. Built and run by `Fuzz/run` (see there):
/// every Swift target of the graph is compiled with `-sanitize=fuzzer` (coverage for libFuzzer)
/// and `-enable-testing` (the targets reach internal parsers with `@testable import`).
let fuzzSettings: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

let package = Package(
    name: "hookbus-fuzz",
    platforms: [.macOS(.v15)],
    // The main package through a link named after it (`Fuzz/run` makes it): a path
    // dependency is known by its folder's name, which a clone need not have.
    dependencies: [.package(path: ".deps/hookbus")],
    targets: ["FuzzJSON", "FuzzEventCodec", "FuzzDefinitions", "FuzzOutputPath", "FuzzSignatures", "FuzzForms"].map { name in
        .executableTarget(
            name: name,
            dependencies: ["FuzzSupport", .product(name: "HookBus", package: "hookbus")]
                + (name == "FuzzSignatures" ? [.product(name: "HookBusServer", package: "hookbus")] : []),
            swiftSettings: fuzzSettings,
            linkerSettings: [.unsafeFlags(["-sanitize=fuzzer", "-use-ld=lld"])])
    } + [.target(name: "FuzzSupport")]
)
