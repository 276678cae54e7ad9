import ArgumentParser
import EventLoop
import GRPCServices
import LoadHarness
import ServiceStubs
import Transport

#if canImport(Glibc)
import Glibc
#endif

/// Small fixed benchmarks used while building the system (the full load harness is `tradewire load`). Streaming
/// and unary drive grpc.testing.BenchmarkService (served by `tradewire interop server` and grpc-go's
/// bench_server) over one channel, from tasks that prefer the channel's loop; processor drives processor nodes.
/// The measuring is LoadHarness's ``OperationLoad``; the commands say what one operation is.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fixed micro-benchmarks of the RPC runtime.", shouldDisplay: false, subcommands: [Streaming.self, Unary.self, ProcessorLoad.self, RiskChecks.self, Fills.self, OrderEntryLoad.self])

    struct Target: ParsableArguments {
        @Option var host = "127.0.0.1"
        @Option var port: Int
        @Option(help: "Seconds measured.") var duration = 5
        @Option(help: "Seconds of warm-up, not measured.") var warmup = 1

        func validate() throws {
            guard (1...3600).contains(duration), (0...600).contains(warmup) else { throw ValidationError("--duration is 1–3,600, --warmup 0–600") }
        }

        /// A closed loop of `workers` on one channel, from tasks preferring the channel's loop (each worker asks
        /// `gate` for its next start and records each operation).
        func measure(
            workers: Int,
            _ work: @escaping @Sendable (Channel, Int, LoadGate) async throws -> Void
        ) async throws -> OperationLoadResult {
            let channel = try Channel(addresses: [SocketAddress(host: host, port: port)!])
            let load = OperationLoad(model: .closed(workers: workers), warmup: .seconds(warmup), duration: .seconds(duration))
            let result = try await load.run(on: channel.group.loops[0]) { worker, gate in try await work(channel, worker, gate) }
            await channel.shutdown()
            return result
        }
    }

    struct Payload: ParsableArguments {
        @Option(help: "Request and response payload bytes.") var size = 64

        var request: Grpc_Testing_SimpleRequest {
            Grpc_Testing_SimpleRequest(responseSize: Int32(size), payload: .init(body: [UInt8](repeating: 0, count: size)))
        }
    }

    /// Ping-pong on grpc.testing.BenchmarkService/StreamingCall: `streams` bidi streams on one connection, each
    /// sending a request and waiting for its response, as grpc-go's benchmark client does.
    struct Streaming: AsyncParsableCommand {
        @OptionGroup var target: Target
        @OptionGroup var payload: Payload
        @Option(help: "Concurrent streams on the one connection.") var streams = 64

        func validate() throws {
            guard (1...100_000).contains(streams) else { throw ValidationError("--streams is 1–100,000") }
        }

        func run() async throws {
            let request = payload.request
            let result = try await target.measure(workers: streams) { channel, _, gate in
                try await Grpc_Testing_BenchmarkService.Client(channel).streamingCall { requests, responses in
                    var iterator = responses.makeAsyncIterator()
                    while let start = await gate.next() {
                        try await requests.write(request)
                        guard try await iterator.next() != nil else { return }
                        gate.record(since: start, succeeded: true)
                    }
                    requests.finish()
                }
            }
            print("msgs/s: \(Int(result.rate)) (\(streams) streams, one connection, round trip \(result.percentiles()), "
                + "peak RSS \(peakResidentMiB()) MiB, \(result.total) in all with the warm-up)")
        }
    }

    /// Unary calls on grpc.testing.BenchmarkService/UnaryCall from `concurrency` tasks on one channel: what
    /// keeping tens of thousands of calls in flight costs the client.
    struct Unary: AsyncParsableCommand {
        @OptionGroup var target: Target
        @OptionGroup var payload: Payload
        @Option(help: "Calls in flight at once.") var concurrency = 20_000

        func validate() throws {
            guard (1...1_000_000).contains(concurrency) else { throw ValidationError("--concurrency is 1–1,000,000") }
        }

        func run() async throws {
            let request = payload.request
            let result = try await target.measure(workers: concurrency) { channel, _, gate in
                let client = Grpc_Testing_BenchmarkService.Client(channel)
                while let start = await gate.next() {
                    let succeeded = (try? await client.unaryCall(request)) != nil
                    gate.record(since: start, succeeded: succeeded)
                }
            }
            print("calls/s: \(Int(result.rate)) (\(concurrency) in flight, \(result.failed) failed, \(result.percentiles()), "
                + "peak RSS \(peakResidentMiB()) MiB, \(result.total) in all with the warm-up)")
        }
    }

    /// The process's peak resident memory (VmHWM), in MiB; -1 when /proc cannot tell.
    static func peakResidentMiB() -> Int {
        guard let status = try? Files.read("/proc/self/status"),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "")
        else { return -1 }
        return kilobytes / 1024
    }
}
