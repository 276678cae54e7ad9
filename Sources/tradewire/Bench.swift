import ArgumentParser
import EventLoop
import GRPCServices
import ServiceStubs
import Synchronization
import Transport

#if canImport(Glibc)
import Glibc
#endif

/// Small fixed benchmarks used while building the runtime (the full load harness is `tradewire load`).
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fixed micro-benchmarks of the RPC runtime.", shouldDisplay: false, subcommands: [Streaming.self, Unary.self])

    /// Ping-pong on grpc.testing.BenchmarkService/StreamingCall: `streams` bidi streams on one connection, each
    /// sending a request and waiting for its response, as grpc-go's benchmark client does.
    struct Streaming: AsyncParsableCommand {
        @Option var host = "127.0.0.1"
        @Option var port: Int
        @Option(help: "Concurrent streams on the one connection.") var streams = 64
        @Option(help: "Request and response payload bytes.") var size = 64
        @Option(help: "Seconds measured.") var duration = 5
        @Option(help: "Seconds of warm-up, not measured.") var warmup = 1

        func run() async throws {
            let channel = try Channel(addresses: [SocketAddress(host: host, port: port)!])
            let loop = channel.group.loops[0]
            let client = Grpc_Testing_BenchmarkService.Client(channel)
            let request = Grpc_Testing_SimpleRequest(responseSize: Int32(size), payload: .init(body: [UInt8](repeating: 0, count: size)))
            let progress = Progress()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<streams {
                    group.addTask(executorPreference: loop) {
                        try await client.streamingCall { requests, responses in
                            var iterator = responses.makeAsyncIterator()
                            while !progress.stop.load(ordering: .relaxed) {
                                try await requests.write(request)
                                guard try await iterator.next() != nil else { return }
                                if progress.measuring.load(ordering: .relaxed) { progress.messages.add(1, ordering: .relaxed) }
                            }
                            requests.finish()
                        }
                    }
                }
                try await Task.sleep(for: .seconds(warmup))
                progress.measuring.store(true, ordering: .relaxed)
                let start = ContinuousClock.now
                try await Task.sleep(for: .seconds(duration))
                let count = progress.messages.load(ordering: .relaxed)
                let elapsed = ContinuousClock.now - start
                progress.stop.store(true, ordering: .relaxed)
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
                print("msgs/s: \(Int(Double(count) / seconds)) (\(count) round trips in \(seconds) s)")
                group.cancelAll()
            }
            await channel.shutdown()
        }
    }

    /// Unary calls on grpc.testing.BenchmarkService/UnaryCall from `concurrency` tasks on one channel: shows what
    /// keeping tens of thousands of calls in flight costs the client (rate, memory).
    struct Unary: AsyncParsableCommand {
        @Option var host = "127.0.0.1"
        @Option var port: Int
        @Option(help: "Calls in flight at once.") var concurrency = 20_000
        @Option(help: "Request and response payload bytes.") var size = 64
        @Option(help: "Seconds measured.") var duration = 5
        @Option(help: "Seconds of warm-up, not measured.") var warmup = 1

        func run() async throws {
            let channel = try Channel(addresses: [SocketAddress(host: host, port: port)!])
            let loop = channel.group.loops[0]
            let client = Grpc_Testing_BenchmarkService.Client(channel)
            let request = Grpc_Testing_SimpleRequest(responseSize: Int32(size), payload: .init(body: [UInt8](repeating: 0, count: size)))
            let progress = Progress()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<concurrency {
                    group.addTask(executorPreference: loop) {
                        while !progress.stop.load(ordering: .relaxed) {
                            do {
                                _ = try await client.unaryCall(request)
                                if progress.measuring.load(ordering: .relaxed) { progress.messages.add(1, ordering: .relaxed) }
                            } catch {
                                progress.failures.add(1, ordering: .relaxed)
                            }
                        }
                    }
                }
                try await Task.sleep(for: .seconds(warmup))
                progress.measuring.store(true, ordering: .relaxed)
                let start = ContinuousClock.now
                try await Task.sleep(for: .seconds(duration))
                let count = progress.messages.load(ordering: .relaxed)
                let elapsed = ContinuousClock.now - start
                progress.stop.store(true, ordering: .relaxed)
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
                print("calls/s: \(Int(Double(count) / seconds)) (\(count) calls in \(seconds) s, \(concurrency) in flight, "
                      + "\(progress.failures.load(ordering: .relaxed)) failed, peak RSS \(peakResidentMiB()) MiB)")
                try await group.waitForAll()
            }
            await channel.shutdown()
        }
    }

    /// The process's peak resident memory (VmHWM), in MiB.
    static func peakResidentMiB() -> Int {
        guard let file = fopen("/proc/self/status", "r") else { return -1 }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        let status = String(decoding: bytes, as: UTF8.self)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kilobytes = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        else { return -1 }
        return kilobytes / 1024
    }

    /// What the measuring task and the streams share.
    final class Progress: Sendable {
        let messages = Atomic<Int>(0)
        let stop = Atomic<Bool>(false)
        let measuring = Atomic<Bool>(false)
        let failures = Atomic<Int>(0)
    }
}
