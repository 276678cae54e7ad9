import Cluster
import HashRing
import Orders
import Protos

/// One order's actor, a value inside its node's ``NodeState``: its state machine and what it needs to answer
/// commands and journal changes. An actor that waits for risk keeps the messages that arrive meanwhile in its
/// mailbox and handles them in order afterwards.
///
/// Kept small on purpose (a million live orders must fit in a few GiB): the order's identity, fixed-point
/// numbers, the `OrderState`, and bookkeeping. Everything else is rebuilt for reports.
struct OrderActor {
    /// A message that waits in the mailbox.
    enum Message {
        case command(Tradewire_V1_Command, ReplyToken)
        case settle
    }

    let id: String
    let account: String
    let clientOrderID: String
    let symbol: String
    let batchID: String
    // Enums and scales as bytes: a million live orders must fit in a few GiB.
    private let sideValue: UInt8
    private let typeValue: UInt8
    private let timeInForceValue: UInt8
    private var rejectReasonValue: UInt8 = 0
    /// A MARKET order's protection price from risk (units at the price scale); nil for LIMIT orders.
    private(set) var protectionPrice: Int64?

    /// Sets a MARKET order's protection price; its scale (the instrument's, which the order itself does not carry)
    /// becomes the order's price scale. The scale is at most `OrderBounds.maxInstrumentScale`.
    mutating func protect(at price: Tradewire_V1_Price) {
        protectionPrice = price.units
        priceScaleValue = UInt8(truncatingIfNeeded: price.scale)
    }
    private var priceScaleValue: UInt8
    private let quantityScaleValue: UInt8
    var state: OrderState {
        didSet { if state.status != oldValue.status { NodeMetrics.shared.moved(from: oldValue.status, to: state.status) } }
    }
    let createdAt: Int64
    var updatedAt: Int64
    /// Bumped by every journaled change.
    var version: UInt64 = 0
    /// Identifies the place request, for telling a retry from a conflicting reuse of the client order id.
    let requestHash: UInt64
    /// The last node-to-node update applied (source node, its outbox sequence): later copies are duplicates.
    var inboundSource = ""
    var inboundSequence: UInt64 = 0

    /// Messages that arrived while the actor waited for risk, in arrival order.
    var mailbox: [Message] = []
    var awaitingRisk = false
    /// Journal writes queued and not yet committed: the actor may leave memory only at 0.
    var uncommitted: Int32 = 0
    /// Monotonic nanoseconds of the last message (for idle passivation).
    var lastUsed: UInt64 = 0

    var side: Tradewire_V1_Side { Tradewire_V1_Side(rawValue: Int32(sideValue)) }
    var type: Tradewire_V1_OrderType { Tradewire_V1_OrderType(rawValue: Int32(typeValue)) }
    var timeInForce: Tradewire_V1_TimeInForce { Tradewire_V1_TimeInForce(rawValue: Int32(timeInForceValue)) }
    var priceScale: UInt32 { UInt32(priceScaleValue) }
    var quantityScale: UInt32 { UInt32(quantityScaleValue) }
    var rejectReason: Tradewire_V1_RejectReason {
        get { Tradewire_V1_RejectReason(rawValue: Int32(rejectReasonValue)) }
        set { rejectReasonValue = UInt8(truncatingIfNeeded: newValue.rawValue) }
    }

    private init(id: String, account: String, clientOrderID: String, symbol: String, batchID: String,
                 side: Tradewire_V1_Side, type: Tradewire_V1_OrderType, timeInForce: Tradewire_V1_TimeInForce,
                 price: Tradewire_V1_Price?, quantity: Tradewire_V1_Quantity?, state: OrderState, createdAt: Int64,
                 updatedAt: Int64, requestHash: UInt64)
    {
        self.id = id
        self.account = account
        self.clientOrderID = clientOrderID
        self.symbol = symbol
        self.batchID = batchID
        sideValue = UInt8(truncatingIfNeeded: side.rawValue)
        typeValue = UInt8(truncatingIfNeeded: type.rawValue)
        timeInForceValue = UInt8(truncatingIfNeeded: timeInForce.rawValue)
        priceScaleValue = UInt8(truncatingIfNeeded: price?.scale ?? 0)
        quantityScaleValue = UInt8(truncatingIfNeeded: quantity?.scale ?? 0)
        self.state = state
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.requestHash = requestHash
    }

    /// A new order's actor, in NEW.
    init(place: Tradewire_V1_PlaceCommand, requestHash: UInt64, now: Int64) {
        let order = place.order ?? Tradewire_V1_NewOrder()
        self.init(
            id: place.orderID?.value ?? "", account: place.account, clientOrderID: order.clientOrderID, symbol: order.symbol,
            batchID: place.batchID, side: order.side, type: order.type, timeInForce: order.timeInForce, price: order.price,
            quantity: order.quantity,
            state: OrderState(quantity: order.quantity?.units ?? 0, price: order.type == .limit ? order.price?.units : nil),
            createdAt: now, updatedAt: now, requestHash: requestHash)
    }

