import ClusterTestSupport
import Foundation
import Gateway
import Cluster
import ProtoCodec
import Protos
import RPC
import ServiceStubs
import Synchronization
import Testing
import TestSupport
import Transport

/// What an adversarial client tries against the gateway, over real sockets with the whole cluster behind it:
/// numbers at the extremes, malformed cursors, tokens and ids, echoed giant inputs, header tricks, unknown fields,
/// too many streams, a stale reference price, replaces that would pass risk's limits. Each gets a clear status,
/// and every service is still there afterwards.
@Suite(.serialized, .timeLimit(.minutes(4)))
struct HardeningTests {
    typealias Cluster = GatewayCluster

    static func error(_ body: () async throws -> Void) async -> RPCError? { await GatewayTests.error(body) }

    static func violations(_ error: RPCError?) -> Set<String> {
        Set(error?.detail(Google_Rpc_BadRequest.self)?.fieldViolations.map(\.field) ?? [])
    }

    @Test func extremeAndMalformedInputGetsClearErrorsAndCrashesNothing() async throws {
        try await Cluster.with { cluster in
            let alice = try cluster.client("alice")
            // Only a guard against a hang: each of these is refused at once, but a loaded CI machine once took more
            // than 5 s to answer the first of them.
            let short = CallOptions(timeout: .seconds(30))

            // Cursors: sequences at and past 2^63 and 2^64, unknown or repeated nodes, stray separators.
            for cursor in ["p1:9223372036854775807", "p1:18446744073709551615", "p1:18446744073709551616", "p9:1", "p1:1,p1:2",
                           "p1:1,,p2:3", "p1-1", "p1:+5", "p1:", ":5", "p1:1,", String(repeating: "p1:1,", count: 5000)]
            {
                let error = await Self.error {
                    try await alice.streamExecutions(Tradewire_V1_StreamExecutionsRequest(cursor: cursor), options: short) { stream in
                        for try await _ in stream {}
                    }
                }
                #expect(error?.code == .invalidArgument && Self.violations(error) == ["cursor"], "\(cursor.prefix(40)): \(String(describing: error))")
            }
            // The highest cursor there can be is accepted: nothing comes (the deadline ends it), nothing crashes.
            let highest = await Self.error {
                try await alice.streamExecutions(
                    Tradewire_V1_StreamExecutionsRequest(cursor: "p1:9223372036854775806,p2:0"), options: CallOptions(timeout: .milliseconds(500))
                ) { stream in for try await _ in stream {} }
            }
            #expect(highest?.code == .deadlineExceeded, "\(String(describing: highest))")

            // Numbers at the extremes: INVALID_ARGUMENT with every violation named.
            var huge = Cluster.order("huge", side: .buy, price: .max, quantity: .max)
            var error = await Self.error { _ = try await alice.placeOrder(Tradewire_V1_PlaceOrderRequest(order: huge)) }
            #expect(error?.code == .invalidArgument && Self.violations(error) == ["order.price", "order.quantity"], "\(String(describing: error))")
            huge.price = Tradewire_V1_Price(units: 10_000, scale: 40)
            huge.quantity = Tradewire_V1_Quantity(units: -1, scale: .max)
            error = await Self.error { _ = try await alice.placeOrder(Tradewire_V1_PlaceOrderRequest(order: huge)) }
            #expect(error?.code == .invalidArgument && Self.violations(error) == ["order.price", "order.quantity"])
            for scale in [UInt32(19), 40, .max] {
                let reconcile = await Self.error {
                    _ = try await alice.reconcile(Tradewire_V1_ReconcileRequest(
                        batchID: "b-1", expectedPnl: Tradewire_V1_Money(units: .max, scale: scale, currency: "USD")))
                }
                #expect(reconcile?.code == .invalidArgument || reconcile?.code == .notFound, "\(String(describing: reconcile))")
            }

            // A 20,000-character symbol: a short INVALID_ARGUMENT (a call that hung until its deadline would end
            // DEADLINE_EXCEEDED; no wall-clock bound, which a loaded CI machine once took 2.7 s to meet).
            let giant = Cluster.order("g", symbol: String(repeating: "Z", count: 20_000), side: .buy, price: 10_000, quantity: 0)
            error = await Self.error { _ = try await alice.placeOrder(Tradewire_V1_PlaceOrderRequest(order: giant), options: short) }
            #expect(error?.code == .invalidArgument && (error?.message.utf8.count ?? .max) < 1024, "\(String(describing: error))")
            // BadRequest lists every violation: the unknown symbol does not hide the quantity.
            #expect(Self.violations(error) == ["order.symbol", "order.quantity"])

            // Ids that cannot be valid are INVALID_ARGUMENT, not NOT_FOUND or PERMISSION_DENIED.
            for id in ["ab", "\u{1}\u{2}garbage", String(repeating: "x", count: 100_000), "0123456789abcdef-0123456789abcdef0123456789ABCDEF"] {
                let ref = Tradewire_V1_OrderRef(orderID: Tradewire_V1_OrderId(value: id))
                error = await Self.error { _ = try await alice.getOrder(Tradewire_V1_GetOrderRequest(order: ref)) }
                #expect(error?.code == .invalidArgument, "\(id.prefix(20)): \(String(describing: error))")
                error = await Self.error { _ = try await alice.cancelOrder(Tradewire_V1_CancelOrderRequest(order: ref)) }
                #expect(error?.code == .invalidArgument)
            }
            let badClientID = Tradewire_V1_OrderRef(clientOrderID: "with space")
            #expect(await Self.error { _ = try await alice.getOrder(Tradewire_V1_GetOrderRequest(order: badClientID)) }?.code == .invalidArgument)
            // Tokens and filters.
            for request in [
                Tradewire_V1_ListOrdersRequest(pageToken: "garbage"), Tradewire_V1_ListOrdersRequest(pageToken: "1/not-ours"),
                Tradewire_V1_ListOrdersRequest(statuses: [.unrecognized(99)]), Tradewire_V1_ListOrdersRequest(symbol: "lower case"),
            ] {
                #expect(await Self.error { _ = try await alice.listOrders(request) }?.code == .invalidArgument, "\(request)")
            }

            // Every service is still healthy: an order goes through.
            let placed = try await alice.placeOrder(Tradewire_V1_PlaceOrderRequest(order: Cluster.order("after", side: .buy, price: 9_900, quantity: 10)))
            #expect(placed.order?.status == .accepted)
        }
    }

