// swift-tools-version: 6.1
// nodeagent: a host agent for hypervisor and storage nodes.
// Module map and the reasons behind it: docs/ARCHITECTURE.md.
import PackageDescription

/// Every Swift target is built in Swift 6 mode with complete concurrency checking.
let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "nodeagent",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "nodeagent", targets: ["nodeagent"]),
        .library(name: "Libvirt", targets: ["Libvirt"]),
        .library(name: "CGroups", targets: ["CGroups"]),
        .library(name: "Probes", targets: ["Probes"]),
        .library(name: "NodeAgent", targets: ["NodeAgent"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/LebJe/TOMLKit", exact: "0.6.0"),
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.0"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.0"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        // Already in the graph through the gRPC transport; named for the listener's limits.
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
    ],
    targets: [
        // C shims: system libraries found through pkg-config.
        .systemLibrary(
            name: "CLibvirt", pkgConfig: "libvirt",
            providers: [.apt(["libvirt-dev"])]),
        .systemLibrary(
            name: "CSystemd", pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]),
        // io_uring for the disk probe: a C layer over liburing (liburing-dev), see its header.
        .target(name: "CIOUring", linkerSettings: [.linkedLibrary("uring")]),

        .target(name: "Libvirt", dependencies: ["CLibvirt"], swiftSettings: strict),
        // TOMLKit behind a strict syntax check (toml++ asserts on some malformed text).
        .target(name: "SafeTOML", dependencies: [.product(name: "TOMLKit", package: "TOMLKit")], swiftSettings: strict),
        .target(name: "CGroups", swiftSettings: strict),
        .target(
            name: "Probes",
            dependencies: [
                "CGroups", "CIOUring", "SafeTOML", .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ],
            swiftSettings: strict),
        // Generated from Protos/ by scripts/generate-protos.sh (committed; never a build plugin).
        .target(
            name: "AgentAPI",
            dependencies: [
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]),
        .target(
            name: "NodeAgent",
            dependencies: [
                "Libvirt", "CGroups", "Probes", "CSystemd", "AgentAPI", "SafeTOML",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
            ],
            swiftSettings: strict),
        .executableTarget(
            name: "nodeagent",
            dependencies: [
                "NodeAgent", "CGroups", "Probes", "AgentAPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strict),
        // The RPC latency/throughput benchmark's client (Benchmarks/rpc/run.sh, docs/PERFORMANCE.md).
        .executableTarget(
            name: "rpc-bench",
            dependencies: [
                "NodeAgent", "AgentAPI",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
            ],
            swiftSettings: strict),
        // The cgroup read benchmark's library side (Benchmarks/cgroups/run.sh, docs/PERFORMANCE.md).
        .executableTarget(name: "cgroup-bench", dependencies: ["CGroups"], swiftSettings: strict),
        // The probes' own command lines for the burn-in benchmarks (Benchmarks/{disk,network,cpu-memory}).
        .executableTarget(name: "probe-bench", dependencies: ["Probes"], swiftSettings: strict),

        .testTarget(name: "LibvirtTests", dependencies: ["Libvirt", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "NodeAgentTests",
            dependencies: [
                "NodeAgent", "Libvirt", "TestSupport", "AgentAPI", "Probes", "SafeTOML", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ],
            resources: [.copy("Fixtures")], swiftSettings: strict),
        // Runs inside a test guest (scripts/build-guest-tools.sh): real cgroup v2 limits.
        .executableTarget(name: "nodeagent-guestcheck", dependencies: ["CGroups"], swiftSettings: strict),

        // Real hypervisor: a private libvirtd running TCG guests (scripts/test.sh sets it up).
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "NodeAgent", "Libvirt", "TestSupport", "AgentAPI",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
            ],
            swiftSettings: strict),
        .testTarget(name: "ProbesTests", dependencies: ["Probes", "CIOUring", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "CGroupsTests", dependencies: ["CGroups", "TestSupport"], resources: [.copy("Fixtures")], swiftSettings: strict),
        // The daemon end to end: `nodeagent serve` processes driven over gRPC (Swift and Python clients).
        .testTarget(
            name: "DaemonTests",
            dependencies: [
                "NodeAgent", "AgentAPI", "Probes", "TestSupport",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strict),
        // Faults, hostile input, load and security against the real daemon (docs/RELIABILITY.md).
        .testTarget(
            name: "ReliabilityTests",
            dependencies: [
                "NodeAgent", "AgentAPI", "TestSupport",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strict),
        .target(
            name: "TestSupport",
            dependencies: [
                "Libvirt", "NodeAgent", "AgentAPI",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
            ],
            path: "Tests/TestSupport", swiftSettings: strict),
    ]
)
