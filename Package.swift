// swift-tools-version:6.0
// Tradewire: gRPC order platform. Linux only. Layers point down; see README.md for the target table.
import PackageDescription

/// Release builds of the runtime drop the dynamic exclusivity checks on class properties. Measured 2026-12-05 (a
/// release build with and one without the flag, `tradewire interop server` on one loop pinned to a core, 300,000
/// unary calls of 64 B from `h2load -c 4 -m 100`, `perf record -F 1999` on the server): with the checks, 7.1% of
/// the server's samples are in the exclusivity runtime (AccessSet::insert, swift_beginAccess/endAccess and their
/// TLS lookup) and `__tls_get_addr` takes 2.5 points more; without them, none. Debug builds, which run the tests,
/// keep the checks, so an overlapping access is still caught there.
/// They also optimise across modules (`-cross-module-optimization`): generic code of one module (`Lock.withLock`,
/// `SubscriberQueue`, protobuf value witnesses) is specialised where another calls it instead of running through
/// runtime metadata (`_swift_getGenericMetadata` took 2% of the services' samples at saturation). Measured
/// 2026-12-06, `tradewire local` at OrderEntry saturation, three alternating runs each: 203 µs (196–207) of CPU per
/// order against 211 µs (205–227) without; every Swift target of the product builds with these settings.
let releaseSettings: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked", "-cross-module-optimization"], .when(configuration: .release)),
]

/// The product's processes allocate through jemalloc (Debian's `libjemalloc-dev`) instead of glibc's malloc. Under
/// load the services allocate and free in bursts (a turn's batch of messages, then its release), which overflows
/// glibc's per-thread cache of 7 blocks per size and sends most calls through its bins: at OrderEntry saturation
/// `_int_malloc`, `_int_free`, `unlink_chunk` and `malloc_consolidate` took 12% of the gateway's samples. Measured
/// 2026-12-07, `tradewire local` with each allocator preloaded, alternating, OrderEntry 6 s per load: CPU per
/// accepted order 218/220/226/225/210 µs with glibc against 197/209/208/203/202 µs with jemalloc at saturation, and
/// 343/354/348/335/337 against 330/335/334/325/327 µs at 5,000/s (mimalloc and tcmalloc did about as well).
/// Linked ahead of libc, its `malloc` serves the Swift runtime, SQLite, nghttp2 and protobuf-c too.
/// `TRADEWIRE_ALLOCATOR=system` builds without it: the sanitizer builds, whose runtimes bring their own allocator.
let allocatorSettings: [LinkerSetting] =
    Context.environment["TRADEWIRE_ALLOCATOR"] == "system" ? [] : [.linkedLibrary("jemalloc")]

