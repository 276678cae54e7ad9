import ClusterTestSupport
import Gateway
import JSON
import Foundation
import Cluster
import Processor
import Protos
import RPC
import ServiceStubs
import Synchronization
import Telemetry
import Testing
import TestSupport
import Transport

/// The OrderEntry stream and StreamExecutions, and exactly-once placement under concurrent retries and gateway
/// restarts.
@Suite(.serialized, .timeLimit(.minutes(4)))
struct OrderEntryTests {
    typealias Cluster = GatewayCluster

    static func request(_ correlation: String, _ body: Tradewire_V1_OrderEntryRequest.OneOf_Request) -> Tradewire_V1_OrderEntryRequest {
        var request = Tradewire_V1_OrderEntryRequest(correlationID: correlation)
        request.request = body
        return request
    }

    @Test func theSessionReportsEveryChangeInOrderPerOrder() async throws {
        try await Cluster.with { cluster in
            let alice = try cluster.client("alice")
            let bob = try cluster.client("bob")
            let responses = try await alice.orderEntry { writer, stream in
                var collected: [Tradewire_V1_OrderEntryResponse] = []
                var iterator = stream.makeAsyncIterator()
                func read(until done: ([Tradewire_V1_OrderEntryResponse]) -> Bool) async throws {
                    while !done(collected), let next = try await iterator.next() { collected.append(next) }
                }
                func reports(_ client: String) -> [Tradewire_V1_ExecutionReport] {
                    collected.compactMap { if case .executionReport(let report) = $0.response, report.clientOrderID == client { report } else { nil } }
                }
                // A resting buy; Bob's sell fills 20 of it; a replace; a cancel of the rest.
                try await writer.write(Self.request("c1", .newOrder(Cluster.order("e-1", side: .buy, price: 10_000, quantity: 50))))
                try await read { _ in reports("e-1").contains { $0.execType == .new } }
                _ = try await bob.placeOrder(Tradewire_V1_PlaceOrderRequest(order: Cluster.order("hit", side: .sell, price: 10_000, quantity: 20)))
                try await read { _ in reports("e-1").contains { $0.execType == .trade } }
                try await writer.write(Self.request("c2", .replace(Tradewire_V1_ReplaceOrderRequest(
                    order: Tradewire_V1_OrderRef(clientOrderID: "e-1"), quantity: Tradewire_V1_Quantity(units: 40)))))
                try await read { _ in reports("e-1").contains { $0.execType == .replaced } }
                try await writer.write(Self.request("c3", .cancel(Tradewire_V1_CancelOrderRequest(order: Tradewire_V1_OrderRef(clientOrderID: "e-1")))))
                try await read { _ in reports("e-1").contains { $0.execType == .canceled } }
                // A duplicate: ORDER_STATUS; an invalid order: REJECTED at the gateway; a cancel of nothing: CancelReject.
                try await writer.write(Self.request("c4", .newOrder(Cluster.order("e-1", side: .buy, price: 10_000, quantity: 50))))
                try await writer.write(Self.request("c5", .newOrder(Cluster.order("e-2", side: .buy, price: 10_001, quantity: 50))))
                try await writer.write(Self.request("c6", .cancel(Tradewire_V1_CancelOrderRequest(order: Tradewire_V1_OrderRef(clientOrderID: "none")))))
                try await read { collected in
                    reports("e-1").contains { $0.execType == .orderStatus } && reports("e-2").contains { $0.execType == .rejected }
                        && collected.contains { if case .cancelReject = $0.response { true } else { false } }
                }
                writer.finish()
                try await read { _ in false }  // The session ends once every request is answered.
                return collected
            }
            let reports = responses.compactMap { if case .executionReport(let report) = $0.response { report } else { nil } }
            let first = reports.filter { $0.clientOrderID == "e-1" }
            // The replace is checked by risk first: PENDING_REPLACE (FIX E), then the book's REPLACED.
            #expect(first.map(\.execType) == [.pendingNew, .new, .trade, .pendingReplace, .replaced, .pendingCancel, .canceled, .orderStatus],
                    "\(first.map(\.execType))")
            #expect(first.map(\.fixExecType) == ["A", "0", "F", "E", "5", "6", "4", "I"])
            #expect(first[3].fixOrdStatus == "E" && first[4].fixOrdStatus == "1")
            let trade = first[2]
            #expect(trade.lastQuantity?.units == 20 && trade.lastPrice?.units == 10_000 && trade.cumulativeQuantity?.units == 20
                    && trade.leavesQuantity?.units == 30 && trade.averagePrice == "100.00" && trade.fixOrdStatus == "1")
            #expect(first[4].orderQuantity?.units == 40 && first[4].leavesQuantity?.units == 20)
            #expect(first[6].orderStatus == .cancelled && first[6].leavesQuantity?.units == 0)
            #expect(first.map(\.correlationID) == ["c1", "c1", "c1", "c2", "c2", "c3", "c3", "c4"], "\(first.map(\.correlationID))")
            let rejected = reports.first { $0.clientOrderID == "e-2" }
            #expect(rejected?.orderStatus == .rejected && rejected?.correlationID == "c5" && rejected?.text.contains("tick") == true)
            let cancelReject = responses.compactMap { if case .cancelReject(let reject) = $0.response { reject } else { nil } }.first
            #expect(cancelReject?.correlationID == "c6")
            #expect(reports.allSatisfy { $0.account == "alice" }, "a session sees only its own account")

