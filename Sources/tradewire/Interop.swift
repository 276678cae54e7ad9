import ArgumentParser
import EventLoop
import GRPCServices
import Transport

#if canImport(Glibc)
import Glibc
#endif

/// gRPC's interoperability test service and client (flag names as grpc-go's interop programs, plus theirs as
/// aliases).
struct Interop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "gRPC interop test server and client.", subcommands: [Server.self, Client.self])

    struct Server: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Serve grpc.testing.TestService (and health).")

        @Option(name: [.customLong("host")], help: "Address to listen on.")
        var host = "127.0.0.1"

        @Option(name: [.customLong("port")], help: "Port to listen on (0: any free port, printed on start).")
        var port = 10000

        @Option(help: "Event loops (default: one per core).")
        var loops = EventLoopGroup.coreCount

        func run() async throws {
            guard let address = SocketAddress(host: host, port: port) else {
                throw ValidationError("--host must be a numeric IPv4 or IPv6 address, got \(host)")
            }
            var configuration = ServerConfiguration(addresses: [address])
            configuration.loops = loops
            let server = try Transport.Server(
                services: [InteropTestService(), BenchmarkService(), HealthService(services: ["grpc.testing.TestService"])],
                configuration: configuration)
            let bound = try await server.start()
            print("interop server listening on \(bound.map(\.description).joined(separator: ", "))")
            fflush(nil)  // all output streams: the address line must reach a pipe at once
            try await Signals.runUntilTerminated(server)
        }
    }

    struct Client: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run interop test cases against a server.")

        @Option(name: [.customLong("host"), .customLong("server_host"), .customLong("server-host")])
        var host = "127.0.0.1"

        @Option(name: [.customLong("port"), .customLong("server_port"), .customLong("server-port")])
        var port = 10000

        @Option(
            name: [.customLong("test-case"), .customLong("test_case")],
            help: "A case, a comma-separated list, or \"all\".")
        var testCase = "all"

        func run() async throws {
            let cases: [InteropTestCase]
            if testCase == "all" {
                cases = InteropTestCase.allCases
            } else {
                cases = try testCase.split(separator: ",").map { name in
                    guard let known = InteropTestCase(rawValue: String(name)) else {
                        throw ValidationError("unknown test case \(name)")
                    }
                    return known
                }
            }
            let channel = try Channel(host: host, port: port)
            let client = InteropClient(transport: channel)
            var failed = 0
            for testCase in cases {
                do {
                    try await client.run(testCase)
                    print("PASS \(testCase.rawValue)")
                } catch {
                    failed += 1
                    print("FAIL \(testCase.rawValue): \(error)")
                }
            }
            await channel.shutdown()
            print("interop: \(cases.count - failed) passed, \(failed) failed")
            if failed > 0 { throw ExitCode(1) }
        }
    }
}
