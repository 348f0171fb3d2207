// swift-tools-version: 6.2
import PackageDescription

/// Settings every HookBus target shares (see STYLE.md): Swift 6 language mode with the
/// upcoming features the anchor packages use.
/// Every executable (tests included) binds all of libc when it loads (`-z now`): a run's child
/// (CHookBusSpawn, spawn.c) shares the process's memory until its execve and must never run the
/// dynamic loader's lazy binding — not even for a memcpy the compiler inserted.
let bindAtLoad: [LinkerSetting] = [.unsafeFlags(["-Xlinker", "-z", "-Xlinker", "now"])]

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "hookbus",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "hookbus", targets: ["hookbus"]),
        .library(name: "HookBus", targets: ["HookBus"]),
        .library(name: "HookBusServer", targets: ["HookBusServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // How a run's process starts: clone, the sandbox set up in the child, execve (C: the
        // child shares HookBus's memory until its execve, so only system calls may run there;
        // see spawn.c).
        // (-fno-plt: the child calls libc through addresses bound when HookBus loads, never
        // through the dynamic loader's lazy binding, which it must not run in the child.)
        .target(name: "CHookBusSpawn", cSettings: [.unsafeFlags(["-fno-plt"])]),
        // The core: definitions, events, routing, execution, store. No HTTP.
        .target(
            name: "HookBus",
            dependencies: [
                "CHookBusSpawn",
                .product(name: "Yams", package: "Yams"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // The PostgreSQL store: several nodes sharing one database as event store and work
        // queue (claims with leases, per-subject order). A target of its own so the core keeps
        // one dependency per concern and the embedded default builds without reading it.
        .target(
            name: "HookBusPostgres",
            dependencies: [
                "HookBus",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The HTTP layer: turns requests into events and hands them to the engine.
        .target(
            name: "HookBusServer",
            dependencies: [
                "HookBus",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Mustache", package: "swift-mustache"),
            ],
            swiftSettings: swiftSettings
        ),
        // The command-line tool: thin subcommands over the core and the server.
        .executableTarget(
            name: "hookbus",
            dependencies: [
                "HookBus",
                "HookBusServer",
                "HookBusPostgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings,
            linkerSettings: bindAtLoad
        ),
        // Benchmarks that print their figures: `swift run -c release hookbus-bench`.
        .executableTarget(
            name: "hookbus-bench",
            dependencies: [
                "HookBus",
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings,
            linkerSettings: bindAtLoad
        ),
        .testTarget(
            name: "HookBusTests",
            dependencies: ["HookBus", .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings,
            linkerSettings: bindAtLoad
        ),
        .testTarget(
            name: "HookBusServerTests",
            dependencies: [
                "HookBusServer",
                "HookBus",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings,
            linkerSettings: bindAtLoad
        ),
        // The store contract, run against both stores, and the PostgreSQL store's own tests
        // (a throw-away cluster from `Scripts/postgres-cluster`, started by `Scripts/test`).
        // The throw-away PostgreSQL the tests use (psql and `Scripts/postgres-cluster` as
        // processes, never the store under test).
        .target(name: "PostgresTestSupport", path: "Tests/PostgresTestSupport", swiftSettings: swiftSettings),
        .testTarget(
            name: "StoreTests",
            dependencies: ["HookBus", "HookBusPostgres", "PostgresTestSupport", .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings,
            linkerSettings: bindAtLoad
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["HookBus", "PostgresTestSupport", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings,
            linkerSettings: bindAtLoad
        ),
    ]
)
