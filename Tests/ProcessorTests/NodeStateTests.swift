import Cluster
import ClusterTestSupport
import Journal
@testable import Processor
import Protos
import RPC
import Testing

/// The node's decisions as a value (``NodeState``), driven by ``NodeHarness``: no sockets, no SQLite, a clock the
/// test moves. Each test also checks what must not happen (an acknowledgement before its commit, a write of an
/// order risk has not approved, a second copy of a fill).
@Suite struct NodeStateTests {
    // MARK: - Place and risk

    @Test func aPlaceIsCheckedByRiskAndAcknowledgedOnlyOnceItsWriteCommitted() throws {
        let node = NodeHarness(nodes: ["p1", "p2"])
        let id = node.orderID("o", ownedBy: "p1")
        let symbol = node.symbol(ownedBy: "p2")
        let token = node.send(ProcessorCluster.place(id, symbol: symbol, side: .buy, price: 1000, quantity: 5))
        #expect(node.answers[token] == nil)
        #expect(node.nodes["p1"]!.writes.isEmpty, "nothing is written before risk decided")
        let check = try #require(node.nodes["p1"]!.checks.first?.request)
        #expect(check.orderID?.value == id && check.quantity?.units == 5 && check.price?.units == 1000 && check.requestID == "req-\(id)")

        node.decideRisk()
        #expect(node.answers[token] == nil, "decided, not yet durable")
        let write = try #require(node.nodes["p1"]!.writes.first)
        #expect(write.outbox.map(\.destination) == ["p2"], "the book order goes out with the write")
        #expect(node.nodes["p1"]!.sends.isEmpty, "and leaves only after it committed")

        node.commitOne()
        #expect(node.order(token)?.status == .accepted)
        #expect(node.reports(id).map(\.execType) == [.pendingNew, .new])
        let book = try #require(node.nodes["p1"]!.sends.first)
        guard case .bookOrder(let order) = book.command.command else { Issue.record("not a book order"); return }
        #expect(order.order?.orderID?.value == id && book.command.sourceSequence == 1 && book.command.sourceNodeID == "p1")
    }

    @Test func riskRefusalsAndTimeoutsRejectTheOrderForGood() throws {
        let node = NodeHarness()
        let refused = node.orderID("refused", ownedBy: "p1")
        let late = node.orderID("late", ownedBy: "p1")
        let first = node.send(ProcessorCluster.place(refused, symbol: "ACME", side: .buy, price: 1000, quantity: 5))
        let second = node.send(ProcessorCluster.place(late, symbol: "ACME", side: .buy, price: 1000, quantity: 5))
        #expect(node.nodes["p1"]!.checks.count == 2)
        node.decideRisk { request in
            request.orderID?.value == refused
                ? .rejected(.insufficientBalance, "needs 5,000.00, has 10.00")
                : .rejected(.riskUnavailable, "risk did not answer within 100 ms")
        }
        #expect(node.nodes["p1"]!.writes.count == 1, "one turn, one write")
        node.commitAll()
        #expect(node.order(first)?.status == .rejected && node.order(first)?.rejectReason == .insufficientBalance)
        #expect(node.order(second)?.status == .rejected && node.order(second)?.rejectReason == .riskUnavailable)
        #expect(node.order(second)?.rejectText == "risk did not answer within 100 ms")
        #expect(node.nodes["p1"]!.sends.isEmpty, "a rejected order never reaches a book")

        // The same request again is answered from the order's state: idempotent, not re-checked.
        let again = node.send(ProcessorCluster.place(late, symbol: "ACME", side: .buy, price: 1000, quantity: 5))
        #expect(node.answers[again]?.duplicate == true && node.order(again)?.status == .rejected)
        #expect(node.nodes["p1"]!.checks.isEmpty)
    }

    @Test func aMarketOrderWithoutAProtectionPriceFromRiskIsRejected() {
        let node = NodeHarness()
        let id = node.orderID("m", ownedBy: "p1")
        let token = node.send(ProcessorCluster.place(id, symbol: "ACME", side: .buy, type: .market, timeInForce: .ioc, price: nil, quantity: 5))
        node.decideRisk()
        node.commitAll()
        #expect(node.order(token)?.status == .rejected && node.order(token)?.rejectReason == .riskUnavailable)
    }

