import EventLoop
import GRPCServices
import LoadHarness
import ServiceStubs
import Transport

#if canImport(Glibc)
import Glibc
#endif

/// A benchmark's input that it cannot run with (the command line names the option).
public struct BenchError: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) { self.description = description }
}

/// Where a fixed benchmark sends its load, and for how long: a closed loop of workers on one channel, from tasks
/// preferring the channel's loop (each worker asks its ``LoadGate`` for the next start and records each operation).
public struct BenchTarget: Sendable {
    public var host: String
    public var port: Int
    public var warmup: Duration
    public var duration: Duration

    public init(host: String, port: Int, warmup: Duration, duration: Duration) {
        self.host = host
        self.port = port
        self.warmup = warmup
        self.duration = duration
    }

    func measure(
        workers: Int,
        _ work: @escaping @Sendable (Channel, Int, LoadGate) async throws -> Void
    ) async throws -> OperationLoadResult {
        guard let address = SocketAddress(host: host, port: port) else { throw BenchError("\(host):\(port) is not an address") }
        let channel = try Channel(addresses: [address])
        let load = OperationLoad(model: .closed(workers: workers), warmup: warmup, duration: duration)
        let result = try await load.run(on: channel.group.loops[0]) { worker, gate in try await work(channel, worker, gate) }
        await channel.shutdown()
        return result
    }
}

/// grpc.testing.BenchmarkService, as served by `tradewire interop server` and grpc-go's bench_server: the RPC
/// runtime's cost with nothing behind it.
public enum EchoBenchmark {
    static func request(size: Int) -> Grpc_Testing_SimpleRequest {
        Grpc_Testing_SimpleRequest(responseSize: Int32(size), payload: .init(body: [UInt8](repeating: 0, count: size)))
    }

    /// Ping-pong on StreamingCall: `streams` bidi streams on one connection, each sending a `size`-byte request
    /// and waiting for its response, as grpc-go's benchmark client does.
    public static func streaming(_ target: BenchTarget, size: Int, streams: Int) async throws -> OperationLoadResult {
        precondition(streams > 0 && size >= 0)
        let request = request(size: size)
        return try await target.measure(workers: streams) { channel, _, gate in
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
    }

    /// UnaryCall from `concurrency` tasks on one channel: what keeping tens of thousands of calls in flight costs
    /// the client.
    public static func unary(_ target: BenchTarget, size: Int, concurrency: Int) async throws -> OperationLoadResult {
        precondition(concurrency > 0 && size >= 0)
        let request = request(size: size)
        return try await target.measure(workers: concurrency) { channel, _, gate in
            let client = Grpc_Testing_BenchmarkService.Client(channel)
            while let start = await gate.next() {
                let succeeded = (try? await client.unaryCall(request)) != nil
                gate.record(since: start, succeeded: succeeded)
            }
        }
    }
}

/// This process's memory, from /proc.
public enum ProcessMemory {
    /// Peak resident memory (VmHWM), in MiB; -1 when /proc cannot tell.
    public static func peakResidentMiB() -> Int {
        guard let status = readProc("/proc/self/status"),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "")
        else { return -1 }
        return kilobytes / 1024
    }

    /// The resident set, in bytes (/proc/self/statm); 0 when /proc cannot tell.
    public static func residentBytes() -> Int {
        guard let text = readProc("/proc/self/statm"), let pages = Int(text.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    private static func readProc(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 8192)
        let count = read(fd, &bytes, bytes.count)
        return count > 0 ? String(decoding: bytes[..<count], as: UTF8.self) : nil
    }
}
