import EventLoop
import Journal
import LoadHarness
import Cluster
import Hosting
import Locks
import Processor
import Protos
import RPC
import ServiceStubs
import Synchronization
import Transport

#if canImport(Glibc)
import Glibc
#endif

/// Durable acknowledgements per second of processor nodes: a cluster of `nodes` in this process (journals on disk
/// in a fresh folder, synchronous FULL unless told), driven through the command stream with places that cross on a
/// few symbols, so that every order also goes through its book and its fills come back. Reports commands/s at
/// saturation (closed loop) and latency at steady rates (open loop), with the journal's commit batch sizes; or,
/// with `liveOrders`, the memory per resting order and the time a restarted node takes to serve again.
///
/// Risk is answered by an approve-all responder in this process: the benchmark measures the nodes, and the risk
/// service's cost is its own.
public struct ProcessorBenchmark: Sendable {
    public var nodes = 1
    public var inFlight = 4096
    public var rates = [10_000]
    public var duration: Duration = .seconds(5)
    public var warmup: Duration = .seconds(1)
    public var synchronous: JournalSynchronous = .full
    public var symbols = 8
    public var liveOrders = 0

    public init() {}

    /// Runs the measurement, handing each finished figure's line to `report`.
    public func run(report: @escaping @Sendable (String) -> Void) async throws {
        precondition(nodes > 0 && inFlight > 0 && symbols > 0 && rates.allSatisfy { $0 > 0 } && liveOrders >= 0)
        signal(SIGPIPE, SIG_IGN)
        var template = Array("/tmp/tradewire-bench-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw BenchError("mkdtemp failed: \(String(cString: strerror(errno)))") }
        let directory = String(cString: made)
        let risk = try Server(services: [ApproveAllRisk()], configuration: .loopback())
        let riskPort = try await risk.start()[0].port
        var config = ClusterConfig(epoch: 1, nodes: try (1...nodes).map { index in
            ClusterNode(id: "p\(index)", address: "127.0.0.1:\(try Socket.reservablePort())")
        })
        config.riskAddress = "127.0.0.1:\(riskPort)"
        config.dataDirectory = directory
        config.settlementDelay = .seconds(3600)
        config.riskTimeout = .seconds(2)
        config.synchronous = synchronous
        if liveOrders > 0 { config.passivateAfter = .seconds(3600) }
        let node = { (id: String) throws -> ProcessorNode in
            try ProcessorNode(config: config, nodeID: id, host: ServiceHost(name: "processor-\(id)", grace: .milliseconds(100)))
        }
        var processors = try config.nodes.map { try node($0.id) }
        for processor in processors { try await processor.start() }
        let client = ClusterClient(config: config, maxInFlightPerNode: inFlight)
        let driver = Driver(client: client, symbols: symbols)

        if liveOrders > 0 {
            report(try await measureMemory(driver: driver, processors: processors))
            // A restart rebuilds the books (snapshot + later inputs) and the outbox; order actors come back lazily.
            await processors[0].shutdown()
            let start = Monotonic.now()
            processors[0] = try node(config.nodes[0].id)
            try await processors[0].start()
            let books = try await processors[0].liveActors().books
            report("restart of \(config.nodes[0].id): serving again after \(LoadResult.format(nanoseconds: Monotonic.now() - start)) "
                + "(\(books) books rebuilt from their snapshots and later inputs)")
        } else {
            try await measureThroughput(driver: driver, processors: processors, report: report)
        }
        await client.close()
        for processor in processors { await processor.shutdown() }
        await risk.shutdown()
        for node in config.nodes {
            for suffix in ["", "-wal", "-shm"] { unlink("\(directory)/\(node.id).sqlite\(suffix)") }
        }
        rmdir(directory)
    }

    /// Places `liveOrders` resting orders and compares the process's resident memory before and after.
    func measureMemory(driver: Driver, processors: [ProcessorNode]) async throws -> String {
        let warm = min(10_000, liveOrders)
        _ = await driver.place(count: warm, inFlight: inFlight, resting: true)
        let before = ProcessMemory.residentBytes()
        let start = Monotonic.now()
        let failures = await driver.place(count: liveOrders - warm, inFlight: inFlight, resting: true)
        let seconds = Double(Monotonic.now() - start) / 1e9
        var orders = 0
        for processor in processors { orders += try await processor.liveActors().orders }
        let after = ProcessMemory.residentBytes()
        let perOrder = Double(after - before) / Double(max(1, liveOrders - warm))
        return "live orders: \(orders) order actors in memory (\(liveOrders) placed, \(failures) failed or rejected, \(Int(Double(liveOrders - warm) / seconds)) orders/s), "
            + "resident \(before >> 20) MiB → \(after >> 20) MiB: \(Int(perOrder)) bytes per live order (actor, book entry, indexes; "
            + "SQLite's page cache and the allocator's free lists included)"
    }

    func measureThroughput(driver: Driver, processors: [ProcessorNode], report: @Sendable (String) -> Void) async throws {
        report("processor nodes: \(nodes), journal synchronous=\(synchronous.rawValue), \(symbols) symbols, crossing limit orders")
        _ = try await driver.measure(OperationLoad(model: .closed(workers: inFlight), warmup: .zero, duration: warmup))
        let before = Self.statistics(processors)
        let saturated = try await driver.measure(OperationLoad(model: .closed(workers: inFlight), warmup: .zero, duration: duration))
        let saturation = Self.statistics(processors).since(before)
        let seconds = Double(duration.nanoseconds) / 1e9
        report("saturation: \(Int(saturated.rate)) commands/s acknowledged (\(Int(saturated.rate) / nodes) per node), \(inFlight) in flight, "
            + "\(saturated.failed) failed or rejected; latency \(saturated.percentiles())")
        report("  journal: \(saturation.summary(seconds: seconds))")
        for rate in rates {
            // At most 16,384 unanswered; each timed from its intended send time.
            let model = OperationLoad.Model.open(rate: Double(rate), workers: 16_384)
            _ = try await driver.measure(OperationLoad(model: model, warmup: .zero, duration: warmup))
            let start = Self.statistics(processors)
            let steady = try await driver.measure(OperationLoad(model: model, warmup: .zero, duration: duration))
            let journal = Self.statistics(processors).since(start)
            report("steady \(rate)/s: \(Int(steady.rate)) commands/s acknowledged, \(steady.failed) failed or rejected; latency "
                + "\(steady.percentiles([50, 99, 99.9])) (from the intended send time)")
            report("  journal: \(journal.summary(seconds: seconds))")
        }
    }

    static func statistics(_ processors: [ProcessorNode]) -> JournalTotals {
        processors.reduce(into: JournalTotals()) { totals, processor in
            let statistics = processor.journal.statistics
            totals.transactions += statistics.batches
            totals.writes += statistics.writes
            totals.events += statistics.entries
            totals.largest = max(totals.largest, statistics.largestBatch)
        }
    }

    struct JournalTotals {
        var transactions = 0
        var writes = 0
        var events = 0
        var largest = 0

        func since(_ earlier: JournalTotals) -> JournalTotals {
            JournalTotals(transactions: transactions - earlier.transactions, writes: writes - earlier.writes,
                          events: events - earlier.events, largest: largest)
        }

        func summary(seconds: Double) -> String {
            let count = Double(max(1, transactions))
            return "\(Int(Double(transactions) / seconds)) transactions/s, \(LoadResult.format(Double(writes) / count, digits: 1)) writes and "
                + "\(LoadResult.format(Double(events) / count, digits: 1)) events per transaction (largest so far \(largest) events)"
        }
    }

    /// Sends place commands to the nodes' command streams; the measuring is LoadHarness's ``OperationLoad``.
    final class Driver: Sendable {
        let client: ClusterClient
        let symbols: Int
        private let counter = Atomic<Int>(0)

        init(client: ClusterClient, symbols: Int) {
            self.client = client
            self.symbols = symbols
        }

        /// The next order: buys and sells alternating around one price per symbol, so that most cross (or, when
        /// `resting`, buys far below sells, so that none do).
        func nextCommand(resting: Bool = false) -> Tradewire_V1_Command {
            let index = counter.add(1, ordering: .relaxed).newValue
            let buy = index % 2 == 0
            var order = Tradewire_V1_NewOrder(
                clientOrderID: "c\(index)", symbol: "SYM\((index / 2) % symbols)", side: buy ? .buy : .sell, type: .limit,
                timeInForce: .gtc)
            order.price = Tradewire_V1_Price(units: (resting ? (buy ? 5_000 : 15_000) : 10_000) + Int64(index % 5) - 2, scale: 2)
            order.quantity = Tradewire_V1_Quantity(units: Int64(1 + index % 3), scale: 0)
            var command = Tradewire_V1_Command()
            command.command = .place(Tradewire_V1_PlaceCommand(
                orderID: Tradewire_V1_OrderId(value: "bench-\(index)"), account: "bench", order: order))
            return command
        }

        /// Sends `command` to its owner's command stream and waits for the acknowledgement: true when the order
        /// was accepted (a rejected one — risk too slow under the load, for one — skipped the book).
        func send(_ command: Tradewire_V1_Command) async -> Bool {
            var command = command
            command.ringEpoch = client.epoch
            guard case .place(let place) = command.command, let stream = try? client.stream(to: client.owner(of: .order(place.orderID!.value))) else {
                return false
            }
            return await withCheckedContinuation { continuation in
                stream.send(command) { result in
                    guard case .success(let ack) = result, case .order(let order) = ack.result else { return continuation.resume(returning: false) }
                    continuation.resume(returning: order.status != .rejected)
                }
            }
        }

        /// Places `count` orders with `inFlight` outstanding; returns how many failed.
        func place(count: Int, inFlight: Int, resting: Bool) async -> Int {
            let tally = PlaceTally(count)
            await withDiscardingTaskGroup { group in
                for _ in 0..<min(inFlight, count) {
                    group.addTask {
                        while tally.remaining.subtract(1, ordering: .relaxed).newValue >= 0 {
                            if await !self.send(self.nextCommand(resting: resting)) { tally.failures.add(1, ordering: .relaxed) }
                        }
                    }
                }
            }
            return tally.failures.load(ordering: .relaxed)
        }

        private final class PlaceTally: Sendable {
            let remaining: Atomic<Int>
            let failures = Atomic<Int>(0)

            init(_ count: Int) { remaining = Atomic(count) }
        }

        /// Each of `load`'s operations is one place, sent and acknowledged.
        func measure(_ load: OperationLoad) async throws -> OperationLoadResult {
            try await load.run { _, gate in
                while let start = await gate.next() {
                    gate.record(since: start, succeeded: await self.send(self.nextCommand()))
                }
            }
        }
    }
}

/// The risk stand-in of ``ProcessorBenchmark``: approves every check, so that the benchmark measures the
/// processor nodes alone. Never part of a running system (a processor without a risk service rejects every
/// order as RISK_UNAVAILABLE).
struct ApproveAllRisk: Tradewire_V1_Risk.ServiceProtocol {
    func check(request: Tradewire_V1_RiskCheckRequest, context: ServerContext) async throws -> Tradewire_V1_RiskCheckResponse {
        Tradewire_V1_RiskCheckResponse(checkID: request.checkID, approved: true)
    }

