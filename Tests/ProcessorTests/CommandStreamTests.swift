import ClusterTestSupport
import EventLoop
import Foundation
import Cluster
import Hosting
import Processor
import Protos
import RPC
import ServiceStubs
import Synchronization
import TestSupport
import Testing
import Transport
import HashRing

/// The command stream's bound on what is in flight: a node takes no more commands from a stream than its limit
/// until some are acknowledged, so a sender that outruns it is held back (HTTP/2 flow control) instead of being
/// buffered without limit.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct CommandStreamTests {
    /// Risk checks wait at a gate until the test opens it.
    final class GatedRisk: CheckingRisk, Sendable {
        let open = Atomic<Bool>(false)
        let waiting = Atomic<Int>(0)

        func check(request: Tradewire_V1_RiskCheckRequest, context: ServerContext) async throws -> Tradewire_V1_RiskCheckResponse {
            waiting.add(1, ordering: .relaxed)
            while !open.load(ordering: .relaxed) { try await Task.sleep(for: .milliseconds(5)) }
            return Tradewire_V1_RiskCheckResponse(checkID: request.checkID, approved: true)
        }

        func checkStream(requests: RPCRequestStream<Tradewire_V1_RiskCheckBatch>, responses: RPCResponseWriter<Tradewire_V1_RiskCheckResults>,
                         context: ServerContext) async throws
        {
            try await ScriptedRisk.answer(requests, responses) { request in try await self.check(request: request, context: context) }
        }
    }

    /// One node whose risk holds every check until the test opens the gate; stopped after `body`.
    static func withGatedNode(maxInFlightPerStream: Int = 16_384,
                              _ body: (GatedRisk, ClusterConfig, ProcessorNode) async throws -> Void) async throws
    {
        let directory = try ProcessorCluster.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let risk = GatedRisk()
        let riskServer = try Server(services: [risk], configuration: .loopback())
        let riskPort = try await riskServer.start()[0].port
        var config = ClusterConfig(epoch: 1, nodes: [ClusterNode(id: "p1", address: "127.0.0.1:\(try Peers.freePort())")])
        config.riskAddress = "127.0.0.1:\(riskPort)"
        config.riskTimeout = .seconds(30)
        config.dataDirectory = directory
        let node = try ProcessorNode(config: config, nodeID: "p1", maxInFlightPerStream: maxInFlightPerStream,
                                     host: ServiceHost(name: "p1", grace: .milliseconds(100)))
        try await node.start()
        do {
            try await body(risk, config, node)
        } catch {
            await node.shutdown()
            await riskServer.shutdown()
            throw error
        }
        await node.shutdown()
        await riskServer.shutdown()
    }

    @Test func aNodeTakesNoMoreThanItsLimitFromAStreamUntilItAcknowledges() async throws {
        try await Self.withGatedNode(maxInFlightPerStream: 8) { risk, config, node in
            // The node's Commands stream spoken directly, so that the test cuts the batches: one command alone, then
            // 99 in one batch. However a sender cuts them, the node fills its limit (7 of the 99 go in at once) and
            // takes no more until some are acknowledged.
            let parts = config.nodes[0].address.split(separator: ":")
            let channel = try Channel(host: String(parts[0]), port: Int(parts[1])!)
            defer { channel.close() }
            func command(_ index: Int) -> Tradewire_V1_Command {
                var command = ProcessorCluster.place("bp-\(index)", symbol: "BP", side: .buy, price: 100, quantity: 1)
                command.ringEpoch = 1
                command.commandID = UInt64(index + 1)
                return command
            }
            let accepted = try await Tradewire_V1_Processor.Client(channel).commands { requests, responses in
                try await requests.write(Tradewire_V1_CommandBatch(commands: [command(0)]))
                #expect(try await waitUntil { risk.waiting.load(ordering: .relaxed) == 1 })
                try await requests.write(Tradewire_V1_CommandBatch(commands: (1..<100).map(command)))
                // While risk holds every check, the node has taken exactly its limit of commands from the stream.
                #expect(try await waitUntil { risk.waiting.load(ordering: .relaxed) == 8 })
                try await Task.sleep(for: .milliseconds(300))
                #expect(risk.waiting.load(ordering: .relaxed) == 8)
                #expect(try await node.liveActors().orders == 8)
                risk.open.store(true, ordering: .relaxed)
                var accepted = Set<UInt64>()
                for try await batch in responses {
                    for ack in batch.acks where ack.order?.status == .accepted { accepted.insert(ack.commandID) }
                    if accepted.count == 100 { break }
                }
                requests.finish()
                return accepted.count
            }
            #expect(accepted == 100)
            #expect(risk.waiting.load(ordering: .relaxed) == 100)
        }
    }

    /// Past saturation a gateway sheds new work, not accepted work: once a node's oldest unanswered command has
    /// waited `shedAfter`, places and replaces for it are RESOURCE_EXHAUSTED at once (never sent), while cancels
    /// still go through; the command that waited is answered when the node catches up.
    @Test func newWorkForANodeThatIsBehindIsShedAndCancelsStillGo() async throws {
        try await Self.withGatedNode { risk, config, _ in
            let client = ClusterClient(config: config, shedAfter: .milliseconds(200))

            async let first = client.send(ProcessorCluster.place("shed-0", symbol: "SHD", side: .buy, price: 100, quantity: 1), shed: true)
            let held = try await waitUntil { risk.waiting.load(ordering: .relaxed) == 1 }
            #expect(held)
            try await Task.sleep(for: .milliseconds(250))
            let shed = await #expect(throws: RPCError.self) {
                try await client.send(ProcessorCluster.place("shed-1", symbol: "SHD", side: .buy, price: 100, quantity: 1), shed: true)
            }
            #expect(shed?.code == .resourceExhausted && shed?.message.contains("200 ms or more behind") == true, "\(String(describing: shed))")
            #expect(shed?.detail(Google_Rpc_RetryInfo.self)?.retryDelay?.nanos == 100_000_000, "\(String(describing: shed))")
            let again = await #expect(throws: RPCError.self) {
                try await client.send(ProcessorCluster.place("shed-2", symbol: "SHD", side: .buy, price: 100, quantity: 1), shed: true)
            }
            #expect(again == shed, "each refusal of a node that is behind says the same")
            #expect(risk.waiting.load(ordering: .relaxed) == 1, "the shed order never reached the node")
            let cancel = try await client.send(ProcessorCluster.cancel("shed-9"), shed: true)
            #expect(cancel.errorStatus?.code == 5, "the cancel went to the node: \(cancel)")
            risk.open.store(true, ordering: .relaxed)
            #expect(try await first.order?.status == .accepted)
            await client.close()
        }
    }
}

