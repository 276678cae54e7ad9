// swift-tools-version:6.1
// Micro-benchmarks, kept out of the product's build (ordo-one/benchmark pulls in its own dependencies).
//   cd Benchmarks && swift package benchmark            # all benchmarks, release build
//   tools/codec-instructions                            # instructions per codec operation (callgrind)
// `tradewire` is a symlink to the repository root, so the root package's identity does not depend on the name of
// the folder it was cloned into.
import PackageDescription

let package = Package(
    name: "TradewireBenchmarks",
    dependencies: [
        .package(path: "tradewire"),
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .target(
            name: "CodecFixtures", dependencies: [.product(name: "Protos", package: "tradewire")],
            path: "Benchmarks/CodecFixtures"),
        .executableTarget(
            name: "Codec",
            dependencies: [
                "CodecFixtures",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Protos", package: "tradewire"),
            ],
            path: "Benchmarks/Codec",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // Not a benchmark: a loop for callgrind (tools/codec-instructions), which counts instructions where
        // perf counters are not available.
        .executableTarget(
            name: "CodecLoop", dependencies: ["CodecFixtures", .product(name: "Protos", package: "tradewire")],
            path: "Benchmarks/CodecLoop"),
    ]
)
