import ArgumentParser
import Bench
import Cluster
import Journal
import JSON
import Protos
import Transport

/// Small fixed benchmarks used while building the system (the full load harness is `tradewire load`); the
/// engines are the Bench target's, and these commands only read their options and print their figures.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Fixed micro-benchmarks of the RPC runtime and the services.", shouldDisplay: false,
        subcommands: [Streaming.self, Unary.self, ProcessorLoad.self, RiskChecks.self, Fills.self, OrderEntryLoad.self, CacheRetentionProbe.self])

    struct Target: ParsableArguments {
        @Option var host = "127.0.0.1"
        @Option var port: Int
        @Option(help: "Seconds measured.") var duration = 5
        @Option(help: "Seconds of warm-up, not measured.") var warmup = 1

        func validate() throws {
            guard (1...65_535).contains(port) else { throw ValidationError("--port is 1–65,535") }
            guard (1...3600).contains(duration), (0...600).contains(warmup) else { throw ValidationError("--duration is 1–3,600, --warmup 0–600") }
        }

        var target: BenchTarget { BenchTarget(host: host, port: port, warmup: .seconds(warmup), duration: .seconds(duration)) }
    }

    struct Payload: ParsableArguments {
        @Option(help: "Request and response payload bytes.") var size = 64

        func validate() throws {
            guard (0...4_194_304).contains(size) else { throw ValidationError("--size is 0–4,194,304 bytes") }
        }
    }

    /// Ping-pong on grpc.testing.BenchmarkService/StreamingCall, served by `tradewire interop server` or grpc-go's
    /// bench_server.
    struct Streaming: AsyncParsableCommand {
        @OptionGroup var target: Target
        @OptionGroup var payload: Payload
        @Option(help: "Concurrent streams on the one connection.") var streams = 64

        func validate() throws {
            guard (1...100_000).contains(streams) else { throw ValidationError("--streams is 1–100,000") }
        }

        func run() async throws {
            let result = try await EchoBenchmark.streaming(target.target, size: payload.size, streams: streams)
            print("msgs/s: \(Int(result.rate)) (\(streams) streams, one connection, round trip \(result.percentiles()), "
                + "peak RSS \(ProcessMemory.peakResidentMiB()) MiB, \(result.total) in all with the warm-up)")
        }
    }

    /// Unary calls on grpc.testing.BenchmarkService/UnaryCall.
    struct Unary: AsyncParsableCommand {
        @OptionGroup var target: Target
        @OptionGroup var payload: Payload
        @Option(help: "Calls in flight at once.") var concurrency = 20_000

        func validate() throws {
            guard (1...1_000_000).contains(concurrency) else { throw ValidationError("--concurrency is 1–1,000,000") }
        }

        func run() async throws {
            let result = try await EchoBenchmark.unary(target.target, size: payload.size, concurrency: concurrency)
            print("calls/s: \(Int(result.rate)) (\(concurrency) in flight, \(result.failed) failed, \(result.percentiles()), "
                + "peak RSS \(ProcessMemory.peakResidentMiB()) MiB, \(result.total) in all with the warm-up)")
        }
    }

    /// Risk checks per second on a running risk service (``RiskCheckBenchmark``).
    struct RiskChecks: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "risk", abstract: "Risk checks per second on a risk service.")

        @OptionGroup var target: Target
        @Option(help: "Workers: bidi streams (or unary calls in flight) on the one connection.") var streams = 64
        @Flag(help: "Unary Check calls instead of CheckStream.") var unary = false
        @Option(help: "Checks per CheckStream batch (1–4,096).") var batch = 1
        @Option var account = "bench"
        @Option var symbol = "ACME"
        @Option(help: "Limit price, in units at the instrument's price scale.") var price: Int64 = 10010
        @Option(help: "The instrument's price scale.") var priceScale: UInt32 = 2
        @Option(help: "Quantity, in units at scale 0.") var quantity: Int64 = 10
        @Option(help: "What every answer must be: approved or rejected.") var expect = "approved"

        func validate() throws {
            guard ["approved", "rejected"].contains(expect) else { throw ValidationError("--expect is approved or rejected") }
            guard (1...4096).contains(batch) else { throw ValidationError("--batch is 1–4,096") }
            guard (1...100_000).contains(streams) else { throw ValidationError("--streams is 1–100,000") }
            guard price > 0, quantity > 0, priceScale <= 18 else { throw ValidationError("--price and --quantity are positive, --price-scale 0–18") }
        }

        func run() async throws {
            let check = Tradewire_V1_RiskCheckRequest(
                account: account, symbol: symbol, side: .buy, type: .limit,
                price: Tradewire_V1_Price(units: price, scale: priceScale), quantity: Tradewire_V1_Quantity(units: quantity))
            let result = try await RiskCheckBenchmark(target: target.target, streams: streams, unary: unary, batch: batch, check: check,
                                                      expectApproved: expect == "approved").run()
            print("checks/s: \(Int(result.rate)) (\(unary ? "Check" : "CheckStream, batches of \(batch)"), \(streams) \(unary ? "in flight" : "streams"), one connection, "
                + "\(result.failed) answered otherwise (not \(expect)), round trip \(result.percentiles()), \(result.total) in all with the warm-up)")
        }
    }

    /// How much of a sleeping process's memory this machine's caches keep (``CacheRetention``).
    struct CacheRetentionProbe: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "cache-retention", abstract: "CPU cost of memory work right away and after sleeping, on this machine.")

        @Option(help: "Working set, KiB (64 KiB–256 MiB).") var workingSetKib = 1024
        @Option(help: "Dependent loads per round (1–1,000,000).") var loads = 2048
        @Option(help: "Rounds per idle time (the median is reported; 1–100,000).") var rounds = 300
        @Option(help: "Idle times to measure, microseconds, comma-separated (0–1,000,000 each).") var idle = "0,250,500,1000,2000"
        @Flag(help: "One JSON object instead of text.") var json = false

        func validate() throws {
            guard (64...262_144).contains(workingSetKib) else { throw ValidationError("--working-set-kib is 64–262,144") }
            guard (1...1_000_000).contains(loads), (1...100_000).contains(rounds) else {
                throw ValidationError("--loads is 1–1,000,000, --rounds 1–100,000")
            }
            _ = try idleTimes()
        }

        private func idleTimes() throws -> [Int] {
            let times = try idle.split(separator: ",").map { text in
                guard let time = Int(text), (0...1_000_000).contains(time) else {
                    throw ValidationError("--idle is a comma-separated list of microseconds, each 0–1,000,000")
                }
                return time
            }
            guard !times.isEmpty else { throw ValidationError("--idle names no idle time") }
            return times
        }

        func run() throws {
            var probe = CacheRetention()
            probe.workingSetBytes = workingSetKib * 1024
            probe.loadsPerRound = loads
            probe.rounds = rounds
            probe.idleMicroseconds = try idleTimes()
            let figures = probe.run()
            if json {
                let entries = figures.map { figure in
                    JSONValue.object(["idle_us": .number(figure.idleMicroseconds), "round_ns": .number(Int(figure.medianNanoseconds))])
                }
                print(JSONValue.object(["working_set_bytes": .number(probe.workingSetBytes), "loads": .number(loads),
                                        "figures": .array(entries)]).text())
                return
            }
            print("\(loads) dependent loads over \(workingSetKib) KiB, median CPU of \(rounds) rounds:")
            for figure in figures {
                print("  after \(figure.idleMicroseconds) µs asleep: \(Int(figure.medianNanoseconds / 1000)) µs")
            }
        }
    }

    /// Durable command throughput of processor nodes in this process (``ProcessorBenchmark``).
    struct ProcessorLoad: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "processor", abstract: "Durable command throughput of processor nodes.")

        @Option(help: "Processor nodes in the cluster.") var nodes = 1
        @Option(help: "Commands in flight at saturation.") var inFlight = 4096
        @Option(help: "Steady rates to measure (commands/s), comma-separated.") var rates = "10000"
        @Option(help: "Seconds per measurement.") var duration = 5
        @Option(help: "Seconds of warm-up before each measurement.") var warmup = 1
        @Option(help: "full or normal.") var synchronous = "full"
        @Option(help: "Symbols traded.") var symbols = 8
        @Option(help: "Instead of throughput: place this many orders that rest (never cross) and report the memory per live order.")
        var liveOrders = 0

        func validate() throws {
            guard (1...64).contains(nodes), (1...1_000_000).contains(inFlight), (1...10_000).contains(symbols) else {
                throw ValidationError("--nodes is 1–64, --in-flight 1–1,000,000, --symbols 1–10,000")
            }
            guard (1...3600).contains(duration), (0...600).contains(warmup), (0...100_000_000).contains(liveOrders) else {
                throw ValidationError("--duration is 1–3,600, --warmup 0–600, --live-orders 0–100,000,000")
            }
            guard try !parsedRates().isEmpty else { throw ValidationError("--rates names no rate") }
            guard JournalSynchronous(rawValue: synchronous.uppercased()) != nil else { throw ValidationError("--synchronous is full or normal") }
        }

        private func parsedRates() throws -> [Int] {
            try rates.split(separator: ",").map { text in
                guard let rate = Int(text), (1...10_000_000).contains(rate) else {
                    throw ValidationError("--rates is a comma-separated list of rates, each 1–10,000,000 commands/s")
                }
                return rate
            }
        }

        func run() async throws {
            var benchmark = ProcessorBenchmark()
            benchmark.nodes = nodes
            benchmark.inFlight = inFlight
            benchmark.rates = try parsedRates()
            benchmark.duration = .seconds(duration)
            benchmark.warmup = .seconds(warmup)
            benchmark.synchronous = JournalSynchronous(rawValue: synchronous.uppercased())!
            benchmark.symbols = symbols
            benchmark.liveOrders = liveOrders
            try await benchmark.run { print($0) }
        }
    }

    /// Place-to-fill latency through the gateway (``FillsBenchmark``).
    struct Fills: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "fills", abstract: "Place-to-fill latency through the gateway.")

        @Option(help: "The gateway's host:port.") var gateway: String
        @Option(help: "An API key of an account nothing else trades on.") var apiKey: String
        @Option(help: "A symbol nothing else trades.") var symbol = "ZETA"
        @Option(help: "The price, in units of the symbol's price scale 2 (inside its price band).") var price: Int64 = 25_000
        @Option(help: "Crossing pairs to measure (at most).") var pairs = 200
        @Option(help: "Seconds to measure for (at most; an overloaded system gets fewer pairs).") var seconds = 30.0
        @Option(help: "Milliseconds between pairs.") var intervalMs = 20
        @Option(help: "Write the percentiles as JSON here.") var json: String?

        func validate() throws {
            guard SocketAddressText.split(gateway) != nil else { throw ValidationError("--gateway \(gateway) is not host:port") }
            guard price > 0, (1...1_000_000).contains(pairs), seconds > 0, seconds <= 3600, (0...60_000).contains(intervalMs) else {
                throw ValidationError("--price is positive, --pairs 1–1,000,000, --seconds (0, 3,600], --interval-ms 0–60,000")
            }
        }

        func run() async throws {
            let (host, port) = SocketAddressText.split(gateway)!
            let result = try await FillsBenchmark(host: host, port: port, apiKey: apiKey, symbol: symbol, price: price, pairs: pairs,
                                                  duration: .milliseconds(Int64(seconds * 1000)), interval: .milliseconds(intervalMs)).run()
            try output(result, json: json)
        }
    }

    /// Throughput and latency of orders through OrderEntry sessions (``OrderEntryBenchmark``).
    struct OrderEntryLoad: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "order-entry", abstract: "Throughput and latency of orders through OrderEntry sessions.")

        @Option(help: "The gateway's host:port.") var gateway: String
        @Option(help: "API keys, comma-separated: session i uses key i mod their number.") var apiKeys: String
        @Option(help: "Sessions (bidi streams).") var sessions = 8
        @Option(help: "Connections the sessions share.") var connections = 2
        @Option(help: "Requests per second over all sessions (open loop); without it, a closed loop.") var rate: Int?
        @Option(help: "Closed loop: requests each session keeps unanswered.") var inFlight = 64
        @Option(help: "Seconds measured.") var seconds = 10.0
        @Option(help: "Seconds of warm-up before measuring.") var warmup = 2.0
        @Option(help: "Symbols and their mid prices, in units of price scale 2.") var symbols = "ACME:10000,BOLT:5000"
        @Option(help: "Orders are priced from this many ticks short of the mid to as many through it.") var spread: Int64 = 2
        @Option(help: "Write the figures as JSON here.") var json: String?

        func validate() throws {
            guard SocketAddressText.split(gateway) != nil else { throw ValidationError("--gateway \(gateway) is not host:port") }
            guard !keys.isEmpty else { throw ValidationError("--api-keys names no key") }
            guard (1...1024).contains(sessions) else { throw ValidationError("--sessions is 1–1,024") }
            guard (1...64).contains(connections) else { throw ValidationError("--connections is 1–64") }
            guard (1...4096).contains(inFlight) else { throw ValidationError("--in-flight is 1–4,096 (a session's own bound)") }
            if let rate { guard (1...1_000_000).contains(rate) else { throw ValidationError("--rate is 1–1,000,000") } }
            guard seconds > 0, seconds <= 3600, warmup >= 0, warmup <= 600 else { throw ValidationError("--seconds is (0, 3600], --warmup [0, 600]") }
            guard (0...1_000_000).contains(spread) else { throw ValidationError("--spread is 0–1,000,000 ticks") }
            _ = try markets()
        }

        private var keys: [String] { apiKeys.split(separator: ",").map(String.init) }

        private func markets() throws -> [OrderFlow.Market] {
            do { return try OrderFlow.markets(symbols) } catch { throw ValidationError(error.description) }
        }

        func run() async throws {
            let (host, port) = SocketAddressText.split(gateway)!
            let result = try await OrderEntryBenchmark(
                host: host, port: port, apiKeys: keys, sessions: sessions, connections: connections, rate: rate, inFlight: inFlight,
                warmup: .milliseconds(Int64(warmup * 1000)), duration: .milliseconds(Int64(seconds * 1000)), markets: try markets(),
                spread: spread
            ).run()
            try output(result, json: json)
        }
    }

    /// Prints `result` on a line, and writes it pretty to `json` when given.
    static func output(_ result: JSONValue, json: String?) throws {
        print(result.text())
        if let json { try Files.write(result.text(pretty: true) + "\n", to: json) }
    }
}
