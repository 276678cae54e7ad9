import LoadHarness
import Protos
import RPC
import ServiceStubs
import Transport

#if canImport(Glibc)
import Glibc
#endif

/// Risk checks against a running risk service (`tradewire serve risk`), from `streams` workers on one connection:
/// on CheckStream, each worker a bidi stream sending a batch of `batch` checks and waiting for its answer (a
/// processor node sends what one turn produced); with `unary`, Check calls. Every check is a new order (ids unique
/// to this run), so each approved one holds a reservation; an answer other than `expectApproved` counts as a
/// failure. tools/bench-risk runs it and reads the service's CPU.
public struct RiskCheckBenchmark: Sendable {
    public var target: BenchTarget
    public var streams: Int
    public var unary: Bool
    public var batch: Int
    public var check: Tradewire_V1_RiskCheckRequest
    public var expectApproved: Bool

    /// `check` is every check's template: its account, symbol, side, type, price and quantity.
    public init(target: BenchTarget, streams: Int, unary: Bool, batch: Int, check: Tradewire_V1_RiskCheckRequest, expectApproved: Bool) {
        precondition(streams > 0 && (1...4096).contains(batch), "a risk benchmark needs a worker and a batch of 1–4,096")
        self.target = target
        self.streams = streams
        self.unary = unary
        self.batch = batch
        self.check = check
        self.expectApproved = expectApproved
    }

    public func run() async throws -> OperationLoadResult {
        let prefix = "bench-\(getpid())"
        let (base, unary, size, approved) = (check, unary, batch, expectApproved)
        return try await target.measure(workers: streams) { channel, worker, gate in
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
    }
}
