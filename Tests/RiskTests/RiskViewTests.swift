import Cluster
import Protos
@testable import Risk
import Testing

/// Tests build events as a node journals them (whole `Event`s); the engine reads them as the service does, through
/// risk's view of the same bytes.
extension RiskEngine {
    mutating func apply(node: String, _ events: [Tradewire_V1_Event], now: Int64) {
        apply(node: node, events.map { try! Tradewire_V1_EventRiskView(serializedBytes: $0.serializedBytes()) }, now: now)
    }
}

struct RiskViewTests {
    /// Every field risk's view names reads what the node wrote (same numbers, same wire types), and a whole batch
    /// reads with its progress fields.
    @Test func theViewReadsWhatTheNodeWrote() throws {
        let order = Tradewire_V1_Order(
            orderID: Tradewire_V1_OrderId(value: "o-1"), account: "acct", clientOrderID: "c-1", symbol: "ACME", side: .sell, type: .market,
            timeInForce: .ioc, price: Tradewire_V1_Price(units: 101, scale: 2), quantity: Tradewire_V1_Quantity(units: 7, scale: 1),
            status: .partiallyFilled, filledQuantity: Tradewire_V1_Quantity(units: 3, scale: 1), leavesQuantity: Tradewire_V1_Quantity(units: 4, scale: 1),
            filledNotional: Tradewire_V1_Money(units: 303, scale: 3, currency: "USD"), averagePrice: "1.01", rejectReason: .priceBand,
            rejectText: "x", createdAtUnixNanos: 5, updatedAtUnixNanos: 6, version: 9, batchID: "b",
            pendingPrice: Tradewire_V1_Price(units: 102, scale: 2), pendingQuantity: Tradewire_V1_Quantity(units: 8, scale: 1),
            protectionPrice: Tradewire_V1_Price(units: 95, scale: 2))
        let report = Tradewire_V1_ExecutionReport(
            execID: "p1-4", orderID: order.orderID, account: "acct", symbol: "ACME", execType: .trade, orderStatus: .partiallyFilled,
            lastQuantity: Tradewire_V1_Quantity(units: 3, scale: 1), lastPrice: Tradewire_V1_Price(units: 101, scale: 2), text: "t", tradeID: "ACME-1")
        var event = Tradewire_V1_Event(sequence: 4, nodeID: "p1", committedAtUnixNanos: 77, requestID: "r")
        event.event = .order(Tradewire_V1_OrderEvent(report: report, order: order))
        let batch = Tradewire_V1_EventBatch(events: [event], headSequence: 10, sentAtUnixNanos: 88, throughSequence: 4)
        let view = try Tradewire_V1_EventBatchRiskView(serializedBytes: batch.serializedBytes())
        #expect(view.headSequence == 10 && view.sentAtUnixNanos == 88 && view.throughSequence == 4)
        #expect(view.lastEvent?.sequence == 4 && view.lastEvent?.committedAt == 77)
        let read = try #require(view.events.first?.order)
        #expect(read.report?.execType == .trade && read.report?.lastQuantity == report.lastQuantity && read.report?.lastPrice == report.lastPrice)
        let seen = try #require(read.order)
        #expect(seen.orderID == order.orderID && seen.account == order.account && seen.symbol == order.symbol && seen.side == order.side)
        #expect(seen.type == order.type && seen.price == order.price && seen.quantity == order.quantity && seen.status == order.status)
        #expect(seen.filledQuantity == order.filledQuantity && seen.leavesQuantity == order.leavesQuantity && seen.version == order.version)
        #expect(seen.pendingPrice == order.pendingPrice && seen.pendingQuantity == order.pendingQuantity)
        #expect(seen.protectionPrice == order.protectionPrice)
        #expect(seen.unknownFields.isEmpty && read.unknownFields.isEmpty)  // a view keeps nothing it does not name
    }
}
