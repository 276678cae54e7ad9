import ClusterTestSupport
import EventLoop
import Foundation
import Cluster
import Journal
import Protos
import RPC
import ServiceStubs
import Testing

/// A 3-node cluster in separate processes with real SQLite journals: orders through the command stream to every
/// state, with books and orders on different nodes.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct ClusterTests {
    @Test func ordersReachEveryStateWithFillsAcrossNodes() async throws {
        try await ProcessorCluster.with { cluster in
            let client = cluster.client
            let symbol = "ACME"

            // A resting sell, then a buy that fills half of it: both live on nodes other than the book's.
            let sell = cluster.orderID("sell", symbol: symbol)
            let buy = cluster.orderID("buy", symbol: symbol)
            let placed = try await client.send(ProcessorCluster.place(sell, symbol: symbol, side: .sell, price: 10_000, quantity: 100))
            #expect(placed.order?.status == .accepted, "\(placed)")
            #expect(try await client.send(ProcessorCluster.place(buy, symbol: symbol, side: .buy, price: 10_100, quantity: 40)).order?.status == .accepted)
            let filledBuy = try await cluster.waitFor(buy, .filled, .settled)
            #expect(filledBuy.filledQuantity?.units == 40 && filledBuy.averagePrice == "100.00")
            let partial = try await cluster.waitFor(sell, .partiallyFilled)
            #expect(partial.leavesQuantity?.units == 60)
            try await cluster.waitFor(buy, .settled)
            #expect(try await cluster.history(buy) == [.new, .accepted, .filled, .settled])

            // Replace: a smaller quantity keeps priority; the remaining 30 lots then fill completely.
            #expect(try await client.send(ProcessorCluster.replace(sell, quantity: 70)).order != nil)
            let replaced = try await waitUntil { try await cluster.order(sell).quantity?.units == 70 }
            #expect(replaced)
            let taker = cluster.orderID("taker", symbol: symbol, sameNode: true)
            _ = try await client.send(ProcessorCluster.place(taker, symbol: symbol, side: .buy, timeInForce: .ioc, price: 10_000, quantity: 50))
            try await cluster.waitFor(sell, .filled, .settled)
            let ioc = try await cluster.waitFor(taker, .cancelled)
            #expect(ioc.filledQuantity?.units == 30 && ioc.leavesQuantity?.units == 0)
            try await cluster.waitFor(sell, .settled)
            // The replace: PENDING_REPLACE once risk approved it, then REPLACED from the book.
            #expect(try await cluster.history(sell) == [.new, .accepted, .partiallyFilled, .partiallyFilled, .partiallyFilled, .filled, .settled])

            // FOK without liquidity, and MARKET with none: cancelled, reason NO_LIQUIDITY.
            let fok = cluster.orderID("fok", symbol: symbol)
            _ = try await client.send(ProcessorCluster.place(fok, symbol: symbol, side: .buy, timeInForce: .fok, price: 10_000, quantity: 5))
            #expect(try await cluster.waitFor(fok, .cancelled).rejectReason == .noLiquidity)

            // Cancel a resting order: PENDING_CANCEL at once, CANCELLED when the book confirms; a second cancel is a
            // duplicate.
            let resting = cluster.orderID("rest", symbol: symbol)
            _ = try await client.send(ProcessorCluster.place(resting, symbol: symbol, side: .buy, price: 9_000, quantity: 10))
            let cancelAck = try await client.send(ProcessorCluster.cancel(resting))
            #expect(cancelAck.order?.status == .pendingCancel || cancelAck.order?.status == .cancelled, "\(cancelAck)")
            try await cluster.waitFor(resting, .cancelled)
            #expect(try await client.send(ProcessorCluster.cancel(resting)).duplicate)
            // Someone else's account sees no order.
            #expect(try await client.send(ProcessorCluster.cancel(resting, account: "acct-2")).errorStatus?.code == 5)

            // Risk says no, and risk too slow: REJECTED with a reason that says which.
            let big = cluster.orderID("big", symbol: symbol)
            let rejected = try await client.send(ProcessorCluster.place(big, symbol: symbol, side: .buy, price: 10_000, quantity: 5_000))
            #expect(rejected.order?.status == .rejected && rejected.order?.rejectReason == .maxOrderQuantity)
            let slow = try await client.send(ProcessorCluster.place("slow-1", account: "slow", symbol: symbol, side: .buy, price: 10_000, quantity: 1))
            #expect(slow.order?.status == .rejected && slow.order?.rejectReason == .riskUnavailable)
            #expect(slow.order?.rejectText.contains("did not answer within 1000 ms") == true, "\(slow)")

            // Invalid commands change nothing.
            let market = try await client.send(ProcessorCluster.place("mkt-gtc", symbol: symbol, side: .buy, type: .market, timeInForce: .gtc, price: nil, quantity: 1))
            #expect(market.errorStatus?.code == 3)
            #expect(try await client.send(ProcessorCluster.replace(filledBuy.orderID!.value, price: 1)).errorStatus?.code == 9)

            // Every message between the nodes was confirmed, and the confirmations reached the journals without a
            // write of their own (they wait at most 100 ms for one): killed now, no node would resend anything.
            try await Task.sleep(for: .milliseconds(400))
            for process in cluster.processes.values { process.stop() }
            for node in cluster.config.nodes {
                let journal = try Journal(path: "\(cluster.config.dataDirectory)/\(node.id).sqlite")
                #expect(try journal.pendingOutbox().isEmpty, "node \(node.id)")
                #expect(!journal.outboxHeads.isEmpty, "node \(node.id) sent nothing to another node")
                await journal.close()
            }
        }
    }

    /// A MARKET order trades only up to the protection price risk gave it (here 100.50 for a buy): what lies
    /// beyond stays on the book, and the rest of the order is cancelled (IOC).
    @Test func aMarketOrderNeverTradesPastItsProtectionPrice() async throws {
        try await ProcessorCluster.with { cluster in
            let symbol = "PROT"
            let near = cluster.orderID("near", symbol: symbol)
            let far = cluster.orderID("far", symbol: symbol)
            #expect(try await cluster.client.send(ProcessorCluster.place(near, symbol: symbol, side: .sell, price: 10_000, quantity: 5)).order?.status == .accepted)
            #expect(try await cluster.client.send(ProcessorCluster.place(far, symbol: symbol, side: .sell, price: 10_100, quantity: 5)).order?.status == .accepted)
            let buy = cluster.orderID("mkt", symbol: symbol)
            let placed = try await cluster.client.send(
                ProcessorCluster.place(buy, symbol: symbol, side: .buy, type: .market, timeInForce: .ioc, price: nil, quantity: 10))
            #expect(placed.order?.protectionPrice?.units == 10_050 && placed.order?.protectionPrice?.scale == 2)
            let done = try await cluster.waitFor(buy, .cancelled)
            #expect(done.filledQuantity?.units == 5 && done.averagePrice == "100.00" && done.rejectReason == .noLiquidity)
            #expect(done.filledNotional?.scale == 2, "a MARKET order's notional is at the instrument's price scale")
            try await cluster.waitFor(near, .filled, .settled)
            let resting = try await cluster.order(far)
            #expect(resting.status == .accepted && resting.leavesQuantity?.units == 5, "the ask beyond the protection price still rests")
        }
    }

    @Test func duplicatesAreIdempotentAndAConflictingPayloadIsAlreadyExists() async throws {
        try await ProcessorCluster.with { cluster in
            let command = ProcessorCluster.place("dup-1", symbol: "DUPS", side: .buy, price: 5_000, quantity: 10)
            // The same order from many tasks at once: one order, every answer the same order.
            let acks = try await withThrowingTaskGroup(of: Tradewire_V1_Ack.self) { group in
                for _ in 0..<20 { group.addTask { try await cluster.client.send(command) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(Set(acks.compactMap { $0.order?.orderID?.value }) == ["dup-1"])
            #expect(acks.filter { !$0.duplicate }.count == 1)
            #expect(Set(acks.compactMap { $0.order?.createdAtUnixNanos }).count == 1)
            let conflicting = ProcessorCluster.place("dup-1", symbol: "DUPS", side: .buy, price: 5_001, quantity: 10)
            let conflict = try await cluster.client.send(conflicting)
            #expect(conflict.errorStatus?.code == 6, "\(conflict)")
            // One NEW and one ACCEPTED event for the order on its node, nothing more.
            let owner = cluster.client.owner(of: .order("dup-1")).id
            let events = try await cluster.events(owner).filter {
                if case .order(let order) = $0.event { order.order?.orderID?.value == "dup-1" } else { false }
            }
            #expect(events.count == 2)

            // Reads and changes are scoped to an account: none named is INVALID_ARGUMENT (it used to mean "any
            // account"); another account's order does not exist for it; ids and symbols that cannot be valid are
            // refused before any lookup.
            let (client, channel) = try cluster.processor(owner)
            defer { channel.close() }
            let anyone = await #expect(throws: RPCError.self) {
                _ = try await client.getOrder(Tradewire_V1_ProcessorGetOrderRequest(orderID: Tradewire_V1_OrderId(value: "dup-1")))
            }
            #expect(anyone?.code == .invalidArgument)
            let other = await #expect(throws: RPCError.self) {
                _ = try await client.getOrder(Tradewire_V1_ProcessorGetOrderRequest(orderID: Tradewire_V1_OrderId(value: "dup-1"), account: "acct-2"))
            }
            #expect(other?.code == .notFound)
            #expect(try await cluster.client.send(ProcessorCluster.cancel("dup-1", account: "")).errorStatus?.code == 3)
            #expect(try await cluster.client.send(ProcessorCluster.cancel("dup-1", account: "acct-2")).errorStatus?.code == 5)
            let tooLong = await #expect(throws: RPCError.self) {
                _ = try await cluster.client.send(ProcessorCluster.cancel(String(repeating: "x", count: 65)))
            }
            #expect(tooLong?.code == .invalidArgument, "an id past 64 characters is refused before it is routed")
            let badSymbol = ProcessorCluster.place("dup-2", symbol: "lower case", side: .buy, price: 5_000, quantity: 10)
            #expect(try await cluster.client.send(badSymbol).errorStatus?.code == 3)
            let huge = ProcessorCluster.place("dup-3", symbol: "DUPS", side: .buy, price: .max, quantity: .max)
            #expect(try await cluster.client.send(huge).errorStatus?.code == 3)
        }
    }

    /// A sender whose ring is stale (an older two-node file) sends to nodes that do not own the orders: they
    /// answer NotOwner and never process; the client resends to the owner; each order exists exactly once.
    @Test func aStaleSenderStillEndsWithExactlyOneOrder() async throws {
        try await ProcessorCluster.with { cluster in
            var stale = cluster.config
            stale.epoch = 1
            stale.nodes = Array(cluster.config.nodes.prefix(2))
            let staleClient = ClusterClient(config: stale, refresh: { cluster.config })
            var misrouted = 0
            for index in 0..<30 {
                let id = "stale-\(index)"
                if ClusterRing(stale).owner(of: .order(id)).id != cluster.client.owner(of: .order(id)).id { misrouted += 1 }
                let ack = try await staleClient.send(ProcessorCluster.place(id, symbol: "STALE", side: .buy, price: 100, quantity: 1))
                #expect(ack.order?.status == .accepted, "\(ack)")
            }
            #expect(misrouted > 0)
            #expect(staleClient.epoch == 2, "the NotOwner answers carried the newer epoch, and the client took the new ring")
            await staleClient.close()
            // Every node's journal: each order's NEW event exactly once, on its owner only.
            var owners: [String: [String]] = [:]
            for node in cluster.config.nodes {
                for event in try await cluster.events(node.id) {
                    if case .order(let order) = event.event, order.report?.execType == .pendingNew {
                        owners[order.order!.orderID!.value, default: []].append(node.id)
                    }
                }
            }
            for index in 0..<30 {
                let id = "stale-\(index)"
                #expect(owners[id] == [cluster.client.owner(of: .order(id)).id], "\(id): \(owners[id] ?? [])")
            }
            // A command routed with a newer epoch than the node's is refused, not processed.
            var future = ProcessorCluster.place("future-1", symbol: "STALE", side: .buy, price: 100, quantity: 1)
            future.ringEpoch = 9
            let node = cluster.client.owner(of: .order("future-1"))
            let refused = try await cluster.client.stream(to: node).send(future)
            #expect(refused.errorStatus?.code == 9, "\(refused)")
        }
    }

    /// SubscribeEvents is gap-free from any point, and resumes across a node's restart.
    @Test func eventStreamsAreGapFreeAndResumeAcrossARestart() async throws {
        try await ProcessorCluster.with { cluster in
            for index in 0..<20 {
                _ = try await cluster.client.send(ProcessorCluster.place("ev-\(index)", symbol: "EVT", side: index % 2 == 0 ? .buy : .sell,
                                                                         price: 100, quantity: 1))
            }
            let node = "p1"
            let before = try await cluster.events(node)
            #expect(before.map(\.sequence) == Array(1...UInt64(before.count)))
            cluster.processes[node]!.stop()
            try await cluster.start(node)
            for index in 20..<40 {
                _ = try await cluster.client.send(ProcessorCluster.place("ev-\(index)", symbol: "EVT", side: .buy, price: 90, quantity: 1))
            }
            let resumed = try await cluster.events(node, from: UInt64(before.count) + 1)
            #expect(resumed.first?.sequence == UInt64(before.count) + 1)
            #expect(resumed.map(\.sequence) == Array((UInt64(before.count) + 1)...(UInt64(before.count + resumed.count))))
            let again = try await cluster.events(node)
            #expect(Array(again.prefix(before.count)) == before)
        }
    }

    /// A subscriber that asks for heartbeats hears from a quiet node: empty batches naming the head and when they
    /// were sent, so that it tells a quiet node from a stalled stream. Out-of-range intervals are refused.
    @Test func aQuietNodeSendsHeartbeatsToSubscribersThatAskForThem() async throws {
        try await ProcessorCluster.with { cluster in
            _ = try await cluster.client.send(ProcessorCluster.place("hb-1", symbol: "HBT", side: .buy, price: 100, quantity: 1))
            let node = cluster.client.owner(of: .order("hb-1")).id
            let (client, channel) = try cluster.processor(node)
            defer { channel.close() }
            let started = WallClock.now()
            let batches = try await client.subscribeEvents(
                Tradewire_V1_SubscribeEventsRequest(fromSequence: 1, heartbeatMs: 100)
            ) { stream in
                // The order's later events (its book's answer) may still be on their way: three empty batches in a
                // row once they are in.
                var received: [Tradewire_V1_EventBatch] = []
                for try await batch in stream {
                    received.append(batch)
                    if received.reversed().prefix(while: \.events.isEmpty).count == 3 { break }
                }
                return received
            }
            #expect(batches.first!.headSequence == batches.first!.events.last!.sequence)
            let head = batches.last { !$0.events.isEmpty }!.events.last!.sequence
            let heartbeats = batches.suffix(3)
            #expect(heartbeats.allSatisfy { $0.events.isEmpty && $0.headSequence == head })
            let times = heartbeats.map(\.sentAtUnixNanos)
            #expect(times == times.sorted() && times.first! > started)
            for interval: UInt32 in [1, 99, 60_001] {
                let refused = await #expect(throws: RPCError.self) {
                    try await client.subscribeEvents(Tradewire_V1_SubscribeEventsRequest(fromSequence: 1, heartbeatMs: interval)) { stream in
                        for try await _ in stream {}
                    }
                }
                #expect(refused?.code == .invalidArgument)
            }
        }
    }

    /// A caught-up subscriber that asks for a linger gets what several commits wrote as one batch, never sooner than
    /// the linger after the first of them committed; nothing is lost or reordered. Over a second is refused.
    @Test func aLingeringSubscriberGetsSeveralCommitsAsOneBatch() async throws {
        try await ProcessorCluster.with(nodes: 1) { cluster in
            let (client, channel) = try cluster.processor("p1")
            defer { channel.close() }
            let linger: UInt32 = 1000
            let places = 4
            let request = Tradewire_V1_SubscribeEventsRequest(fromHead: true, heartbeatMs: 100, lingerMs: linger)
            let (batches, arrived, first) = try await client.subscribeEvents(request) { stream in
                var received: [Tradewire_V1_EventBatch] = []
                var arrived = ContinuousClock.now
                // Returns when the first place was acknowledged (a little after it committed).
                var placing: Task<ContinuousClock.Instant, any Error>?
                for try await batch in stream {
                    if placing == nil {
                        // The stream starts at the head: now each place commits on its own, one after the other.
                        let orders = cluster.client
                        placing = Task {
                            var first = ContinuousClock.now
                            for index in 0..<places {
                                _ = try await orders.send(ProcessorCluster.place("lg-\(index)", symbol: "LNG", side: .buy, price: 100, quantity: 1))
                                if index == 0 { first = .now }
                            }
                            return first
                        }
                        continue
                    }
                    if !batch.events.isEmpty {
                        received.append(batch)
                        arrived = .now
                        break
                    }
                }
                let first = try await placing?.value
                return (received, arrived, first)
            }
            let all = try await cluster.events("p1")
            #expect(all.count >= places)
            // The places committed one by one within the linger: their events came together, in order.
            #expect(batches[0].events.map(\.sequence) == all.prefix(batches[0].events.count).map(\.sequence))
            let orders = Set(batches[0].events.compactMap { event -> String? in
                guard case .order(let order) = event.event else { return nil }
                return order.order?.orderID?.value
            })
            #expect(orders.count >= 2)
            let firstAcknowledged = try #require(first)
            // Never sooner than the linger after the commit (the first acknowledgement came a little after it: half
            // the linger is room for a loaded machine, and still far from a batch sent at once).
            #expect(arrived - firstAcknowledged >= .milliseconds(Int(linger) / 2))
            let refused = await #expect(throws: RPCError.self) {
                try await client.subscribeEvents(Tradewire_V1_SubscribeEventsRequest(fromSequence: 1, lingerMs: 1001)) { stream in
                    for try await _ in stream {}
                }
            }
            #expect(refused?.code == .invalidArgument)
            let both = await #expect(throws: RPCError.self) {
                try await client.subscribeEvents(Tradewire_V1_SubscribeEventsRequest(fromSequence: 1, reportsOnly: true, tradeReportsOnly: true)) {
                    for try await _ in $0 {}
                }
            }
            #expect(both?.code == .invalidArgument && both?.message.contains("exclude each other") == true)
        }
    }

    /// A subscriber that asks for some kinds of events gets only those; what was left out still counts in
    /// `through_sequence`, so that it knows how far the node has looked. An unknown kind is refused.
    @Test func aSubscriberGetsOnlyTheKindsItAsksForAndHearsHowFarTheNodeLooked() async throws {
        try await Self.withSettledPair("kd", symbol: "KND") { client, all in
            let batches = try await Self.batches(client, Tradewire_V1_SubscribeEventsRequest(fromSequence: 1, heartbeatMs: 100, kinds: [.trade]),
                                                 through: all.last!.sequence)
            let trades = batches.flatMap(\.events)
            #expect(trades.count == 1 && trades.allSatisfy { if case .trade = $0.event { true } else { false } })
            #expect(trades.map(\.sequence) == all.filter { if case .trade = $0.event { true } else { false } }.map(\.sequence))
            #expect(batches.last!.throughSequence >= all.last!.sequence)
            let refused = await #expect(throws: RPCError.self) {
                try await client.subscribeEvents(Tradewire_V1_SubscribeEventsRequest(fromSequence: 1, kinds: [.unspecified])) { stream in
                    for try await _ in stream {}
                }
            }
            #expect(refused?.code == .invalidArgument)
        }
    }

    /// A subscriber that names order statuses gets the order events whose order has one of them, and every other
    /// event as before; what was left out counts in `through_sequence`. UNSPECIFIED or an unknown status is refused.
    @Test func aSubscriberGetsOnlyTheOrderStatusesItAsksFor() async throws {
        try await Self.withSettledPair("st", symbol: "STS") { client, all in
            let request = Tradewire_V1_SubscribeEventsRequest(fromSequence: 1, heartbeatMs: 100, orderStatuses: [.filled, .accepted, .filled])
            let batches = try await Self.batches(client, request, through: all.last!.sequence)
            let expected = all.filter { event in
                guard case .order(let change) = event.event else { return true }
                return [.filled, .accepted].contains(change.order?.status)
            }
            #expect(batches.flatMap(\.events).map(\.sequence) == expected.map(\.sequence))
            #expect(expected.count < all.count && expected.contains { if case .trade = $0.event { true } else { false } })
            #expect(batches.last!.throughSequence >= all.last!.sequence)
            for statuses in [[Tradewire_V1_OrderStatus.unspecified], [.accepted, .unrecognized(99)]] {
                let refused = await #expect(throws: RPCError.self) {
                    try await client.subscribeEvents(Tradewire_V1_SubscribeEventsRequest(fromSequence: 1, orderStatuses: statuses)) { stream in
                        for try await _ in stream {}
                    }
                }
                #expect(refused?.code == .invalidArgument && refused?.message.contains("order_statuses") == true)
            }
        }
    }

    /// On one node: a sell and a buy of `symbol` that cross, filled and settled; `body` gets a client of the node and
    /// every event it journaled.
    private static func withSettledPair(_ prefix: String, symbol: String,
                                        _ body: (Tradewire_V1_Processor.Client, [Tradewire_V1_Event]) async throws -> Void) async throws
    {
        try await ProcessorCluster.with(nodes: 1) { cluster in
            for (index, side) in [Tradewire_V1_Side.sell, .buy].enumerated() {
                _ = try await cluster.client.send(ProcessorCluster.place("\(prefix)-\(index)", symbol: symbol, side: side, price: 100, quantity: 1))
            }
            try await cluster.waitFor("\(prefix)-1", .filled, .settled)
            let (client, channel) = try cluster.processor("p1")
            defer { channel.close() }
            try await body(client, try await cluster.events("p1"))
        }
    }

    /// The batches of a subscription until it has looked through sequence `last`.
    private static func batches(_ client: Tradewire_V1_Processor.Client, _ request: Tradewire_V1_SubscribeEventsRequest,
                                through last: UInt64) async throws -> [Tradewire_V1_EventBatch]
    {
        try await client.subscribeEvents(request) { stream in
            var received: [Tradewire_V1_EventBatch] = []
            for try await batch in stream {
                received.append(batch)
                if batch.throughSequence >= last { break }
            }
            return received
        }
    }
}
