// swift-tools-version: 6.1
import PackageDescription

// Layers, in one direction of dependency:
//   PlantarCore (pure: units, foot map, routines, profiles, compiler)
//   PlantarConfig (YAML loading with file:line:column errors)
//   PlantarCLI (commands) -> executables (thin)
// CGPIOD is the libgpiod v1 system library used by the GPIO driver.
let package = Package(
    name: "Plantar",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "plantar", targets: ["plantar"]),
        .executable(name: "plantar-sim", targets: ["plantar-sim"]),
        .executable(name: "plantard", targets: ["plantard"]),
        .library(name: "PlantarCore", targets: ["PlantarCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.0"),
        // The daemon: HTTP over a Unix socket, services, logs. No traits: swift-configuration's
        // support is not used, and leaving it out keeps the cold build shorter.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0", traits: []),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
        // HTTP parts as Hummingbird hands them to a channel handler (the API's edge, HTTPEdge.swift).
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.20.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CGPIOD",
            pkgConfig: "libgpiod",
            providers: [.apt(["libgpiod-dev"])]
        ),
        .target(name: "PlantarCore"),
        .target(
            name: "PlantarConfig",
            dependencies: ["PlantarCore", .product(name: "Yams", package: "Yams")]
        ),
        // The independent safety oracle (issue 10): plain PlantarCore data in, violations out.
        // It must never use the governor or the compiler (Tests/PlantarOracleTests checks its
        // sources for their names); the simulator records the device log it reads.
        .target(name: "PlantarOracle", dependencies: ["PlantarCore"], path: "Simulator/Sources/PlantarOracle"),
        .target(name: "PlantarSession", dependencies: ["PlantarCore", "PlantarOracle"]),
        .target(name: "PlantarWire", dependencies: ["PlantarCore"]),
        .target(name: "PlantarDrivers", dependencies: ["PlantarCore", "PlantarWire", "CGPIOD"]),
        .target(
            name: "PlantarSimulator",
            dependencies: ["PlantarCore", "PlantarSession", "PlantarWire", "PlantarOracle"],
            path: "Simulator/Sources/PlantarSimulator"
        ),
        .executableTarget(
            name: "plantar-sim",
            dependencies: ["PlantarSimulator", "PlantarConfig", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Simulator/Sources/plantar-sim"
        ),
        .target(
            name: "PlantarCLI",
            dependencies: [
                "PlantarCore", "PlantarConfig", "PlantarSession", "PlantarSimulator", "PlantarDrivers",
                "PlantarAPI", "PlantarOracle",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "plantar", dependencies: ["PlantarCLI"]),

        // The daemon (issue 7). PlantarAPI is what client and server share (documents, the
        // socket's default path, a small HTTP/1.1 client over a Unix socket): no NIO, so the
        // `plantar` CLI stays lean. PlantarDaemon is the server; plantard only parses and calls it.
        // PlantarAPI also checks a session start (StartCheck) without a daemon, for the fuzzer.
        .target(name: "PlantarAPI", dependencies: ["PlantarCore", "PlantarSession", "PlantarConfig"]),
        .target(
            name: "PlantarDaemon",
            dependencies: [
                "PlantarCore", "PlantarConfig", "PlantarSession", "PlantarSimulator", "PlantarDrivers", "PlantarAPI",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
            ]
        ),
        .executableTarget(
            name: "plantard",
            dependencies: ["PlantarDaemon", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "plantar-bench",
            dependencies: [
                "PlantarCore", "PlantarConfig", "PlantarSession", "PlantarSimulator", "PlantarDrivers", "PlantarWire",
                "PlantarAPI", "PlantarOracle",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "plantar-gpio-check", dependencies: ["PlantarDrivers", "PlantarConfig"]),
        // Coverage-guided fuzzing (issue 11): one harness per input surface. Built by
        // scripts/fuzz with -DFUZZING and libFuzzer; built plainly it replays a corpus, which
        // PlantarFuzzTests does for every committed seed. No NIO: the fuzz build stays short.
        .executableTarget(
            name: "plantar-fuzz",
            dependencies: ["PlantarCore", "PlantarConfig", "PlantarWire", "PlantarSimulator", "PlantarAPI"]
        ),

        .testTarget(
            name: "PlantarCoreTests",
            dependencies: ["PlantarCore", "PlantarConfig", .product(name: "PropertyBased", package: "swift-property-based")],
            exclude: ["Golden"]
        ),
        .testTarget(
            name: "PlantarSessionTests",
            dependencies: ["PlantarSession", "PlantarSimulator", "PlantarConfig", "PlantarOracle",
                           .product(name: "PropertyBased", package: "swift-property-based")]
        ),
        .testTarget(name: "PlantarSimulatorTests", dependencies: ["PlantarSimulator", "PlantarConfig"]),
        .testTarget(
            name: "PlantarOracleTests",
            dependencies: ["PlantarOracle", "PlantarSimulator", "PlantarSession", "PlantarConfig", "PlantarCore"]
        ),
        .testTarget(name: "PlantarConfigTests", dependencies: ["PlantarConfig"]),
        .testTarget(name: "PlantarCLITests", dependencies: ["PlantarCLI"]),
        .testTarget(name: "PlantarWireTests", dependencies: ["PlantarWire", .product(name: "PropertyBased", package: "swift-property-based")]),
        .testTarget(name: "PlantarDriversTests", dependencies: ["PlantarDrivers"]),
        .testTarget(name: "PlantarFuzzTests", dependencies: ["plantar-fuzz"]),
        .testTarget(name: "PlantarSerialTests",
                    dependencies: ["PlantarDrivers", "PlantarSimulator", "PlantarSession", "PlantarConfig", "PlantarWire"]),
        .testTarget(
            name: "PlantarDaemonTests",
            dependencies: [
                "PlantarDaemon", "PlantarAPI", "PlantarConfig",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "InMemoryLogging", package: "swift-log"),
                // The route tests check every response against docs/openapi.yaml, read with Yams.
                .product(name: "Yams", package: "Yams"),
            ]
        ),
    ]
)

// Swift 6 language mode and the same strictness for every target, in one place.
for target in package.targets where target.type != .system {
    var settings = target.swiftSettings ?? []
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    target.swiftSettings = settings
}
package.swiftLanguageModes = [.v6]
