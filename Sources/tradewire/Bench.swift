import ArgumentParser
import EventLoop
import GRPCServices
import ServiceStubs
import Synchronization
import Transport

#if canImport(Glibc)
import Glibc
#endif

/// Small fixed benchmarks used while building the system (the full load harness is `tradewire load`). Streaming
/// and unary drive grpc.testing.BenchmarkService (served by `tradewire interop server` and grpc-go's
/// bench_server) over one channel, from tasks that prefer the channel's loop; processor drives processor nodes.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fixed micro-benchmarks of the RPC runtime.", shouldDisplay: false, subcommands: [Streaming.self, Unary.self, ProcessorLoad.self, RiskChecks.self, Fills.self, OrderEntryLoad.self])

    struct Target: ParsableArguments {
        @Option var host = "127.0.0.1"
        @Option var port: Int
        @Option(help: "Seconds measured.") var duration = 5
        @Option(help: "Seconds of warm-up, not measured.") var warmup = 1

        /// Runs `workers` copies of `work` (given its number) on one channel until the measurement is over;
        /// returns the operations counted per second, the failures, and all operations (warm-up included).
        func measure(
            workers: Int,
            _ work: @escaping @Sendable (Channel, Int, Progress) async throws -> Void
        ) async throws -> (perSecond: Int, failures: Int, total: Int) {
            let channel = try Channel(addresses: [SocketAddress(host: host, port: port)!])
            let loop = channel.group.loops[0]
            let progress = Progress()
            let rate = try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<workers {
                    group.addTask(executorPreference: loop) { try await work(channel, worker, progress) }
                }
                try await Task.sleep(for: .seconds(warmup))
                progress.measuring.store(true, ordering: .relaxed)
                let start = ContinuousClock.now
                try await Task.sleep(for: .seconds(duration))
                let count = progress.operations.load(ordering: .relaxed)
                let elapsed = ContinuousClock.now - start
                progress.stop.store(true, ordering: .relaxed)
                try await group.waitForAll()
                return Int(Double(count) / elapsed.seconds)
            }
            await channel.shutdown()
            return (rate, progress.failures.load(ordering: .relaxed), progress.total.load(ordering: .relaxed))
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

        func run() async throws {
            let request = payload.request
            let (rate, _, total) = try await target.measure(workers: streams) { channel, _, progress in
                try await Grpc_Testing_BenchmarkService.Client(channel).streamingCall { requests, responses in
                    var iterator = responses.makeAsyncIterator()
                    while !progress.stop.load(ordering: .relaxed) {
                        try await requests.write(request)
                        guard try await iterator.next() != nil else { return }
                        progress.count()
                    }
                    requests.finish()
                }
            }
            print("msgs/s: \(rate) (\(streams) streams, one connection, peak RSS \(peakResidentMiB()) MiB, \(total) in all with the warm-up)")
        }
    }

    /// Unary calls on grpc.testing.BenchmarkService/UnaryCall from `concurrency` tasks on one channel: what
    /// keeping tens of thousands of calls in flight costs the client.
    struct Unary: AsyncParsableCommand {
        @OptionGroup var target: Target
        @OptionGroup var payload: Payload
        @Option(help: "Calls in flight at once.") var concurrency = 20_000

        func run() async throws {
            let request = payload.request
            let (rate, failures, total) = try await target.measure(workers: concurrency) { channel, _, progress in
                let client = Grpc_Testing_BenchmarkService.Client(channel)
                while !progress.stop.load(ordering: .relaxed) {
                    do {
                        _ = try await client.unaryCall(request)
                        progress.count()
                    } catch {
                        progress.failures.add(1, ordering: .relaxed)
                    }
                }
            }
            print("calls/s: \(rate) (\(concurrency) in flight, \(failures) failed, peak RSS \(peakResidentMiB()) MiB, \(total) in all with the warm-up)")
        }
    }

    /// What the measuring task and the workers share.
    final class Progress: Sendable {
        let operations = Atomic<Int>(0)
        /// Operations since the start, warm-up included.
        let total = Atomic<Int>(0)
        let failures = Atomic<Int>(0)
        let stop = Atomic<Bool>(false)
        let measuring = Atomic<Bool>(false)

        /// Counts one operation, if the warm-up is over.
        func count() {
            total.add(1, ordering: .relaxed)
            if measuring.load(ordering: .relaxed) { operations.add(1, ordering: .relaxed) }
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
