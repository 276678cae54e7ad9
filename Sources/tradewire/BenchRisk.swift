import ArgumentParser
import LoadHarness
import Protos
import RPC
import ServiceStubs
import Transport

#if canImport(Glibc)
import Glibc
#endif

extension Bench {
    /// Risk checks against a running risk service (`tradewire serve risk`), from `streams` workers on one
    /// connection: on CheckStream, each worker a bidi stream sending a batch of --batch checks and waiting for its
    /// answer (a processor node sends what one turn produced); with --unary, Check calls. Every check is a new order (ids unique to this
    /// run), so each approved one holds a reservation; an answer other than --expect counts as a failure.
    /// tools/bench-risk runs it and reads the service's CPU.
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
        }

        func run() async throws {
            let approved = expect == "approved"
            let prefix = "bench-\(getpid())"
            let base = Tradewire_V1_RiskCheckRequest(
                account: account, symbol: symbol, side: .buy, type: .limit,
                price: Tradewire_V1_Price(units: price, scale: priceScale), quantity: Tradewire_V1_Quantity(units: quantity))
            let unary = unary
            let size = batch
            let result = try await target.measure(workers: streams) { channel, worker, gate in
                let client = Tradewire_V1_Risk.Client(channel)
                var number = 0
                func next() -> Tradewire_V1_RiskCheckRequest {
                    number += 1
                    var request = base
                    request.checkID = UInt64(number)
                    request.orderID = Tradewire_V1_OrderId(value: "\(prefix)-\(worker)-\(number)")
                    return request
                }
                if unary {
                    while let start = await gate.next() {
                        gate.record(since: start, succeeded: try await client.check(next()).approved == approved)
                    }
                    return
                }
                try await client.checkStream { requests, responses in
                    var iterator = responses.makeAsyncIterator()
                    while let start = await gate.next() {
                        try await requests.write(Tradewire_V1_RiskCheckBatch(checks: (0..<size).map { _ in next() }))
                        guard let results = try await iterator.next() else { return }
                        // Each check of the batch is an operation; they all took the batch's round trip.
                        for result in results.results { gate.record(since: start, succeeded: result.approved == approved) }
                    }
                    requests.finish()
                }
            }
            print("checks/s: \(Int(result.rate)) (\(unary ? "Check" : "CheckStream, batches of \(size)"), \(streams) \(unary ? "in flight" : "streams"), one connection, "
                + "\(result.failed) answered otherwise (not \(expect)), round trip \(result.percentiles()), \(result.total) in all with the warm-up)")
        }
    }
}
