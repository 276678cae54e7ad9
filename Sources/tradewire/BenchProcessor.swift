import ArgumentParser
import EventLoop
import Journal
import LoadHarness
import Cluster
import Hosting
import Processor
import Protos
import RPC
import ServiceStubs
import Synchronization
import Transport

#if canImport(Glibc)
import Glibc
import Locks
#endif

extension Bench {
    /// Durable acknowledgements per second of processor nodes: a cluster of `nodes` in this process (journals on
    /// disk in a fresh folder, synchronous FULL unless told), driven through the command stream with places that
    /// cross on a few symbols, so that every order also goes through its book and its fills come back. Reports
    /// commands/s at saturation (closed loop) and latency at a steady rate (open loop), with the journal's
    /// commit batch sizes.
    ///
    /// Risk is answered by an approve-all responder in this process: the benchmark measures the nodes, and the
    /// risk service's cost is its own.
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
            guard rates.split(separator: ",").allSatisfy({ Int($0).map { (1...10_000_000).contains($0) } == true }) else {
                throw ValidationError("--rates is a comma-separated list of rates, each 1–10,000,000 commands/s")
            }
        }

        func run() async throws {
            signal(SIGPIPE, SIG_IGN)
            var template = Array("/tmp/tradewire-bench-XXXXXX".utf8CString)
            guard let made = mkdtemp(&template) else { throw ValidationError("mkdtemp failed") }
            let directory = String(cString: made)
            let risk = try Server(services: [ApproveAllRisk()], configuration: .loopback())
            let riskPort = try await risk.start()[0].port
            var config = ClusterConfig(epoch: 1, nodes: try (1...nodes).map { index in
                let (fd, port) = try Self.freePort()
                close(fd)
                return ClusterNode(id: "p\(index)", address: "127.0.0.1:\(port)")
            })
            config.riskAddress = "127.0.0.1:\(riskPort)"
            config.dataDirectory = directory
            config.settlementDelay = .seconds(3600)
            config.riskTimeout = .seconds(2)
            guard let mode = JournalSynchronous(rawValue: synchronous.uppercased()) else { throw ValidationError("--synchronous is full or normal") }
            config.synchronous = mode
            if liveOrders > 0 { config.passivateAfter = .seconds(3600) }
            let node = { (id: String) throws -> ProcessorNode in
                try ProcessorNode(config: config, nodeID: id, host: ServiceHost(name: "processor-\(id)", grace: .milliseconds(100)))
            }
            var processors = try config.nodes.map { try node($0.id) }
            for processor in processors { try await processor.start() }
            let client = ClusterClient(config: config, maxInFlightPerNode: inFlight)
            let driver = Driver(client: client, symbols: symbols)

            if liveOrders > 0 {
                try await measureMemory(driver: driver, processors: processors)
                // A restart rebuilds the books (snapshot + later inputs) and the outbox; order actors come back lazily.
                await processors[0].shutdown()
                let start = Monotonic.now()
                processors[0] = try node(config.nodes[0].id)
                try await processors[0].start()
                let books = try await processors[0].liveActors().books
                print("restart of \(config.nodes[0].id): serving again after \(LoadResult.format(nanoseconds: Monotonic.now() - start)) "
                    + "(\(books) books rebuilt from their snapshots and later inputs)")
            } else {
                try await measureThroughput(driver: driver, processors: processors, mode: mode)
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
        func measureMemory(driver: Driver, processors: [ProcessorNode]) async throws {
            let warm = min(10_000, liveOrders)
            _ = await driver.place(count: warm, inFlight: inFlight, resting: true)
            let before = Self.residentBytes()
            let start = Monotonic.now()
            let failures = await driver.place(count: liveOrders - warm, inFlight: inFlight, resting: true)
            let seconds = Double(Monotonic.now() - start) / 1e9
            var orders = 0
            for processor in processors { orders += try await processor.liveActors().orders }
            let after = Self.residentBytes()
            let perOrder = Double(after - before) / Double(liveOrders - warm)
            print("live orders: \(orders) order actors in memory (\(liveOrders) placed, \(failures) failed or rejected, \(Int(Double(liveOrders - warm) / seconds)) orders/s), "
                + "resident \(before >> 20) MiB → \(after >> 20) MiB: \(Int(perOrder)) bytes per live order (actor, book entry, indexes; "
                + "SQLite's page cache and the allocator's free lists included)")
        }

        /// The process's resident set, in bytes (/proc/self/statm).
        static func residentBytes() -> Int {
            guard let text = try? Files.read("/proc/self/statm"), let pages = Int(text.split(separator: " ").dropFirst().first ?? "") else { return 0 }
            return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
        }

        func measureThroughput(driver: Driver, processors: [ProcessorNode], mode: JournalSynchronous) async throws {
            print("processor nodes: \(nodes), journal synchronous=\(mode.rawValue), \(symbols) symbols, crossing limit orders")
            _ = try await driver.closedLoop(inFlight: inFlight, seconds: warmup)
            let before = Self.statistics(processors)
            let saturated = try await driver.closedLoop(inFlight: inFlight, seconds: duration)
            let saturation = Self.statistics(processors).since(before)
            print("saturation: \(Int(saturated.rate)) commands/s acknowledged (\(Int(saturated.rate) / nodes) per node), \(inFlight) in flight, "
                + "\(saturated.failed) failed or rejected; latency \(saturated.percentiles())")
            print("  journal: \(saturation.summary(seconds: Double(duration)))")
            for rate in rates.split(separator: ",").compactMap({ Int($0) }) {
                _ = try await driver.openLoop(rate: rate, seconds: warmup)
                let start = Self.statistics(processors)
                let steady = try await driver.openLoop(rate: rate, seconds: duration)
                let journal = Self.statistics(processors).since(start)
                print("steady \(rate)/s: \(Int(steady.rate)) commands/s acknowledged, \(steady.failed) failed or rejected; latency "
                    + "\(steady.percentiles([50, 99, 99.9])) (from the intended send time)")
                print("  journal: \(journal.summary(seconds: Double(duration)))")
            }
        }

        /// A socket bound to a free port on 127.0.0.1 (closed by the caller before the node binds the port).
        static func freePort() throws -> (Int32, Int) {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
            }
            return (fd, Int(UInt16(bigEndian: address.sin_port)))
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

        /// `inFlight` commands outstanding for `seconds`: each acknowledgement sends the next.
        func closedLoop(inFlight: Int, seconds: Int) async throws -> OperationLoadResult {
            try await measure(OperationLoad(model: .closed(workers: inFlight), warmup: .zero, duration: .seconds(seconds)))
        }

        /// Commands at `rate` per second on a fixed schedule for `seconds`, timed from their intended send times
        /// (at most 16,384 unanswered).
        func openLoop(rate: Int, seconds: Int) async throws -> OperationLoadResult {
            try await measure(OperationLoad(model: .open(rate: Double(rate), workers: 16_384), warmup: .zero, duration: .seconds(seconds)))
        }

        private func measure(_ load: OperationLoad) async throws -> OperationLoadResult {
            try await load.run { _, gate in
                while let start = await gate.next() {
                    gate.record(since: start, succeeded: await self.send(self.nextCommand()))
                }
            }
        }
    }
}

/// The risk stand-in of `tradewire bench processor`: approves every check, so that the benchmark measures the
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