    // MARK: - Races with risk pending

    @Test func aCancelWhileRiskDecidesWaitsAndFollowsTheAcceptance() throws {
        let node = NodeHarness(nodes: ["p1", "p2"])
        let id = node.orderID("o", ownedBy: "p1")
        let placed = node.send(ProcessorCluster.place(id, symbol: node.symbol(ownedBy: "p2"), side: .buy, price: 1000, quantity: 5))
        let cancelled = node.send(ProcessorCluster.cancel(id))
        #expect(node.answers[cancelled] == nil && node.nodes["p1"]!.writes.isEmpty, "the cancel waits in the order's mailbox")

        node.decideRisk()
        let write = try #require(node.nodes["p1"]!.writes.first)
        #expect(node.nodes["p1"]!.writes.count == 1)
        #expect(write.orders.count == 1, "one row per order per write")
        node.commitOne()
        #expect(node.order(placed)?.status == .accepted)
        #expect(node.order(cancelled)?.status == .pendingCancel)
        let kinds = node.nodes["p1"]!.sends.map { command -> String in
            switch command.command.command {
            case .bookOrder: "order"
            case .bookCancel: "cancel"
            default: "other"
            }
        }
        #expect(kinds == ["order", "cancel"], "the book hears of the order before its cancel")
    }

    @Test func aCancelWhileRiskRefusesIsAnsweredAboutTheRejectedOrder() {
        let node = NodeHarness()
        let id = node.orderID("o", ownedBy: "p1")
        node.send(ProcessorCluster.place(id, symbol: "ACME", side: .buy, price: 1000, quantity: 5))
        let cancelled = node.send(ProcessorCluster.cancel(id))
        node.decideRisk { _ in .rejected(.maxOrderQuantity, "above 4") }
        node.commitAll()
        #expect(node.code(cancelled) == .failedPrecondition)
        #expect(node.status(cancelled)?.message.contains("can no longer be cancelled") == true)
    }

    @Test func oneReplaceAtATimeAndRiskDecidesEach() throws {
        let node = NodeHarness()
        let id = node.orderID("o", ownedBy: "p1")
        node.placeAccepted(id)

        let first = node.send(ProcessorCluster.replace(id, price: 1010))
        let second = node.send(ProcessorCluster.replace(id, quantity: 8))
        let check = try #require(node.nodes["p1"]!.checks.first?.request)
        #expect(node.nodes["p1"]!.checks.count == 1, "the second replace waits for the first's risk decision")
        #expect(check.replace && check.price?.units == 1010 && check.quantity?.units == 5 && check.orderVersion == 2)
        node.decideRisk()
        #expect(node.answers[first] == nil, "not before its write commits")
        #expect(node.status(second)?.message.contains("replace pending") == true, "refused as soon as it runs")
        node.commitAll()
        #expect(node.order(first)?.status == .accepted && node.order(first)?.pendingPrice?.units == 1010)
    }

    @Test func aReplaceRiskRefusesLeavesTheOrderAsItWas() throws {
        let node = NodeHarness()
        let id = node.orderID("o", ownedBy: "p1")
        node.placeAccepted(id)
        let before = try #require(node.current(id))
        let refused = node.send(ProcessorCluster.replace(id, quantity: 500))
        node.decideRisk { _ in .rejected(.maxPosition, "500 lots would pass the position limit") }
        #expect(node.code(refused) == .failedPrecondition)
        #expect(node.nodes["p1"]!.writes.isEmpty, "a refused replace writes nothing")
        #expect(node.current(id) == before)
        let unavailable = node.send(ProcessorCluster.replace(id, quantity: 6))
        node.decideRisk { _ in .rejected(.riskUnavailable, "risk did not answer within 100 ms") }
        #expect(node.code(unavailable) == .unavailable)
    }

    // MARK: - Books, fills and settlement across nodes