/// Terminal actors leave memory once their change committed, idle ones after `passivate_after`; either comes
/// back from its row when a command or a read needs it.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct PassivationTests {
    @Test func terminalAndIdleActorsLeaveMemoryAndComeBackOnDemand() async throws {
        let directory = try ProcessorCluster.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let riskServer = try Server(services: [ScriptedRisk()], configuration: .loopback())
        let riskPort = try await riskServer.start()[0].port
        let port = try Peers.freePort()
        var config = ClusterConfig(epoch: 1, nodes: [ClusterNode(id: "p1", address: "127.0.0.1:\(port)")])
        config.riskAddress = "127.0.0.1:\(riskPort)"
        config.dataDirectory = directory
        config.passivateAfter = .seconds(3)
        config.riskTimeout = .seconds(10)
        let node = try ProcessorNode(config: config, nodeID: "p1", host: ServiceHost(name: "p1", grace: .milliseconds(100)))
        try await node.start()
        let client = ClusterClient(config: config)

        // Two rejected (terminal at once), three resting. Which are in memory at which instant is tested on an
        // injected clock (`NodeStateTests.doneAndIdleOrdersLeaveMemoryAndComeBackFromTheirRows`); here, over real
        // time and a real journal, that they all leave and one comes back from its row.
        for index in 0..<5 {
            let ack = try await client.send(ProcessorCluster.place("pv-\(index)", symbol: "PV", side: .buy, price: 100,
                                                                   quantity: index < 2 ? 5_000 : 1))
            #expect(ack.order?.status == (index < 2 ? .rejected : .accepted))
        }
        #expect(try await waitUntil { try await node.liveActors().orders == 0 }, "idle actors leave after 3 s")

        // A cancel brings one back from its row, with its state.
        let cancel = try await client.send(ProcessorCluster.cancel("pv-3"))
        #expect(cancel.order?.status == .pendingCancel && cancel.order?.version == 3, "\(cancel)")
        let channel = try Channel(host: "127.0.0.1", port: port)
        let processor = Tradewire_V1_Processor.Client(channel)
        #expect(try await waitUntil {
            try await processor.getOrder(Tradewire_V1_ProcessorGetOrderRequest(orderID: Tradewire_V1_OrderId(value: "pv-3"), account: "acct-1")).status == .cancelled
        })
        let rejected = try await processor.getOrder(Tradewire_V1_ProcessorGetOrderRequest(orderID: Tradewire_V1_OrderId(value: "pv-0"), account: "acct-1"))
        #expect(rejected.status == .rejected && rejected.rejectReason == .maxOrderQuantity)

        channel.close()
        await client.close()
        await node.shutdown()
        await riskServer.shutdown()
    }
}

