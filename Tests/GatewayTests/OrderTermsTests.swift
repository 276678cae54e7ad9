import ClusterTestSupport
import Cluster
@testable import Gateway
import Protos
import RPC
import ServiceStubs
import Telemetry
import Testing
import TestSupport

/// What the gateway remembers of orders for replaces: only what nodes answered, kept current by reports, bounded.
struct OrderTermsTests {
    static func order(_ id: String, status: Tradewire_V1_OrderStatus = .accepted, price: Int64 = 10_000) -> Tradewire_V1_Order {
        Tradewire_V1_Order(orderID: Tradewire_V1_OrderId(value: id), account: "alice", symbol: "ACME", side: .buy, type: .limit,
                           timeInForce: .gtc, price: Tradewire_V1_Price(units: price, scale: 2),
                           quantity: Tradewire_V1_Quantity(units: 10), status: status)
    }

    /// A report's routing fields as the shared feed reads them: from the report's encoding.
    static func report(_ id: String, _ status: Tradewire_V1_OrderStatus, price: Int64, quantity: Int64) -> Tradewire_V1_ExecutionReportRoutingView {
        let report = Tradewire_V1_ExecutionReport(orderID: Tradewire_V1_OrderId(value: id), orderStatus: status,
                                                  price: Tradewire_V1_Price(units: price, scale: 2), orderQuantity: Tradewire_V1_Quantity(units: quantity))
        return try! ForwardedReport(encoded: report.serializedBytes()).routing
    }

    @Test func termsFollowTheNodesAnswersAndReportsAndStayBounded() {
        let terms = OrderTerms(capacity: 3)
        terms.remember(Self.order("a"))
        #expect(terms["a"]?.symbol == "ACME" && terms["a"]?.price?.units == 10_000)

        // A report moves its price and quantity; a later answer does not take them back; a replace keeps the rest.
        terms.update(Self.report("a", .accepted, price: 10_100, quantity: 20))
        terms.remember(Self.order("a", price: 10_000))
        #expect(terms["a"]?.price?.units == 10_100 && terms["a"]?.quantity?.units == 20)
        let replaced = terms["a"]!.replaced(price: nil, quantity: Tradewire_V1_Quantity(units: 30))
        #expect(replaced.symbol == "ACME" && replaced.side == .buy && replaced.price?.units == 10_100 && replaced.quantity?.units == 30)

        // Done orders stay (a replace racing a fill is common; the node refuses it); reports about unknown orders
        // add nothing.
        terms.update(Self.report("a", .cancelled, price: 10_100, quantity: 20))
        terms.remember(Self.order("b", status: .rejected))
        terms.update(Self.report("c", .accepted, price: 1, quantity: 1))
        #expect(terms["a"] != nil && terms["b"]?.symbol == "ACME" && terms["c"] == nil && terms.count == 2)

        // At capacity the oldest leave first.
        for id in ["d", "e", "f", "g"] { terms.remember(Self.order(id)) }
        #expect(terms.count == 3 && terms["a"] == nil && terms["d"] == nil && terms["e"] != nil && terms["g"] != nil)
    }

    /// A replace of an order the gateway placed is checked against its instrument without a `GetOrder` to its
    /// node; after a restart (which forgets) the node is asked once, and its answer is remembered.
    @Test func aReplaceOfARememberedOrderDoesNotAskItsNode() async throws {
        try await GatewayCluster.with { cluster in
            let alice = try cluster.client("alice")
            let placed = try await alice.placeOrder(Tradewire_V1_PlaceOrderRequest(order: GatewayCluster.order("terms-1", side: .buy, price: 9_900, quantity: 10)))
            let id = try #require(placed.order?.orderID?.value)
            let node = ClusterRing(cluster.cluster.config).owner(of: .order(id)).address
            func getOrders() throws -> Int {
                let metrics = try #require(HTTPProbe.get(node, path: "/metrics")).body
                let line = try #require(metrics.split(separator: "\n").first {
                    $0.hasPrefix("grpc_server_started_total{") && $0.contains("grpc_method=\"GetOrder\"")
                })
                return try #require(Double(line.split(separator: " ").last!).map { Int($0) })
            }
            let ref = Tradewire_V1_OrderRef(clientOrderID: "terms-1")
            func offTick(_ client: Tradewire_V1_Gateway.Client) async -> RPCError? {
                do {
                    _ = try await client.replaceOrder(Tradewire_V1_ReplaceOrderRequest(order: ref, price: Tradewire_V1_Price(units: 9_903, scale: 2)))
                    return nil
                } catch {
                    return RPCError(from: error)
                }
            }
            let before = try getOrders()
            let refused = await offTick(alice)
            #expect(refused?.code == .invalidArgument && refused?.message.contains("tick size") == true, "\(String(describing: refused))")
            _ = try await alice.replaceOrder(Tradewire_V1_ReplaceOrderRequest(order: ref, quantity: Tradewire_V1_Quantity(units: 20)))
            #expect(try getOrders() == before, "checked from what the gateway remembers")

            // Through OrderEntry, a replace written right behind its place (not yet answered) waits for the place's
            // answer instead of asking the node; it is carried out once the order is accepted.
            try await alice.orderEntry { writer, stream in
                var place = Tradewire_V1_OrderEntryRequest(correlationID: "p")
                place.request = .newOrder(GatewayCluster.order("terms-2", side: .buy, price: 9_800, quantity: 10))
                var replace = Tradewire_V1_OrderEntryRequest(correlationID: "r")
                replace.request = .replace(Tradewire_V1_ReplaceOrderRequest(
                    order: Tradewire_V1_OrderRef(clientOrderID: "terms-2"), quantity: Tradewire_V1_Quantity(units: 30)))
                try await writer.write(place)
                try await writer.write(replace)
                var replaced = false
                for try await response in stream {
                    if case .executionReport(let report) = response.response, report.clientOrderID == "terms-2", report.execType == .replaced {
                        replaced = true
                        break
                    }
                    if case .cancelReject(let reject) = response.response { Issue.record("refused: \(reject)"); break }
                }
                #expect(replaced)
                writer.finish()
            }
            #expect(try getOrders() == before, "the replace behind its place did not ask the node")

            await cluster.stopGateway()
            try await cluster.startGateway()
            let again = try cluster.client("alice")
            #expect(await offTick(again)?.code == .invalidArgument)
            #expect(try getOrders() == before + 1, "a restarted gateway asks the node once")
            #expect(await offTick(again)?.code == .invalidArgument)
            #expect(try getOrders() == before + 1, "and remembers the answer")
        }
    }
}
