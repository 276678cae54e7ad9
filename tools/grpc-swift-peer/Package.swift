// swift-tools-version:6.0
// A grpc-swift-2 server for tools/bench to measure against: grpc.testing.BenchmarkService (UnaryCall, StreamingCall)
// on grpc-swift's NIO HTTP/2 transport. A separate package, so that the product's build never carries grpc-swift.
// The generated code in Sources/GRPCSwiftPeer/Generated comes from tools/grpc-swift-peer/generate.
import PackageDescription

let package = Package(
    name: "grpc-swift-peer",
    dependencies: [
        .package(url: "https://github.com/grpc/grpc-swift-2", exact: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", exact: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", exact: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
    ],
    targets: [
        .executableTarget(
            name: "GRPCSwiftPeer",
            dependencies: [
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]),
    ],
    swiftLanguageModes: [.v6]
)