    /// An actor back from its journal row.
    init(record: Tradewire_V1_OrderRecord) {
        let order = record.order ?? Tradewire_V1_Order()
        self.init(
            id: order.orderID?.value ?? "", account: order.account, clientOrderID: order.clientOrderID, symbol: order.symbol,
            batchID: order.batchID, side: order.side, type: order.type, timeInForce: order.timeInForce, price: order.price,
            quantity: order.quantity,
            state: OrderState(
                status: OrderStatus(order.status), quantity: order.quantity?.units ?? 0, price: order.price?.units,
                filled: order.filledQuantity?.units ?? 0, filledNotional: order.filledNotional?.units ?? 0,
                rejectReason: order.rejectText.isEmpty ? nil : order.rejectText,
                pendingReplace: order.pendingQuantity.flatMap { quantity in
                    order.pendingPrice.map { OrderState.PendingReplace(quantity: quantity.units, price: $0.units) }
                }),
            createdAt: order.createdAtUnixNanos, updatedAt: order.updatedAtUnixNanos, requestHash: record.requestHash)
        rejectReason = order.rejectReason
        if let protection = order.protectionPrice { protect(at: protection) }
        version = order.version
        inboundSource = record.inboundSource
        inboundSequence = record.inboundSequence
    }

    /// The hash that identifies a place request: its account and order fields (not the batch or the key).
    static func requestHash(_ place: Tradewire_V1_PlaceCommand) -> UInt64 {
        let bytes = Tradewire_V1_PlaceCommand(account: place.account, order: place.order).serializedBytes()
        return bytes.withUnsafeBytes { HashRing<String>.hash($0) }
    }

    var isIdle: Bool { !awaitingRisk && mailbox.isEmpty && uncommitted == 0 }

    // MARK: - Views

    var order: Tradewire_V1_Order {
        var order = Tradewire_V1_Order()
        order.orderID = Tradewire_V1_OrderId(value: id)
        order.account = account
        order.clientOrderID = clientOrderID
        order.symbol = symbol
        order.side = side
        order.type = type
        order.timeInForce = timeInForce
        if let price = state.price { order.price = Tradewire_V1_Price(units: price, scale: priceScale) }
        order.quantity = quantity(state.quantity)
        order.status = Tradewire_V1_OrderStatus(state.status)
        order.filledQuantity = quantity(state.filled)
        order.leavesQuantity = quantity(state.leaves)
        order.filledNotional = Tradewire_V1_Money(units: state.filledNotional, scale: priceScale + quantityScale)
        order.averagePrice = averagePrice
        order.rejectReason = rejectReason
        order.rejectText = state.rejectReason ?? ""
        order.createdAtUnixNanos = createdAt
        order.updatedAtUnixNanos = updatedAt
        order.version = version
        order.batchID = batchID
        if let pending = state.pendingReplace {
            order.pendingPrice = Tradewire_V1_Price(units: pending.price, scale: priceScale)
            order.pendingQuantity = quantity(pending.quantity)
        }
        if let protectionPrice { order.protectionPrice = Tradewire_V1_Price(units: protectionPrice, scale: priceScale) }
        return order
    }

    private func quantity(_ units: Int64) -> Tradewire_V1_Quantity { Tradewire_V1_Quantity(units: units, scale: quantityScale) }

    /// FIX AvgPx as a decimal string with the price's scale ("101.25"); empty before the first fill.
    var averagePrice: String {
        guard state.filled > 0 else { return "" }
        // notional (at priceScale + quantityScale) ÷ filled (at quantityScale) has scale priceScale.
        let average = try? FixedPoint(units: state.filledNotional, scale: priceScale).divided(by: state.filled, rounding: .halfAwayFromZero)
        return average?.description ?? ""
    }

    /// An execution report of this order as it is now; `averagePrice` is ``averagePrice`` (a caller that has the order
    /// as a message takes it from there instead of dividing again).
    func report(_ execType: Tradewire_V1_ExecType, node: String, requestID: String, averagePrice: String)
        -> Tradewire_V1_ExecutionReport
    {
        var report = Tradewire_V1_ExecutionReport()
        report.orderID = Tradewire_V1_OrderId(value: id)
        report.clientOrderID = clientOrderID
        report.account = account
        report.symbol = symbol
        report.side = side
        report.execType = execType
        report.orderStatus = Tradewire_V1_OrderStatus(state.status)
        report.fixExecType = FIX.execType(execType)
        report.fixOrdStatus = state.pendingReplace != nil && !state.status.isTerminal && state.status != .filled
            ? "E" : FIX.ordStatus(state.status)
        report.cumulativeQuantity = quantity(state.filled)
        report.leavesQuantity = quantity(state.leaves)
        report.averagePrice = averagePrice
        if let price = state.price { report.price = Tradewire_V1_Price(units: price, scale: priceScale) }
        report.orderQuantity = quantity(state.quantity)
        report.rejectReason = rejectReason
        report.text = state.rejectReason ?? ""
        report.transactTimeUnixNanos = updatedAt
        report.correlationID = requestID
        return report
    }
}