            // StreamExecutions: the same reports from the account's beginning, and resumable from any cursor.
            let all = try await Self.executions(alice, Tradewire_V1_StreamExecutionsRequest(fromBeginning: true), count: first.count - 1)
            #expect(all.map(\.execID) == reports.filter { $0.clientOrderID == "e-1" && $0.execType != .orderStatus }.map(\.execID))
            let resumed = try await Self.executions(alice, Tradewire_V1_StreamExecutionsRequest(cursor: all[2].cursor), count: all.count - 3)
            #expect(resumed.map(\.execID) == all.dropFirst(3).map(\.execID))
        }
    }

    /// A place, a replace and a cancel of one order written back to back: each request gets an answer carrying its
    /// own correlation id. (Reports once carried the session's latest correlation id for their order, so the
    /// place's and the replace's reports came labelled with the cancel's, and those requests looked unanswered.)
    @Test func pipelinedRequestsOnOneOrderEachGetTheirOwnAnswer() async throws {
        try await Cluster.with { cluster in
            let alice = try cluster.client("alice")
            // Without each request's own label the loop below would wait for ever: the deadline ends it.
            let labels = try await alice.orderEntry(options: CallOptions(timeout: .seconds(20))) { writer, stream in
                try await writer.write(Self.request("p1", .newOrder(Cluster.order("pipe-1", side: .buy, price: 9_900, quantity: 50))))
                try await writer.write(Self.request("p2", .replace(Tradewire_V1_ReplaceOrderRequest(
                    order: Tradewire_V1_OrderRef(clientOrderID: "pipe-1"), quantity: Tradewire_V1_Quantity(units: 40)))))
                try await writer.write(Self.request("p3", .cancel(Tradewire_V1_CancelOrderRequest(order: Tradewire_V1_OrderRef(clientOrderID: "pipe-1")))))
                var labels: [String] = []
                var iterator = stream.makeAsyncIterator()
                // Until the order is done (its cancel, or a reject of everything) and all three were answered.
                while !(Set(labels).isSuperset(of: ["p1", "p2", "p3"])), let response = try await iterator.next() {
                    switch response.response {
                    case .executionReport(let report): labels.append(report.correlationID)
                    case .cancelReject(let reject): labels.append(reject.correlationID)
                    default: break
                    }
                }
                writer.finish()
                while try await iterator.next() != nil {}
                return labels
            }
            #expect(Set(labels) == ["p1", "p2", "p3"], "\(labels)")
        }
    }

    static func executions(_ client: Tradewire_V1_Gateway.Client, _ request: Tradewire_V1_StreamExecutionsRequest, count: Int) async throws
        -> [Tradewire_V1_ExecutionReport]
    {
        try await client.streamExecutions(request, options: CallOptions(timeout: .seconds(20))) { stream in
            var reports: [Tradewire_V1_ExecutionReport] = []
            for try await report in stream {
                reports.append(report)
                if reports.count == count { break }
            }
            return reports
        }
    }

    /// One feed, many readers: the gateway follows each node once, however many OrderEntry sessions are open, and
    /// each session still hears its own orders' reports.
    @Test func sessionsShareTheGatewaysOneFollowOfEachNode() async throws {
        try await Cluster.with { cluster in
            let node = cluster.cluster.config.nodes[0].address
            func subscribers() throws -> Int {
                let metrics = try #require(HTTPProbe.get(node, path: "/metrics")).body
                let line = try #require(metrics.split(separator: "\n").first { $0.hasPrefix("processor_event_subscribers ") })
                return try #require(Double(line.split(separator: " ")[1]).map { Int($0) })
            }
            let before = try subscribers()
            let alice = try cluster.client("alice")
            try await withThrowingTaskGroup(of: Void.self) { group in
                for session in 0..<4 {
                    group.addTask {
                        try await alice.orderEntry { writer, stream in
                            try await writer.write(Self.request("s\(session)", .newOrder(Cluster.order("share-\(session)", side: .buy, price: 10_000, quantity: 10))))
                            var heard: Tradewire_V1_ExecType?
                            for try await response in stream {
                                if case .executionReport(let report) = response.response, report.clientOrderID == "share-\(session)",
                                   report.execType != .pendingNew
                                {
                                    heard = report.execType
                                    break
                                }
                            }
                            #expect(heard == .new)
                            // Every session is open and has heard its order: the node still serves as many streams.
                            #expect(try subscribers() == before)
                            writer.finish()
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    @Test func oneOrderFromManyConnectionsAndThroughGatewayRestarts() async throws {
        try await Cluster.with { cluster in
            let order = Tradewire_V1_PlaceOrderRequest(order: Cluster.order("once", side: .buy, price: 9_900, quantity: 10))
            let clients = try (0..<8).map { _ in try cluster.client("alice") }
            let placed = try await withThrowingTaskGroup(of: Tradewire_V1_PlaceOrderResponse.self) { group in
                for client in clients { for _ in 0..<4 { group.addTask { try await client.placeOrder(order) } } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(placed.count == 32 && placed.filter { !$0.duplicate }.count == 1)
            #expect(Set(placed.map { $0.order!.orderID!.value }).count == 1)
            // A gateway restart between retries: still that one order.
            for _ in 0..<2 {
                await cluster.stopGateway()
                try await cluster.startGateway()
                let retry = try await cluster.client("alice").placeOrder(order)
                #expect(retry.duplicate && retry.order?.orderID == placed[0].order?.orderID)
            }
            let listed = try await cluster.client("alice").listOrders(Tradewire_V1_ListOrdersRequest())
            #expect(listed.orders.filter { $0.clientOrderID == "once" }.count == 1)
        }
    }

    @Test func aNodeThatIsDownFailsItsOrdersFastAndOthersGoOn() async throws {
        try await Cluster.with { cluster in
            let alice = try cluster.client("alice")
            let ids = OrderIDs(account: "alice")
            // Client order ids whose orders p2 owns, and one another node owns.
            let onP2 = (0..<200).map { "d-\($0)" }.filter { cluster.cluster.client.owner(of: .order(ids.forClientOrder($0))).id == "p2" }
            let elsewhere = (0..<200).map { "d-\($0)" }.first { cluster.cluster.client.owner(of: .order(ids.forClientOrder($0))).id != "p2" }!
            cluster.cluster.processes["p2"]?.stop()
            let clock = ContinuousClock()
            let started = clock.now
            let down = await GatewayTests.error {
                _ = try await alice.placeOrder(Tradewire_V1_PlaceOrderRequest(order: Cluster.order(onP2[0], side: .buy, price: 9_900, quantity: 10)),
                                               options: CallOptions(timeout: .seconds(30)))
            }
            #expect(down?.code == .unavailable && down?.detail(Google_Rpc_RetryInfo.self) != nil, "\(String(describing: down))")
            #expect(clock.now - started < .seconds(20), "UNAVAILABLE comes well before the call's 30 s deadline")
            #expect(down?.message.contains("client_order_id is safe") == true)
            // Without a client order id or an idempotency key a retry could place a second order: no RetryInfo,
            // and the message says why.
            var refusedWithoutKey: [RPCError] = []
            for _ in 0..<30 {
                let random = Cluster.order("", side: .buy, price: 9_900, quantity: 10)
                if let error = await GatewayTests.error({ _ = try await alice.placeOrder(Tradewire_V1_PlaceOrderRequest(order: random)) }) {
                    refusedWithoutKey.append(error)
                }
            }
            #expect(!refusedWithoutKey.isEmpty && refusedWithoutKey.allSatisfy {
                $0.code == .unavailable && $0.detail(Google_Rpc_RetryInfo.self) == nil && $0.message.contains("could place it twice")
            }, "\(refusedWithoutKey)")
            let other = try await alice.placeOrder(Tradewire_V1_PlaceOrderRequest(order: Cluster.order(elsewhere, side: .buy, price: 9_900, quantity: 10)))
            #expect(other.order?.status == .accepted)
            // Back up: the retry of the refused order succeeds, once.
            try await cluster.cluster.start("p2")
            var placed: Tradewire_V1_PlaceOrderResponse?
            _ = try await waitUntil {
                placed = try await alice.placeOrder(Tradewire_V1_PlaceOrderRequest(order: Cluster.order(onP2[0], side: .buy, price: 9_900, quantity: 10)))
                return true
            }
            #expect(placed?.order?.status == .accepted && placed?.duplicate == false)
        }
    }
}

/// A trading client written against grpcio (PyPI) from the .proto files alone.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct PythonGatewayClientTests {
    @Test func aGrpcioClientPlacesOrdersAndStreamsTheirReports() async throws {
        try await GatewayCluster.with { cluster in
            let script = Peers.repositoryRoot + "/Tests/GatewayTests/Python/gateway_client.py"
            let (status, output) = try await Peers.run(
                try Peers.python(), [script, Peers.repositoryRoot + "/proto", String(cluster.port), cluster.keys["alice"]!])
            #expect(status == 0 && output.contains("DONE"), "\(output)")
            let reports = output.split(separator: "\n").filter { $0.hasPrefix("REPORT ") }
            // Each order: PENDING_NEW, NEW, then its fill (7 at 50.00).
            for order in ["py-buy", "py-sell"] {
                let mine = reports.filter { $0.contains("\"order\": \"\(order)\"") }
                #expect(mine.count == 3, "\(mine)")
                #expect(mine.last?.contains("\"fix_exec_type\": \"F\"") == true && mine.last?.contains("\"avg\": \"50.00\"") == true, "\(mine)")
            }
        }
    }
}

/// `tradewire load --scenario order-flow` against the gateway: places, cancels and replaces that cross and fill.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct OrderFlowLoadTests {
    @Test func theOrderFlowScenarioPlacesCancelsReplacesAndFills() async throws {
        try await GatewayCluster.with { cluster in
            let output = cluster.cluster.directory + "/order-flow.json"
            let (status, text) = try await Peers.run(try Peers.tradewire(), [
                "load", "--scenario", "order-flow", "--port", String(cluster.port), "-H", "authorization: Bearer \(cluster.keys["bob"]!)",
                "--symbols", "BOLT:5000", "--count", "400", "--concurrency", "8", "--warmup", "0s", "--json", output,
            ])
            #expect(status == 0, "\(text)")
            let result = try JSONValue.parse(try String(contentsOfFile: output, encoding: .utf8))
            let statuses = result["statusCodeDistribution"]?.objectValue
            #expect((statuses?["OK"]?.int64Value ?? 0) >= 280, "every place and some cancels and replaces succeed: \(text)")
            // Only what a real client meets: cancels and replaces of orders that already filled or were cancelled.
            let unexpected = statuses?.members.filter { !["OK", "FailedPrecondition"].contains($0.key) } ?? []
            #expect(unexpected.isEmpty, "\(text)")
            let bob = try cluster.client("bob")
            let orders = try await bob.allOrders()
            #expect(orders.count >= 240, "six of every ten requests place an order")
            #expect(orders.contains { $0.status == .filled || $0.status == .settled }, "crossing prices fill")
            #expect(orders.contains { $0.status == .cancelled })
            #expect(orders.contains { $0.status == .accepted || $0.status == .partiallyFilled }, "some rest")
        }
    }
}