    /// A buy on p1 and a sell on p2 meet on a book p3 owns: each order hears its fill once, even when the book's
    /// update is delivered twice; the trade is journaled on the book's node; FILLED orders settle after the delay.
    @Test func fillsAcrossNodesArriveExactlyOnceAndSettle() throws {
        let cluster = NodeHarness(nodes: ["p1", "p2", "p3"], settlementMilliseconds: 500)
        let symbol = cluster.symbol(ownedBy: "p3")
        let buy = cluster.orderID("buy", ownedBy: "p1")
        let sell = cluster.orderID("sell", ownedBy: "p2")
        cluster.send(ProcessorCluster.place(buy, symbol: symbol, side: .buy, price: 1000, quantity: 5), to: "p1")
        cluster.settle()
        cluster.send(ProcessorCluster.place(sell, symbol: symbol, side: .sell, price: 990, quantity: 5), to: "p2")
        cluster.settle()

        #expect(cluster.current(buy)?.status == .filled && cluster.current(sell)?.status == .filled)
        #expect(cluster.current(buy)?.averagePrice == "10.00", "the resting order's price")
        #expect(cluster.reports(buy, on: "p1").filter { $0.execType == .trade }.count == 1)
        let trades = cluster.nodes["p3"]!.committed.flatMap(\.events).filter { $0.kind == 2 }
        #expect(trades.count == 1)
        #expect(cluster.nodes["p3"]!.committed.flatMap(\.inputs).map(\.position) == [1, 2])

        // The book's fill for the buy, delivered again (a resend after a lost answer): a duplicate, no new event.
        let toP1 = cluster.nodes["p3"]!.committed.flatMap(\.outbox).filter { $0.destination == "p1" }
        let index = try #require(toP1.firstIndex { row in
            guard case .orderUpdate(let update) = (try? Tradewire_V1_Command(serializedBytes: row.payload))?.command else { return false }
            return update.orderID?.value == buy
        })
        var fill = try Tradewire_V1_Command(serializedBytes: toP1[index].payload)
        fill.sourceNodeID = "p3"
        fill.sourceSequence = UInt64(index + 1)
        let resent = cluster.send(fill, to: "p1")
        #expect(cluster.answers[resent]?.duplicate == true)
        #expect(cluster.nodes["p1"]!.writes.isEmpty)

        #expect(cluster.nodes["p1"]!.timers.contains { $0.timer == .settle(orderID: buy) })
        let settle = try #require(cluster.nodes["p1"]!.timers.first { $0.timer == .settle(orderID: buy) })
        #expect(settle.at % NodeState.settlementStep == 0, "on the settlement grid")
        cluster.advance(milliseconds: 499, firing: "p1")
        #expect(cluster.nodes["p1"]!.writes.isEmpty, "not before the delay")
        cluster.advance(milliseconds: Int(NodeState.settlementStep / 1_000_000), firing: "p1")
        cluster.commitAll("p1")
        #expect(cluster.current(buy)?.status == .settled)
        #expect(cluster.reports(buy, on: "p1").last?.execType == .settled)
    }

    /// Orders filled at different times within one step of the settlement grid settle together: one turn, one
    /// write, one commit for all of them; none before its delay.
    @Test func settlementsDueWithinAStepShareOneCommit() throws {
        let node = NodeHarness(settlementMilliseconds: 500)
        let symbol = node.symbol(ownedBy: "p1")
        node.advance(milliseconds: 5)
        var filled: [String] = []
        for pair in 0..<3 {  // fills at 5, 15 and 25 ms: due at 505, 515 and 525 ms, all on the 550 ms step
            let buy = node.orderID("buy\(pair)", ownedBy: "p1")
            let sell = node.orderID("sell\(pair)", ownedBy: "p1")
            node.send(ProcessorCluster.place(buy, symbol: symbol, side: .buy, price: 1000, quantity: 2))
            node.send(ProcessorCluster.place(sell, symbol: symbol, side: .sell, price: 1000, quantity: 2))
            node.settle()
            filled += [buy, sell]
            node.advance(milliseconds: 10)
        }
        #expect(filled.allSatisfy { node.current($0)?.status == .filled })
        let commits = node.nodes["p1"]!.committed.count
        node.advance(milliseconds: 514)  // 549 ms
        #expect(node.nodes["p1"]!.writes.isEmpty, "not before the delay")
        node.advance(milliseconds: 1)
        #expect(node.nodes["p1"]!.writes.count == 1)
        node.commitAll()
        #expect(node.nodes["p1"]!.committed.count == commits + 1)
        #expect(filled.allSatisfy { node.current($0)?.status == .settled })
    }

    /// Orders on the node that owns their book: the book takes each in the turn that accepted it, and everything
    /// the place caused (the order's reports, the book's input, the trade, both orders' fills) is one write, with
    /// no outbox message to the node itself. A cancel waiting for risk follows its order into the same write.
    @Test func aBookOnTheOrdersOwnNodeTakesItInTheSameWrite() throws {
        let node = NodeHarness()
        let buy = node.orderID("buy", ownedBy: "p1")
        let sell = node.orderID("sell", ownedBy: "p1")
        node.placeAccepted(buy)
        #expect(node.nodes["p1"]!.committed.count == 1 && node.nodes["p1"]!.writes.isEmpty)
        #expect(node.nodes["p1"]!.committed[0].inputs.map(\.position) == [1], "the book took the order with its acceptance")

        let placed = node.send(ProcessorCluster.place(sell, symbol: "ACME", side: .sell, price: 990, quantity: 3))
        node.decideRisk()
        let write = try #require(node.nodes["p1"]!.writes.first)
        #expect(node.nodes["p1"]!.writes.count == 1, "one write for the place, the match and both fills")
        #expect(node.answers[placed] == nil, "acknowledged only once it committed")
        #expect(write.outbox.isEmpty && write.inputs.map(\.position) == [2] && write.events.filter { $0.kind == 2 }.count == 1)
        node.commitOne()
        #expect(node.order(placed)?.status == .accepted)
        #expect(node.current(sell)?.status == .filled && node.current(buy)?.status == .partiallyFilled)
        #expect(node.reports(buy).filter { $0.execType == .trade }.count == 1 && node.reports(sell).filter { $0.execType == .trade }.count == 1)
        #expect(node.nodes["p1"]!.sends.isEmpty && node.nodes["p1"]!.timers.contains { $0.timer == .settle(orderID: sell) })

        // A cancel that waited for risk reaches the book after the order, in the same write.
        let other = node.orderID("other", ownedBy: "p1")
        node.send(ProcessorCluster.place(other, symbol: "ACME", side: .buy, price: 900, quantity: 1))
        let cancelled = node.send(ProcessorCluster.cancel(other))
        node.decideRisk()
        #expect(node.nodes["p1"]!.writes.count == 1)
        node.commitAll()
        #expect(node.order(cancelled)?.status == .pendingCancel)
        #expect(node.current(other)?.status == .cancelled)
        #expect(node.reports(other).map(\.execType) == [.pendingNew, .new, .pendingCancel, .canceled])
        #expect(node.nodes["p1"]!.committed.flatMap(\.inputs).map(\.position) == [1, 2, 3, 4], "gap-free")

        // The same place again is a duplicate and changes nothing.
        let again = node.send(ProcessorCluster.place(sell, symbol: "ACME", side: .sell, price: 990, quantity: 3))
        #expect(node.answers[again]?.duplicate == true && node.nodes["p1"]!.writes.isEmpty && node.nodes["p1"]!.checks.isEmpty)
    }

    @Test func aBookInputSeenTwiceIsAppliedOnce() throws {
        let node = NodeHarness()
        var book = Tradewire_V1_Command(ringEpoch: 1, requestID: "r", sourceNodeID: "p9", sourceSequence: 7)
        var order = Tradewire_V1_Order(orderID: Tradewire_V1_OrderId(value: "x"), symbol: "ACME", side: .buy, type: .limit)
        order.price = Tradewire_V1_Price(units: 1000, scale: 2)
        order.quantity = Tradewire_V1_Quantity(units: 3, scale: 0)
        book.command = .bookOrder(Tradewire_V1_BookOrderCommand(order: order, orderNodeID: "p9"))
        let first = node.send(book)
        let second = node.send(book)
        #expect(node.answers[first] == nil && node.answers[second] == nil, "the copy waits for the first's commit")
        node.commitAll()
        #expect(node.answers[first]?.duplicate == false && node.answers[second]?.duplicate == true)
        #expect(node.nodes["p1"]!.committed.flatMap(\.inputs).count == 1)
    }

    /// Replaying a book's journaled inputs after its snapshot rebuilds the same book (trade ids, sequences,
    /// resting orders).
    /// A book snapshots after `snapshotEvery` inputs while it is small, and after as many inputs as it held at its
    /// last snapshot once it is larger: a growing book's snapshots come at doubling intervals, so each input pays
    /// for about one resting order's encoding.
    @Test func aLargeBookSnapshotsAsOftenAsItsSizeAllows() {
        let node = NodeHarness(snapshotEvery: 2)
        for index in 0..<20 {
            // Buys at falling prices: every one rests.
            node.send(ProcessorCluster.place(node.orderID("r\(index)", ownedBy: "p1"), symbol: "ACME", side: .buy, price: 1000 - Int64(index), quantity: 1))
            node.settle()
        }
        let positions = node.nodes["p1"]!.committed.flatMap(\.snapshots).map(\.position)
        #expect(positions == [2, 4, 8, 16], "\(positions)")
    }

    @Test func aBookRebuiltFromItsSnapshotAndInputsIsTheSameBook() throws {
        let node = NodeHarness(snapshotEvery: 4)
        for index in 0..<11 {
            let id = node.orderID("o\(index)", ownedBy: "p1")
            node.send(ProcessorCluster.place(id, symbol: "ACME", side: index % 2 == 0 ? .buy : .sell, price: 1000 + Int64(index % 3), quantity: Int64(1 + index % 4)))
            node.settle()
        }
        let written = node.nodes["p1"]!.committed
        let snapshots = written.flatMap(\.snapshots)
        #expect(snapshots.map(\.position) == [4, 8])
        var rebuilt = NodeState(nodeID: "p1", config: node.config) { _ in nil }
        _ = try rebuilt.recover(snapshots: [snapshots.last!], inputs: written.flatMap(\.inputs), outboxHeads: [:], pendingOutbox: [],
                                filled: [], now: node.clock)
        var fromScratch = NodeState(nodeID: "p1", config: node.config) { _ in nil }
        _ = try fromScratch.recover(snapshots: [], inputs: written.flatMap(\.inputs), outboxHeads: [:], pendingOutbox: [],
                                    filled: [], now: node.clock)
        let live = node.nodes["p1"]!.state.books["ACME"]!.snapshot
        #expect(rebuilt.books["ACME"]!.snapshot == live)
        #expect(fromScratch.books["ACME"]!.snapshot == live)
        #expect(live.nextTrade > 1, "the inputs traded")
    }

    /// A restart resends what destinations had not confirmed, in order and from the first, and settles what filled
    /// before it (due by the fill time, not the restart's).
    @Test func recoveryResendsTheUnconfirmedOutboxAndSchedulesDueSettlements() throws {
        let config = ClusterConfig(epoch: 1, nodes: [ClusterNode(id: "p1", address: "127.0.0.1:1"), ClusterNode(id: "p2", address: "127.0.0.1:2")])
        var state = NodeState(nodeID: "p1", config: config) { _ in nil }
        var message = Tradewire_V1_Command(requestID: "r")
        message.command = .bookCancel(Tradewire_V1_BookCancelCommand(symbol: "ACME", orderID: Tradewire_V1_OrderId(value: "x"), orderNodeID: "p1"))
        let pending = (8...10).map { OutboxRecord(destination: "p2", sequence: UInt64($0), payload: message.serializedBytes()) }
        var filled = Tradewire_V1_Order(orderID: Tradewire_V1_OrderId(value: "f"), account: "a", symbol: "ACME")
        filled.status = .filled
        filled.updatedAtUnixNanos = 1_000_000_000_000 - 400_000_000  // 400 ms before the restart
        let row = OrderRow(key: "f", account: "a", symbol: "ACME", status: Tradewire_V1_OrderStatus.filled.rawValue, createdAt: 0, batchID: "",
                           payload: Tradewire_V1_OrderRecord(order: filled).serializedBytes())
        let now = NodeClock(wall: 1_000_000_000_000, monotonic: 5_000_000_000)
        let effects = try state.recover(snapshots: [], inputs: [], outboxHeads: ["p2": 10], pendingOutbox: pending, filled: [row], now: now)
        #expect(effects.sends.map(\.sequence) == [8, 9, 10])
        #expect(effects.sends.allSatisfy { $0.destination == "p2" && $0.command.sourceNodeID == "p1" && $0.command.ringEpoch == 1 })
        // Due 600 ms after the restart, on the settlement grid (at most one step later).
        #expect(effects.timers.contains { timer in
            timer.timer == .settle(orderID: "f") && timer.at % NodeState.settlementStep == 0
                && (now.monotonic + 600_000_000..<now.monotonic + 600_000_000 + NodeState.settlementStep).contains(timer.at)
        })
        #expect(effects.timers.contains { $0.timer == .sweep })
        #expect(throws: NodeState.RecoveryError.self) {
            var again = NodeState(nodeID: "p1", config: config) { _ in nil }
            _ = try again.recover(snapshots: [], inputs: [], outboxHeads: [:], pendingOutbox: [OutboxRecord(destination: "p2", sequence: 0, payload: [])],
                                  filled: [], now: now)
        }
    }

    @Test func aHoleInABooksInputsStopsRecovery() {
        var state = NodeState(nodeID: "p1", config: ClusterConfig(epoch: 1, nodes: [ClusterNode(id: "p1", address: "127.0.0.1:1")])) { _ in nil }
        let input = InputRow(key: "ACME", position: 2, payload: Tradewire_V1_Command().serializedBytes())
        #expect(throws: NodeState.RecoveryError.self) {
            _ = try state.recover(snapshots: [], inputs: [input], outboxHeads: [:], pendingOutbox: [], filled: [],
                                  now: NodeClock(wall: 0, monotonic: 0))
        }
    }

    // MARK: - Outbox

    @Test func aFailedDeliveryIsResentInOrderAndConfirmationsAreJournaledLazily() throws {
        let node = NodeHarness(nodes: ["p1", "p2"])
        let symbol = node.symbol(ownedBy: "p2")
        let ids = (0..<3).map { node.orderID("o\($0)", ownedBy: "p1") }
        for id in ids { node.send(ProcessorCluster.place(id, symbol: symbol, side: .buy, price: 1000, quantity: 1)) }
        node.decideRisk()
        node.commitAll()
        #expect(node.nodes["p1"]!.sends.map(\.sequence) == [1, 2, 3])
        node.nodes["p1"]!.sends = []
        node.run("p1", [.delivered(destination: "p2", sequence: 2, .failure(RPCError(code: .unavailable, message: "reset")))])
        node.run("p1", [.delivered(destination: "p2", sequence: 1, .success(Tradewire_V1_Ack()))])
        node.run("p1", [.delivered(destination: "p2", sequence: 3, .failure(RPCError(code: .unavailable, message: "reset")))])
        #expect(node.nodes["p1"]!.sends.isEmpty, "nothing goes out before the backoff")
        let retry = try #require(node.nodes["p1"]!.timers.first { $0.timer == .retry(destination: "p2") })
        node.advance(milliseconds: Int((retry.at - node.clock.monotonic) / 1_000_000) + 1)
        #expect(node.nodes["p1"]!.sends.map(\.sequence) == [2, 3], "resent from the first unconfirmed")

        // Sequence 1's confirmation: journaled alone once the confirmation delay passed with no other write.
        #expect(node.nodes["p1"]!.writes.isEmpty)
        node.advance(milliseconds: 100)
        let write = try #require(node.nodes["p1"]!.writes.first)
        #expect(write.delivered == ["p2": 1] && write.events.isEmpty)
    }

    // MARK: - Duplicates, ownership, deadlines

    @Test func aRetriedPlaceIsADuplicateAndADifferentOneAConflict() {
        let node = NodeHarness()
        let id = node.orderID("o", ownedBy: "p1")
        node.send(ProcessorCluster.place(id, symbol: "ACME", side: .buy, price: 1000, quantity: 5))
        let retried = node.send(ProcessorCluster.place(id, symbol: "ACME", side: .buy, price: 1000, quantity: 5))
        node.decideRisk()
        #expect(node.answers[retried] == nil, "a retry waits for the first's outcome")
        node.commitAll()
        #expect(node.answers[retried]?.duplicate == true && node.order(retried)?.status == .accepted)
        let conflict = node.send(ProcessorCluster.place(id, symbol: "ACME", side: .buy, price: 1001, quantity: 5))
        #expect(node.code(conflict) == .alreadyExists)
    }

    @Test func commandsForAnotherNodesOrdersAreAnsweredNotOwner() {
        let node = NodeHarness(nodes: ["p1", "p2"])
        let theirs = node.orderID("o", ownedBy: "p2")
        let token = node.send(ProcessorCluster.place(theirs, symbol: "ACME", side: .buy, price: 1000, quantity: 5), to: "p1")
        guard case .notOwner(let owner) = node.answers[token]?.result else { Issue.record("not NotOwner"); return }
        #expect(owner.ownerNodeID == "p2" && owner.ownerAddress == "127.0.0.1:7102" && owner.ringEpoch == 1)

        var newer = ProcessorCluster.place(node.orderID("n", ownedBy: "p1"), symbol: "ACME", side: .buy, price: 1000, quantity: 5)
        newer.ringEpoch = 2
        #expect(node.code(node.send(newer, to: "p1")) == .failedPrecondition)
        #expect(node.nodes["p1"]!.checks.isEmpty)
    }

    @Test func aCommandPastItsDeadlineIsRefusedBeforeItChangesAnything() {
        let node = NodeHarness()
        var command = ProcessorCluster.place(node.orderID("o", ownedBy: "p1"), symbol: "ACME", side: .buy, price: 1000, quantity: 5)
        command.deadlineUnixNanos = node.clock.wall - 1
        #expect(node.code(node.send(command)) == .deadlineExceeded)
        command.deadlineUnixNanos = node.clock.wall + 1
        node.send(command)
        #expect(node.nodes["p1"]!.checks.count == 1)
    }

    // MARK: - Passivation and failure

    @Test func doneAndIdleOrdersLeaveMemoryAndComeBackFromTheirRows() {
        let node = NodeHarness(passivateAfterMilliseconds: 1000)
        let rejected = node.orderID("r", ownedBy: "p1")
        let resting = node.orderID("a", ownedBy: "p1")
        node.send(ProcessorCluster.place(rejected, symbol: "ACME", side: .buy, price: 1000, quantity: 5))
        node.decideRisk { _ in .rejected(.maxOrderQuantity, "above 4") }
        node.commitAll()
        #expect(node.nodes["p1"]!.state.orders[rejected] == nil, "a terminal order leaves with its last commit")

        node.send(ProcessorCluster.place(resting, symbol: "ACME", side: .buy, price: 1000, quantity: 1))
        node.settle()
        #expect(node.nodes["p1"]!.state.orders[resting] != nil)
        node.advance(milliseconds: 600)
        #expect(node.nodes["p1"]!.state.orders[resting] != nil, "not idle long enough")
        node.advance(milliseconds: 600)
        #expect(node.nodes["p1"]!.state.orders[resting] == nil)

        let cancelled = node.send(ProcessorCluster.cancel(resting))
        node.settle()
        #expect(node.order(cancelled)?.status == .pendingCancel || node.order(cancelled)?.status == .cancelled)
        #expect(node.current(resting)?.status == .cancelled)
        #expect(node.current(resting)?.version == 4, "the version counts on from the row")
    }

    @Test func aFailedCommitAcknowledgesNothing() {
        let node = NodeHarness()
        let id = node.orderID("o", ownedBy: "p1")
        let token = node.send(ProcessorCluster.place(id, symbol: "ACME", side: .buy, price: 1000, quantity: 5))
        node.decideRisk()
        node.failOne()
        #expect(node.answers[token] == nil)
        #expect(node.nodes["p1"]!.sends.isEmpty, "nothing of it leaves the node")
    }
}

/// The node-core benchmark's flow (``NodeCoreLoop``) still does what its figures claim: every request answered, one
/// trade per round.
@Suite struct NodeCoreLoopTests {
    @Test func theBenchmarkFlowAnswersEveryRequestAndTradesOncePerRound() {
        let summary = NodeCoreLoop.run(rounds: 3)
        #expect(summary.replies == 12 && summary.filled == 3 && summary.ranAsDesigned)
        #expect(summary.writes >= 9, "each request's change commits (place, replace, cancel and settlement writes)")
    }
}