@Suite struct RingOwnershipTests {
    /// Every key's owner is the node whose ranges contain its hash, and the shares add up to the whole ring.
    /// Cluster files: every number within its documented range (a clear error naming the key otherwise), node ids of
    /// the allowed characters, and no internal service on a non-loopback address without the mesh credential.
    @Test func clusterFilesAreCheckedWhereTheyEnter() throws {
        let base = #"{"epoch": 1, "nodes": [{"id": "p1", "address": "127.0.0.1:7101"}]"#
        for (extra, key) in [(#", "settlement_ms": 99999999999999"#, "settlement_ms"), (#", "risk_timeout_ms": 0"#, "risk_timeout_ms"),
                             (#", "passivate_after_ms": "soon""#, "passivate_after_ms"), (#", "orders_per_second": -1"#, "orders_per_second"),
                             (#", "reference_max_age_ms": 1e30"#, "reference_max_age_ms"),
                             (#", "event_heartbeat_ms": 50"#, "event_heartbeat_ms"),
                             (#", "event_heartbeat_ms": 2000, "event_stall_ms": 5000"#, "event_stall_ms"),
                             (#", "cors_origins": "https://a.example""#, "cors_origins"), (#", "cors_origins": ["https://a.example/x"]"#, "cors_origins"),
                             (#", "cors_origins": ["javascript:alert(1)"]"#, "cors_origins"), (#", "cors_origins": ["*"]"#, "cors_origins")]
        {
            let error = #expect(throws: ClusterConfigError.self) { try ClusterConfig.parse(base + extra + "}") }
            #expect(error?.description.contains(key) == true, "\(String(describing: error))")
        }
        #expect(throws: ClusterConfigError.self) { try ClusterConfig.parse(#"{"epoch": 1, "nodes": [{"id": "p 1", "address": "127.0.0.1:1"}]}"#) }
        let open = try ClusterConfig.parse(base + "}")
        #expect(throws: ClusterConfigError.self) { try open.internalServer(SocketAddress(host: "0.0.0.0", port: 0)!) }
        _ = try open.internalServer(SocketAddress(host: "127.0.0.1", port: 0)!)
        #expect(try ClusterConfig.parse(base + #", "cors_origins": ["https://app.example:8443", "http://localhost:3000"]}"#).corsOrigins.count == 2)
        let meshed = try ClusterConfig.parse(base + #", "mesh_credential": "0123456789abcdef0123"}"#)
        _ = try meshed.internalServer(SocketAddress(host: "0.0.0.0", port: 0)!)
    }

    @Test func eachNodeKnowsTheRangesItOwns() throws {
        let config = ClusterConfig(epoch: 3, nodes: (1...3).map { ClusterNode(id: "p\($0)", address: "127.0.0.1:\(7100 + $0)") })
        let ring = ClusterRing(config)
        #expect(ring.ring.points.count >= 1024)
        let total = config.nodes.reduce(0.0) { $0 + ring.share(of: $1.id) }
        #expect(abs(total - 1) < 1e-9)
        // Each node's ranges once, and one check at the end: this is pure CPU on a cooperative thread.
        let ranges = config.nodes.map { ($0.id, ring.ranges(of: $0.id)) }
        var wrong: [String] = []
        for index in 0..<2000 {
            let key = "order-\(index)"
            let hash = HashRing<ClusterNode>.hash(key)
            let owners = ranges.filter { _, ranges in
                ranges.contains { range in
                    range.after < range.through ? (hash > range.after && hash <= range.through) : (hash > range.after || hash <= range.through)
                }
            }
            if owners.map(\.0) != [ring.owner(of: .order(key)).id] { wrong.append(key) }
        }
        #expect(wrong.isEmpty, "\(wrong.prefix(5))")
    }
}

/// A risk service that cannot be reached: the order is REJECTED as RISK_UNAVAILABLE, saying so, never accepted.
@Suite(.serialized, .timeLimit(.minutes(1)))
struct RiskUnreachableTests {
    @Test func anUnreachableRiskServiceRejectsTheOrderWithTheReason() async throws {
        let directory = try ProcessorCluster.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (closedFD, closedPort) = try Peers.boundSocket()
        defer { close(closedFD) }
        var config = ClusterConfig(epoch: 1, nodes: [ClusterNode(id: "p1", address: "127.0.0.1:\(try Peers.freePort())")])
        config.riskAddress = "127.0.0.1:\(closedPort)"
        config.riskTimeout = .seconds(10)
        config.dataDirectory = directory
        let node = try ProcessorNode(config: config, nodeID: "p1", host: ServiceHost(name: "p1", grace: .milliseconds(100)))
        try await node.start()
        let client = ClusterClient(config: config)
        let ack = try await client.send(ProcessorCluster.place("ru-1", symbol: "RU", side: .buy, price: 100, quantity: 1))
        #expect(ack.order?.status == .rejected && ack.order?.rejectReason == .riskUnavailable)
        #expect(ack.order?.rejectText.contains("risk service is unavailable") == true, "\(ack)")
        await client.close()
        await node.shutdown()
    }
}
