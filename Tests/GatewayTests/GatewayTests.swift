import ClusterTestSupport
import Foundation
import Gateway
import Cluster
import Protos
import RPC
import ServiceStubs
import Synchronization
import Testing
import TestSupport
import Transport

/// The gateway over real sockets, with three processor processes, risk and market data behind it.
@Suite(.serialized, .timeLimit(.minutes(4)))
struct GatewayTests {
    typealias Cluster = GatewayCluster

    static func error(_ body: () async throws -> Void) async -> RPCError? {
        do { try await body() } catch { return RPCError(from: error) }
        return nil
    }

    @Test func keysValidationIdempotencyOwnershipAndRates() async throws {
        try await Cluster.with { cluster in
            let alice = try cluster.client("alice")
            let bob = try cluster.client("bob")

            // Authentication.
            let place = Tradewire_V1_PlaceOrderRequest(order: Cluster.order("a-1", side: .buy, price: 9_900, quantity: 10))
            #expect(await Self.error { _ = try await cluster.client().placeOrder(place) }?.code == .unauthenticated)
            #expect(await Self.error { _ = try await cluster.client(key: APIKeys.generate().key).placeOrder(place) }?.code == .unauthenticated)

            // Validation: every violation listed, with its field; nothing reaches the cluster.
            var bad = Cluster.order("bad", side: .buy, price: 9_903, quantity: 15)
            bad.timeInForce = .unspecified
            let invalid = await Self.error { _ = try await alice.placeOrder(Tradewire_V1_PlaceOrderRequest(order: bad)) }
            #expect(invalid?.code == .invalidArgument)
            let fields = invalid?.detail(Google_Rpc_BadRequest.self)?.fieldViolations.map(\.field) ?? []
            #expect(Set(fields) == ["order.time_in_force", "order.price", "order.quantity"], "\(String(describing: invalid))")
            for (order, field) in [
                (Cluster.order("x", side: .buy, price: 20_000, quantity: 10), "order.price"),  // outside the 10% band
                (Cluster.order("x", side: .buy, price: nil, quantity: 10), "order.price"),  // LIMIT without a price
                (Cluster.order("x", side: .buy, type: .market, tif: .ioc, price: 10_000, quantity: 10), "order.price"),
                (Cluster.order("x", side: .buy, type: .market, tif: .gtc, price: nil, quantity: 10), "order.time_in_force"),
                (Cluster.order("x", side: .buy, price: 10_000, quantity: 20_000), "order.quantity"),  // above max
                (Cluster.order("x", symbol: "HALT", side: .buy, price: 10_000, quantity: 10), "order.symbol"),
                (Cluster.order("x", symbol: "NOPE", side: .buy, price: 10_000, quantity: 10), "order.symbol"),
            ] {
                let error = await Self.error { _ = try await alice.placeOrder(Tradewire_V1_PlaceOrderRequest(order: order)) }
                #expect(error?.code == .invalidArgument && error?.detail(Google_Rpc_BadRequest.self)?.fieldViolations.first?.field == field,
                        "\(order): \(String(describing: error))")
            }
            let listed = try await alice.listOrders(Tradewire_V1_ListOrdersRequest())
            #expect(listed.orders.isEmpty, "refused orders never reach the cluster")

            // Placed once; a retry is the same order; the same client order id with another payload is ALREADY_EXISTS.
            let first = try await alice.placeOrder(place)
            #expect(first.order?.status == .accepted && !first.duplicate, "\(first)")
            let id = first.order!.orderID!.value
            let retry = try await alice.placeOrder(place)
            #expect(retry.duplicate && retry.order?.orderID?.value == id)
            var changed = place
            changed.order!.quantity = Tradewire_V1_Quantity(units: 20)
            #expect(await Self.error { _ = try await alice.placeOrder(changed) }?.code == .alreadyExists)
            // Bob's "a-1" is another order: client order ids are per account.
            let bobs = try await bob.placeOrder(place)
            #expect(!bobs.duplicate && bobs.order?.orderID?.value != id)

            // The idempotency key plays the client order id's part.
            var keyed = Cluster.order("", side: .buy, price: 9_800, quantity: 10)
            let once = try await alice.placeOrder(Tradewire_V1_PlaceOrderRequest(order: keyed), metadata: ["idempotency-key": "k-1"])
            let twice = try await alice.placeOrder(Tradewire_V1_PlaceOrderRequest(order: keyed), metadata: ["idempotency-key": "k-1"])
            #expect(twice.duplicate && twice.order?.orderID?.value == once.order?.orderID?.value)
            keyed.quantity = Tradewire_V1_Quantity(units: 30)
            #expect(await Self.error {
                _ = try await alice.placeOrder(Tradewire_V1_PlaceOrderRequest(order: keyed), metadata: ["idempotency-key": "k-1"])
            }?.code == .alreadyExists)
            let unkeyed = try await alice.placeOrder(Tradewire_V1_PlaceOrderRequest(order: keyed))
            #expect(unkeyed.order?.orderID?.value != once.order?.orderID?.value)

            // Ownership: another account's order is PERMISSION_DENIED, existing or not; the caller's own unknown id is NOT_FOUND.
            let ref = Tradewire_V1_OrderRef(orderID: Tradewire_V1_OrderId(value: id))
            let foreign = await Self.error { _ = try await bob.getOrder(Tradewire_V1_GetOrderRequest(order: ref)) }
            let missing = Tradewire_V1_OrderRef(orderID: Tradewire_V1_OrderId(value: String(id.prefix(17)) + String(repeating: "0", count: 32)))
            let foreignMissing = await Self.error { _ = try await bob.getOrder(Tradewire_V1_GetOrderRequest(order: missing)) }
            #expect(foreign?.code == .permissionDenied && foreignMissing?.code == .permissionDenied)
            #expect(foreign?.message.contains("exist") == false && foreignMissing?.message.contains("exist") == false)
            #expect(await Self.error { _ = try await alice.getOrder(Tradewire_V1_GetOrderRequest(order: missing)) }?.code == .notFound)
            #expect(await Self.error { _ = try await bob.cancelOrder(Tradewire_V1_CancelOrderRequest(order: ref)) }?.code == .permissionDenied)
            #expect(await Self.error {
                _ = try await bob.replaceOrder(Tradewire_V1_ReplaceOrderRequest(order: ref, quantity: Tradewire_V1_Quantity(units: 20)))
            }?.code == .permissionDenied)

            // Replace (checked against the instrument too), cancel, read back by client order id.
            let byClientID = Tradewire_V1_OrderRef(clientOrderID: "a-1")
            #expect(await Self.error {
                _ = try await alice.replaceOrder(Tradewire_V1_ReplaceOrderRequest(order: byClientID, quantity: Tradewire_V1_Quantity(units: 25)))
            }?.code == .invalidArgument)
            _ = try await alice.replaceOrder(Tradewire_V1_ReplaceOrderRequest(order: byClientID, quantity: Tradewire_V1_Quantity(units: 30)))
            let replaced = try await waitUntil {
                try await alice.getOrder(Tradewire_V1_GetOrderRequest(order: byClientID)).quantity?.units == 30
            }
            #expect(replaced)
            let cancel = try await alice.cancelOrder(Tradewire_V1_CancelOrderRequest(order: byClientID))
            #expect(cancel.order?.status == .pendingCancel || cancel.order?.status == .cancelled)
            #expect(try await Cluster.waitFor(alice, id, .cancelled).leavesQuantity?.units ?? 0 == 0)

            // Rates: "slow" may place 2 orders/s (bursts of 2): of 10 in a row, some are RESOURCE_EXHAUSTED with a retry hint.
            let slow = try cluster.client("slow")
            var refusals: [RPCError] = []
            for index in 0..<10 {
                do {
                    _ = try await slow.placeOrder(Tradewire_V1_PlaceOrderRequest(order: Cluster.order("s-\(index)", side: .sell, price: 10_500, quantity: 10)))
                } catch {
                    refusals.append(RPCError(from: error))
                }
            }
            #expect(!refusals.isEmpty && refusals.allSatisfy { $0.code == .resourceExhausted && $0.detail(Google_Rpc_RetryInfo.self) != nil },
                    "\(refusals)")

            // Internal services refuse calls without the mesh credential.
            let (host, port) = SocketAddressText.split(cluster.cluster.address("p1"))!
            let direct = try Channel(host: host, port: port)
            let processor = Tradewire_V1_Processor.Client(direct)
            let outsider = await Self.error {
                _ = try await processor.getOrder(Tradewire_V1_ProcessorGetOrderRequest(orderID: Tradewire_V1_OrderId(value: id)))
            }
            #expect(outsider?.code == .unauthenticated)
            await direct.shutdown()
        }
    }

    @Test func batchesListsAndReconcile() async throws {
        try await Cluster.with { cluster in
            let alice = try cluster.client("alice")
            let bob = try cluster.client("bob")
            // Bob rests 30 @ 100.00 and 20 @ 100.50; Alice's batch buys 50 up to 100.50 in three orders, plus one rest.
            for (id, price, quantity) in [("ask-1", Int64(10_000), Int64(30)), ("ask-2", 10_050, 20)] {
                _ = try await bob.placeOrder(Tradewire_V1_PlaceOrderRequest(order: Cluster.order(id, side: .sell, price: price, quantity: quantity)))
            }
            let batch = Tradewire_V1_PlaceOrdersRequest(batchID: "batch-1", orders: [
                Cluster.order("", side: .buy, price: 10_050, quantity: 20),
                Cluster.order("", side: .buy, price: 10_050, quantity: 20),
                Cluster.order("", side: .buy, price: 10_050, quantity: 10),
                Cluster.order("", side: .buy, price: 9_500, quantity: 10),
                Cluster.order("", side: .buy, price: 9_503, quantity: 10),  // off the tick: refused alone
            ])
            let placed = try await alice.placeOrders(batch)
            #expect(placed.results.count == 5)
            #expect(placed.results.prefix(4).allSatisfy { $0.order != nil && $0.error == nil })
            #expect(placed.results[4].error?.code == Int32(RPCError.Code.invalidArgument.rawValue))
            // Retrying the batch creates nothing new.
            let again = try await alice.placeOrders(batch)
            #expect(again.results.prefix(4).allSatisfy { $0.duplicate })
            #expect(zip(placed.results, again.results).prefix(4).allSatisfy { $0.order?.orderID == $1.order?.orderID })

            for result in placed.results.prefix(3) {
                _ = try await Cluster.waitFor(alice, result.order!.orderID!.value, .filled, .settled)
            }
            // 30 @ 100.00 + 20 @ 100.50 = 5,010.00 bought: the batch's P&L is −5,010.00 USD.
            let reconciled = try await alice.reconcile(Tradewire_V1_ReconcileRequest(
                batchID: "batch-1", expectedPnl: Tradewire_V1_Money(units: -5_010_00, scale: 2, currency: "USD")))
            #expect(reconciled.totalOrders == 4 && reconciled.filledOrders == 3 && reconciled.pendingOrders == 1, "\(reconciled)")
            #expect(reconciled.symbols.first?.filledQuantity?.units == 50)
            #expect(reconciled.actualPnl?.units == -5_010_00 && reconciled.actualPnl?.scale == 2 && reconciled.pnlMatches, "\(reconciled)")
            let wrong = try await alice.reconcile(Tradewire_V1_ReconcileRequest(
                batchID: "batch-1", expectedPnl: Tradewire_V1_Money(units: -5_000_00, scale: 2, currency: "USD")))
            #expect(!wrong.pnlMatches)
            #expect(await Self.error { _ = try await bob.reconcile(Tradewire_V1_ReconcileRequest(batchID: "batch-1")) }?.code == .notFound)

            // ListOrders: pages of 2 over every node, newest first, each order once; filters by status and symbol.
            var seen: [Tradewire_V1_Order] = []
            var token = ""
            repeat {
                let page = try await alice.listOrders(Tradewire_V1_ListOrdersRequest(pageSize: 2, pageToken: token))
                #expect(page.orders.count <= 2)
                seen += page.orders
                token = page.nextPageToken
            } while !token.isEmpty
            #expect(seen.count == 4 && Set(seen.map { $0.orderID!.value }).count == 4)
            #expect(seen.map(\.createdAtUnixNanos) == seen.map(\.createdAtUnixNanos).sorted(by: >))
            let working = try await alice.listOrders(Tradewire_V1_ListOrdersRequest(statuses: [.accepted]))
            #expect(working.orders.count == 1 && working.orders[0].price?.units == 9_500)
            #expect(try await alice.listOrders(Tradewire_V1_ListOrdersRequest(symbol: "BOLT")).orders.isEmpty)
        }
    }
}