    func checkStream(requests: RPCRequestStream<Tradewire_V1_RiskCheckBatch>, responses: RPCResponseWriter<Tradewire_V1_RiskCheckResults>,
                     context: ServerContext) async throws
    {
        for try await batch in requests {
            try await responses.write(Tradewire_V1_RiskCheckResults(
                results: batch.checks.map { Tradewire_V1_RiskCheckResponse(checkID: $0.checkID, approved: true) }))
        }
    }

    func setLimits(request: Tradewire_V1_SetLimitsRequest, context: ServerContext) async throws -> Tradewire_V1_Account {
        throw RPCError(code: .unimplemented, message: "the benchmark's risk stand-in only approves checks")
    }

    func setBalance(request: Tradewire_V1_SetBalanceRequest, context: ServerContext) async throws -> Tradewire_V1_Account {
        throw RPCError(code: .unimplemented, message: "the benchmark's risk stand-in only approves checks")
    }

    func getAccount(request: Tradewire_V1_GetAccountRequest, context: ServerContext) async throws -> Tradewire_V1_Account {
        throw RPCError(code: .unimplemented, message: "the benchmark's risk stand-in only approves checks")
    }

    func getPositions(request: Tradewire_V1_GetPositionsRequest, context: ServerContext) async throws -> Tradewire_V1_GetPositionsResponse {
        throw RPCError(code: .unimplemented, message: "the benchmark's risk stand-in only approves checks")
    }
}