let package = Package(
    name: "tradewire",
    products: [
        .executable(name: "tradewire", targets: ["tradewire"]),
        .executable(name: "protoc-gen-tradewire", targets: ["ProtocGenTradewire"]),
        .library(name: "ProtoCodec", targets: ["ProtoCodec"]),
        .library(name: "Protos", targets: ["Protos"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", exact: "0.2.0"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
    ],
    targets: [
        // MARK: C modules
        .systemLibrary(
            name: "CNGHTTP2", pkgConfig: "libnghttp2",
            providers: [.apt(["libnghttp2-dev"])]),
        .systemLibrary(
            name: "CProtobufC", pkgConfig: "libprotobuf-c",
            providers: [.apt(["libprotobuf-c-dev"])]),
        .target(name: "CSystemShims"),
        .target(name: "CProtoSupport", dependencies: ["CProtobufC"]),
        .systemLibrary(name: "CXXHash", pkgConfig: "libxxhash", providers: [.apt(["libxxhash-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        // protoc-c output for proto/ (tools/generate writes it).
        .target(name: "CProtos", dependencies: ["CProtobufC"]),
        // protoc-c output for protoc's descriptor.proto and plugin.proto: the generator's input format.
        .target(name: "CProtocPlugin", dependencies: ["CProtobufC"]),

        // MARK: Protobuf codec
        .target(name: "ProtoCodec", dependencies: ["CProtobufC", "CProtoSupport"], swiftSettings: releaseSettings),
        // Swift value types for proto/ (tools/generate writes them).
        .target(name: "Protos", dependencies: ["ProtoCodec", "CProtos", "CProtobufC"], swiftSettings: releaseSettings),
        // JSON text as values: a strict parser and a writer. No protobuf.
        .target(name: "JSON", swiftSettings: releaseSettings),
        // The proto3 JSON mapping for any message the catalog knows, driven by protobuf-c's descriptors.
        .target(name: "ProtoJSON", dependencies: ["ProtoCodec", "CProtobufC", "JSON"], swiftSettings: releaseSettings),

        // MARK: RPC runtime
        // `Lock`: the standard Mutex, annotated for ThreadSanitizer. Every target that locks uses it.
        .target(name: "Locks", swiftSettings: releaseSettings),
        // Event loop: threads, epoll, eventfd, timers, sockets. Knows nothing of HTTP/2 or gRPC.
        .target(name: "EventLoop", dependencies: ["Locks", "CSystemShims"], swiftSettings: releaseSettings),
        // HTTP/2 sessions over nghttp2, fed and drained with bytes: no I/O.
        .target(name: "HTTP2", dependencies: ["CNGHTTP2"], swiftSettings: releaseSettings),
        // HTTP/1.1 requests out of bytes and responses into bytes (RFC 9112), strict about framing. No I/O.
        .target(name: "HTTP1", swiftSettings: releaseSettings),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // gRPC calls: framing, status, metadata, deadlines, server and client call state. No I/O, no HTTP/2.
        .target(name: "RPC", dependencies: ["Locks", "ProtoCodec", "CZlib"], swiftSettings: releaseSettings),
        // The consistent-hash ring: order placement, ownership, and the channel's ring-hash policy.
        .target(name: "HashRing", dependencies: ["CXXHash"], swiftSettings: releaseSettings),
        // The only target joining loop, HTTP/2 and calls: gRPC servers and client channels over TCP.
        .target(name: "Transport", dependencies: ["Locks", "EventLoop", "HTTP2", "HTTP1", "RPC", "HashRing"], swiftSettings: releaseSettings),

        // Service protocols and clients for proto/ (tools/generate writes them).
        .target(name: "ServiceStubs", dependencies: ["Protos", "RPC", "ProtoCodec"], swiftSettings: releaseSettings),

        // Services every server hosts: grpc.health.v1 and the interop grpc.testing.TestService (+ its client cases).
        .target(name: "GRPCServices", dependencies: ["Locks", "ServiceStubs"], swiftSettings: releaseSettings),

        // Operations: swift-log lines (JSON or text), swift-metrics into a Prometheus registry, the gRPC server's call
        // and connection metrics, and `GET /metrics`, `/healthz`, `/readyz` on the gRPC port.
        .target(
            name: "Telemetry",
            dependencies: [
                "Locks", "EventLoop", "RPC", "HTTP1", "Transport", "JSON", .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"), .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: releaseSettings),

        // MARK: Order processing
        // Limit order books: price-time matching in integers. No I/O, no protobuf.
        .target(name: "Matching", swiftSettings: releaseSettings),
        // One order's state machine: statuses, events, the transitions allowed. No I/O.
        .target(name: "Orders", swiftSettings: releaseSettings),
        // One SQLite connection and its prepared statements (the system libsqlite3).
        .target(name: "SQLite", dependencies: ["Locks", "CSQLite"], swiftSettings: releaseSettings),
        // A node's journal: events in SQLite (WAL), gap-free sequence numbers, group commit on a writer thread.
        .target(
            name: "Journal", dependencies: ["Locks", "SQLite", "EventLoop", "CXXHash", .product(name: "CoreMetrics", package: "swift-metrics")],
            swiftSettings: releaseSettings),
        // How every service runs: one ServiceHost owns the server, health and readiness, the process's loops, the
        // service's follows as child tasks, graceful shutdown and fatal stops.
        .target(
            name: "Hosting",
            dependencies: ["Locks", "EventLoop", "RPC", "Transport", "GRPCServices", "Telemetry", .product(name: "Logging", package: "swift-log")],
            swiftSettings: releaseSettings),
        // What the services share about the cluster: the cluster file, the ring and its keys, the client that routes
        // commands to nodes, event and market-data followers, API keys and the mesh credential, order ids.
        .target(
            name: "Cluster",
            dependencies: [
                "Locks", "Journal", "Orders", "HashRing", "EventLoop", "Transport", "RPC", "ServiceStubs", "Protos", "JSON", "Telemetry",
                .product(name: "Logging", package: "swift-log"), .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: releaseSettings),
        // A processor node: order and book actors on one core thread, the journal, the command stream.
        .target(
            name: "Processor",
            dependencies: [
                "Locks", "Cluster", "Hosting", "Journal", "SQLite", "Matching", "Orders", "HashRing", "Transport", "ServiceStubs", "Protos", "ProtoCodec", "JSON",
                "Telemetry", "GRPCServices", .product(name: "Logging", package: "swift-log"), .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: releaseSettings),
        // A node's state machine alone, for callgrind (tools/node-instructions); not part of the product.
        .executableTarget(name: "NodeCoreLoop", dependencies: ["Processor"], swiftSettings: releaseSettings, linkerSettings: allocatorSettings),

        // The market-data service: instruments, books, trades and OHLCV candles from the processors' events, the
        // reference-price feed, and bounded per-subscriber streams.
        .target(
            name: "MarketData",
            dependencies: ["Locks", "Cluster", "Hosting", "Orders", "SQLite", "EventLoop", "Transport", "RPC", "ServiceStubs", "Protos", "JSON", "ProtoJSON", "GRPCServices", "Telemetry", .product(name: "Logging", package: "swift-log")],
            swiftSettings: releaseSettings),

        // The risk service: pre-trade checks with atomic per-account reservations, positions and cash from the
        // processors' events (SQLite, resumed by cursor), instruments and reference prices from market data.
        .target(
            name: "Risk",
            dependencies: ["Locks", "Cluster", "Hosting", "Orders", "SQLite", "EventLoop", "Transport", "RPC", "ServiceStubs", "Protos", "JSON", "ProtoJSON", "GRPCServices", "Telemetry", .product(name: "Logging", package: "swift-log")],
            swiftSettings: releaseSettings),

        // The client-facing order API: API keys, validation, idempotent OrderIds, routing to the processor nodes.
        .target(
            name: "Gateway",
            dependencies: ["Locks", "Cluster", "Hosting", "Orders", "EventLoop", "Transport", "HTTP1", "Transcoding", "Dashboard", "ProtoCodec", "RPC", "ServiceStubs", "Protos", "JSON", "GRPCServices", "Telemetry", .product(name: "Logging", package: "swift-log")],
            swiftSettings: releaseSettings),

        // MARK: HTTP/JSON
        // The trading dashboard (`GET /`): a page, its script and style, compiled in; no build step.
        .target(name: "Dashboard", dependencies: ["HTTP1"], resources: [
            .embedInCode("Assets/index.html"), .embedInCode("Assets/dashboard.js"), .embedInCode("Assets/format.js"),
            .embedInCode("Assets/chart.js"), .embedInCode("Assets/dashboard.css"),
            .embedInCode("Assets/favicon.svg"),
        ]),
        // gRPC methods over HTTP/1.1 and JSON by their google.api.http bindings (grpc-gateway's rules): path
        // templates, bodies, query parameters, errors as google.rpc.Status JSON, server streams as NDJSON.
        .target(name: "Transcoding", dependencies: ["HTTP1", "JSON", "ProtoCodec", "ProtoJSON", "RPC", "Transport"]),

        // MARK: Load harness
        // `tradewire load`: closed- and open-loop load on any gRPC method, HdrHistogram latency, reports.
        .target(
            name: "LoadHarness",
            dependencies: ["Locks", "EventLoop", "Transport", "RPC", "JSON", .product(name: "Histogram", package: "hdrhistogram-swift")],
            swiftSettings: releaseSettings),

        // MARK: Benchmarks
        // The fixed benchmarks' engines, on LoadHarness's OperationLoad: echo, risk checks, processor nodes in
        // process, OrderEntry sessions and fills through a gateway (`tradewire bench …` reads their options and
        // prints their figures). The only library above the services: it runs processor nodes itself.
        .target(
            name: "Bench",
            dependencies: [
                "Locks", "EventLoop", "Transport", "RPC", "JSON", "Protos", "ServiceStubs", "GRPCServices", "LoadHarness", "Cluster", "Hosting",
                "Journal", "Processor",
            ],
            swiftSettings: releaseSettings),

        // MARK: Executables
        .executableTarget(
            name: "ProtocGenTradewire", dependencies: ["CProtocPlugin", "CProtobufC"]),
        .executableTarget(
            name: "tradewire",
            dependencies: [
                "Locks", "GRPCServices", "Transport", "LoadHarness", "Bench", "ProtoJSON", "Cluster", "Hosting", "Processor", "Orders", "Journal", "MarketData", "Risk", "Gateway", "Telemetry",
                "CSystemShims",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            linkerSettings: allocatorSettings),

        // MARK: Fuzzing
        // libFuzzer targets (tools/fuzz builds them with -sanitize=fuzzer,address -DFUZZING); a plain debug build makes
        // each a runner over its committed corpus (Fuzz/corpus/<target>), which tools/test runs as a regression test.
        // They use internals (`@testable import`), so they build in debug only.
        .target(name: "FuzzSupport", path: "Fuzz/FuzzSupport"),
        .executableTarget(name: "FuzzHTTP2", dependencies: ["FuzzSupport", "HTTP2"], path: "Fuzz/FuzzHTTP2"),
        .executableTarget(name: "FuzzHTTP1", dependencies: ["FuzzSupport", "HTTP1"], path: "Fuzz/FuzzHTTP1"),
        .executableTarget(name: "FuzzGRPC", dependencies: ["FuzzSupport", "RPC"], path: "Fuzz/FuzzGRPC"),
        .executableTarget(name: "FuzzProto", dependencies: ["FuzzSupport", "ProtoCodec", "Protos"], path: "Fuzz/FuzzProto"),
        .executableTarget(name: "FuzzJSON", dependencies: ["FuzzSupport", "JSON", "ProtoJSON", "ProtoCodec", "Protos"], path: "Fuzz/FuzzJSON"),
        .executableTarget(name: "FuzzText", dependencies: ["FuzzSupport", "Cluster", "Gateway", "Orders", "RPC"], path: "Fuzz/FuzzText"),
        .executableTarget(
            name: "FuzzOrders",
            dependencies: ["FuzzSupport", "Cluster", "Gateway", "Orders", "Processor", "Risk", "ProtoCodec", "Protos", .product(name: "Logging", package: "swift-log")],
            path: "Fuzz/FuzzOrders"),

        // MARK: Tests
        // Messages for the codec's own tests (proto/tradewire/testing).
        .target(name: "CTestProtos", dependencies: ["CProtobufC"]),
        .target(name: "TestProtos", dependencies: ["ProtoCodec", "CTestProtos", "CProtobufC"]),
        .target(name: "TestSupport", dependencies: ["EventLoop"], path: "Tests/TestSupport"),
        .testTarget(name: "ProtoCodecTests", dependencies: ["ProtoCodec", "Protos", "TestProtos", "TestSupport"], exclude: ["Python"]),
        .testTarget(name: "JSONTests", dependencies: ["JSON"]),
        .testTarget(name: "MatchingTests", dependencies: ["Matching"]),
        .testTarget(name: "OrdersTests", dependencies: ["Orders", "TestSupport"]),
        .testTarget(name: "JournalTests", dependencies: ["Journal", "SQLite", "Locks", "EventLoop", "TestSupport"]),
        // Three processor processes plus scripted risk, or the real risk and market-data services.
        .target(
            name: "ClusterTestSupport",
            dependencies: ["Cluster", "Risk", "MarketData", "Protos", "ServiceStubs", "Transport", "RPC", "EventLoop", "TestSupport"],
            path: "Tests/ClusterTestSupport"),
        .testTarget(
            name: "ProcessorTests",
            dependencies: [
                "Cluster", "Hosting", "Processor", "Protos", "ServiceStubs", "Transport", "RPC", "EventLoop", "Journal", "SQLite", "HashRing", "TestSupport",
                "ClusterTestSupport", "Locks",
            ]),
        .testTarget(
            name: "RiskTests",
            dependencies: ["Risk", "Cluster", "Protos", "ServiceStubs", "Transport", "RPC", "EventLoop", "TestSupport", "ClusterTestSupport"]),
        .testTarget(
            name: "MarketDataTests",
            dependencies: [
                "MarketData", "Cluster", "Protos", "ServiceStubs", "Transport", "RPC", "EventLoop", "HTTP2", "HTTP2TestSupport",
                "TestSupport", "ClusterTestSupport", "Telemetry", "SQLite",
            ]),
        .testTarget(name: "BenchTests", dependencies: ["Bench", "JSON", "LoadHarness", "Protos"]),
        .testTarget(
            name: "GatewayTests",
            dependencies: ["Gateway", "Bench", "Cluster", "Processor", "ProtoCodec", "Protos", "ServiceStubs", "Transport", "RPC", "EventLoop", "JSON", "Telemetry", "TestSupport", "ClusterTestSupport"],
            exclude: ["Python"]),
        // `tradewire local` driven by the client commands: orders, candles, metrics, SIGTERM and a restart.
        .testTarget(
            name: "LocalSystemTests",
            dependencies: ["JSON", "Telemetry", "TestSupport", "ClusterTestSupport", "Cluster", "ProtoCodec", "Protos", "RPC", "ServiceStubs", "Transport"],
            exclude: ["Browser"]),
        .testTarget(name: "ProtoJSONTests", dependencies: ["ProtoJSON", "Protos", "TestProtos", "JSON", "TestSupport"]),
        .testTarget(
            name: "LoadHarnessTests",
            dependencies: ["LoadHarness", "JSON", "Transport", "GRPCServices", "ServiceStubs", "EventLoop", "TestSupport"]),
        .testTarget(name: "ProtocGenTradewireTests", dependencies: ["ProtocGenTradewire"]),
        .testTarget(name: "EventLoopTests", dependencies: ["EventLoop"]),
        .target(name: "HTTP2TestSupport", dependencies: ["HTTP2", "EventLoop"], path: "Tests/HTTP2TestSupport"),
        .testTarget(name: "HTTP2Tests", dependencies: ["HTTP2", "HTTP2TestSupport"]),
        .testTarget(name: "HTTP1Tests", dependencies: ["HTTP1"]),
        .testTarget(name: "DashboardTests", dependencies: ["Dashboard", "HTTP1"]),
        .testTarget(name: "TranscodingTests", dependencies: ["Transcoding", "HTTP1", "JSON", "ProtoCodec", "Protos", "RPC"]),
        .testTarget(name: "RPCTests", dependencies: ["RPC"]),
        .testTarget(name: "HashRingTests", dependencies: ["HashRing"]),
        .testTarget(name: "ClusterTests", dependencies: ["Cluster", "Transport", "RPC", "Protos", "ServiceStubs", "EventLoop", "Locks"]),
        .testTarget(
            name: "HostingTests",
            dependencies: ["Hosting", "GRPCServices", "ServiceStubs", "Transport", "RPC", "EventLoop", "Locks"]),
        .testTarget(
            name: "TransportTests",
            dependencies: ["Transport", "GRPCServices", "ServiceStubs", "HTTP1", "HTTP2", "EventLoop", "HTTP2TestSupport", "TestSupport", "Telemetry"],
            exclude: ["Python"]),
    ],
    swiftLanguageModes: [.v6]
)

/// Every Swift target: nonisolated async functions run on their caller's executor (SE-0461). Without it every
/// `await` into one is a hop through swift_task_switch, which reads the task's executor preference under a lock
/// (8% of a streamed message's CPU on the server). All targets, so that an async function or function type means
/// the same in every module. (After switching it, or after changing the layout of an inlinable type, build from
/// clean: incremental builds have left dependents compiled against the old ABI, which crashes at run time.)
for target in package.targets where target.type != .system {
    target.swiftSettings = (target.swiftSettings ?? []) + [.enableUpcomingFeature("NonisolatedNonsendingByDefault")]
}