    @Test func headersKeysUnknownFieldsAndStreamQuotas() async throws {
        try await Cluster.with { cluster in
            let alice = try cluster.client("alice")
            let place = { (id: String) in Tradewire_V1_PlaceOrderRequest(order: Cluster.order(id, side: .buy, price: 9_900, quantity: 10)) }

            // Two authorization headers: refused, whichever comes first.
            let two = await Self.error {
                _ = try await alice.placeOrder(place("two"), metadata: ["authorization": .string("Bearer \(cluster.keys["bob"]!)")])
            }
            #expect(two?.code == .unauthenticated && two?.message.contains("exactly one") == true, "\(String(describing: two))")
            // The scheme in any case, with whitespace around: accepted (RFC 9110), not a reset stream.
            for header in ["bearer \(cluster.keys["alice"]!)", "BEARER  \(cluster.keys["alice"]!)", "  Bearer \(cluster.keys["alice"]!)\t"] {
                let client = try cluster.client(key: nil)
                let response = try await client.placeOrder(place("case-\(header.count)"), metadata: ["authorization": .string(header)])
                #expect(response.order?.status == .accepted, "\(header.prefix(10))")
            }
            #expect(await Self.error { _ = try await cluster.client(key: "").placeOrder(place("empty")) }?.code == .unauthenticated)

            // Unknown fields of a client's order never reach the node's shared command stream: eight orders with
            // 900 KB of them each, at once, all go through (forwarded, they would make one batch past 4 MiB).
            var padding = [UInt8]([0xA2, 0x06])  // field 100, length-delimited
            var length = 900_000
            while length >= 0x80 {
                padding.append(UInt8(length & 0x7f) | 0x80)
                length >>= 7
            }
            padding.append(UInt8(length))
            padding += [UInt8](repeating: 7, count: 900_000)
            let padded = try await withThrowingTaskGroup(of: Tradewire_V1_PlaceOrderResponse.self) { group in
                for index in 0..<8 {
                    var request = place("pad-\(index)")
                    request.order!.unknownFields = try ProtoUnknownFields(wireFormat: padding)
                    group.addTask { try await alice.placeOrder(request) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(padded.count == 8 && padded.allSatisfy { $0.order?.status == .accepted })
            // A request past the gateway's 1 MiB bound: RESOURCE_EXHAUSTED in the status, not a reset stream.
            var oversized = place("big")
            oversized.order!.unknownFields = try ProtoUnknownFields(wireFormat: [0xA2, 0x06, 0x80, 0x80, 0x48] + [UInt8](repeating: 1, count: 72 << 14))
            let tooBig = await Self.error { _ = try await alice.placeOrder(oversized) }
            #expect(tooBig?.code == .resourceExhausted && tooBig?.message.contains("exceeds the limit") == true, "\(String(describing: tooBig))")

            // A correlation id past 64 bytes is refused with a CancelReject saying why; the session goes on.
            let rejects = try await alice.orderEntry(options: CallOptions(timeout: .seconds(10))) { writer, responses in
                var long = Tradewire_V1_OrderEntryRequest(correlationID: String(repeating: "c", count: 65))
                long.request = .newOrder(Cluster.order("corr", side: .buy, price: 9_900, quantity: 10))
                try await writer.write(long)
                writer.finish()
                var rejects: [Tradewire_V1_CancelReject] = []
                for try await response in responses { if case .cancelReject(let reject) = response.response { rejects.append(reject) } }
                return rejects
            }
            #expect(rejects.count == 1 && rejects[0].text.contains("correlation_id") && rejects[0].fixCxlRejReason == "99", "\(rejects)")

            // Long-lived streams: 16 per account; the 17th is RESOURCE_EXHAUSTED; others go on.
            let opened = Count()
            let holders = Task {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<16 {
                        group.addTask {
                            try await alice.streamExecutions(Tradewire_V1_StreamExecutionsRequest(), options: CallOptions(timeout: .seconds(60))) { stream in
                                opened.add()
                                for try await _ in stream {}
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            #expect(try await waitUntil { opened.value == 16 })
            try await Task.sleep(for: .milliseconds(200))  // the handlers have counted their streams
            let seventeenth = await Self.error {
                try await alice.streamExecutions(Tradewire_V1_StreamExecutionsRequest(), options: CallOptions(timeout: .seconds(30))) { stream in
                    for try await _ in stream {}
                }
            }
            #expect(seventeenth?.code == .resourceExhausted, "\(String(describing: seventeenth))")
            let bob = try cluster.client("bob")
            let bobsStream = await Self.error {
                try await bob.streamExecutions(Tradewire_V1_StreamExecutionsRequest(), options: CallOptions(timeout: .milliseconds(500))) { stream in
                    for try await _ in stream {}
                }
            }
            #expect(bobsStream?.code == .deadlineExceeded, "another account's stream opens: \(String(describing: bobsStream))")
            #expect(try await alice.placeOrder(place("while-streaming")).order?.status == .accepted)
            holders.cancel()
            _ = await holders.result

            // Market data reads take an API key; its admin call and calls without a credential do not.
            let (host, port) = SocketAddressText.split(cluster.cluster.config.marketDataAddress!)!
            var keyed = ChannelConfiguration()
            keyed.metadata = ["authorization": .string("Bearer \(cluster.keys["alice"]!)")]
            let keyedChannel = try Channel(host: host, port: port, configuration: keyed)
            let market = Tradewire_V1_MarketData.Client(keyedChannel)
            #expect(try await market.getQuote(Tradewire_V1_GetQuoteRequest(symbol: "ACME")).symbol == "ACME")
            #expect(await Self.error { _ = try await market.upsertInstrument(Tradewire_V1_Instrument(symbol: "NEW")) }?.code == .unauthenticated)
            let anonymousChannel = try Channel(host: host, port: port)
            let anonymous = Tradewire_V1_MarketData.Client(anonymousChannel)
            #expect(await Self.error { _ = try await anonymous.getQuote(Tradewire_V1_GetQuoteRequest(symbol: "ACME")) }?.code == .unauthenticated)
            await keyedChannel.shutdown()
            await anonymousChannel.shutdown()
        }
    }

    @Test func replacesAreCheckedByRisk() async throws {
        try await Cluster.with { cluster in
            let config = cluster.cluster.config
            let riskChannel = try config.channel(config.riskAddress!)
            let risk = Tradewire_V1_Risk.Client(riskChannel)
            _ = try await risk.setBalance(Tradewire_V1_SetBalanceRequest(account: "bob", amount: Tradewire_V1_Money(units: 10_000, currency: "USD")))
            let bob = try cluster.client("bob")
            let placed = try await bob.placeOrder(Tradewire_V1_PlaceOrderRequest(order: Cluster.order("r-1", symbol: "BOLT", side: .buy, price: 5_000, quantity: 100)))
            #expect(placed.order?.status == .accepted)
            let ref = Tradewire_V1_OrderRef(clientOrderID: "r-1")

            // 250 at 50.00 needs 12,500.00 of 10,000.00: refused by risk; the order keeps its terms.
            let refused = await Self.error {
                _ = try await bob.replaceOrder(Tradewire_V1_ReplaceOrderRequest(order: ref, quantity: Tradewire_V1_Quantity(units: 250)))
            }
            #expect(refused?.code == .failedPrecondition && refused?.message.contains("risk refused the replace") == true)
            #expect(refused?.detail(Google_Rpc_ErrorInfo.self)?.reason == "REJECT_REASON_INSUFFICIENT_BALANCE", "\(String(describing: refused))")
            #expect(try await bob.getOrder(Tradewire_V1_GetOrderRequest(order: ref)).quantity?.units == 100)
            // 200 fits: the hold moves to 10,000.00 once the book applied it.
            let moved = try await bob.replaceOrder(Tradewire_V1_ReplaceOrderRequest(order: ref, quantity: Tradewire_V1_Quantity(units: 200)))
            #expect(moved.order?.pendingQuantity?.units == 200)
            #expect(try await waitUntil {
                try await bob.getOrder(Tradewire_V1_GetOrderRequest(order: ref)).quantity?.units == 200
            })
            #expect(try await waitUntil { try await risk.getAccount(Tradewire_V1_GetAccountRequest(account: "bob")).reserved?.units == 10_000 * 100_000_000 })

            // Eight concurrent replaces of one order: one at a time is pending, so the account is never over-held.
            let outcomes = await withTaskGroup(of: RPCError?.self) { group in
                for quantity in [150, 160, 170, 180, 190, 199, 120, 130] as [Int64] {
                    group.addTask {
                        await Self.error {
                            _ = try await bob.replaceOrder(Tradewire_V1_ReplaceOrderRequest(order: ref, quantity: Tradewire_V1_Quantity(units: quantity)))
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.contains { $0 == nil }, "one of them went through")
            #expect(outcomes.compactMap { $0 }.allSatisfy { $0.detail(Google_Rpc_ErrorInfo.self)?.reason == "ALREADY_PENDING" }, "\(outcomes)")
            try await Task.sleep(for: .milliseconds(500))
            let account = try await risk.getAccount(Tradewire_V1_GetAccountRequest(account: "bob"))
            #expect((account.available?.units ?? -1) >= 0 && (account.reserved?.units ?? .max) <= 10_000 * 100_000_000)
            await riskChannel.shutdown()

        }
    }

    @Test func staleReferencesFailClosed() async throws {
        try await Cluster.with(extraConfig: ", \"reference_max_age_ms\": 3000") { cluster in
            // Market data stops: once the reference is older than reference_max_age_ms (3 s), orders that need it
            // are refused (UNAVAILABLE, safe to retry); when it is back, they go through again.
            let alice = try cluster.client("alice")
            await cluster.cluster.stopMarketData()
            try await Task.sleep(for: .milliseconds(3_500))
            let stale = await Self.error {
                _ = try await alice.placeOrder(Tradewire_V1_PlaceOrderRequest(order: Cluster.order("stale", side: .buy, price: 9_900, quantity: 10)))
            }
            #expect(stale?.code == .unavailable && stale?.message.contains("older than") == true && stale?.detail(Google_Rpc_RetryInfo.self) != nil,
                    "\(String(describing: stale))")
            try await cluster.cluster.startMarketData()
            var attempt = 0
            #expect(try await waitUntil {
                attempt += 1  // a new order each time: risk may still be waiting for its own fresh reference
                let order = Cluster.order("fresh-\(attempt)", side: .buy, price: 9_900, quantity: 10)
                return try await alice.placeOrder(Tradewire_V1_PlaceOrderRequest(order: order)).order?.status == .accepted
            })
        }
    }
}

/// A count shared by a test's tasks.
private final class Count: Sendable {
    private let count = Mutex(0)
    var value: Int { count.withLock { $0 } }
    func add() { count.withLock { $0 += 1 } }
}
