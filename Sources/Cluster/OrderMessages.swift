public import Orders
public import Protos

/// FIX 4.4 codes for execution reports.
package enum FIX {
    package static func execType(_ type: Tradewire_V1_ExecType) -> String {
        switch type {
        case .new: "0"
        case .trade: "F"
        case .canceled: "4"
        case .replaced: "5"
        case .pendingCancel: "6"
        case .pendingReplace: "E"
        case .rejected: "8"
        case .pendingNew: "A"
        case .orderStatus, .settled: "I"
        default: ""
        }
    }

    package static func ordStatus(_ status: OrderStatus) -> String {
        switch status {
        case .new: "A"
        case .accepted: "0"
        case .partiallyFilled: "1"
        case .filled, .settled: "2"
        case .cancelled: "4"
        case .pendingCancel: "6"
        case .rejected: "8"
        }
    }
}

extension Tradewire_V1_OrderStatus {
    package init(_ status: OrderStatus) {
        self = switch status {
        case .new: .new
        case .accepted: .accepted
        case .partiallyFilled: .partiallyFilled
        case .filled: .filled
        case .settled: .settled
        case .rejected: .rejected
        case .pendingCancel: .pendingCancel
        case .cancelled: .cancelled
        }
    }
}

extension OrderStatus {
    package init(_ status: Tradewire_V1_OrderStatus) {
        self = switch status {
        case .accepted: .accepted
        case .partiallyFilled: .partiallyFilled
        case .filled: .filled
        case .settled: .settled
        case .rejected: .rejected
        case .pendingCancel: .pendingCancel
        case .cancelled: .cancelled
        default: .new
        }
    }
}

extension Tradewire_V1_ExecutionReport {
    /// A report of `order` as it is (no fill in it): what a gateway answers for a request that changed nothing
    /// (ORDER_STATUS) or that it refused itself (REJECTED).
    public init(_ order: Tradewire_V1_Order, execType: Tradewire_V1_ExecType) {
        self.init()
        orderID = order.orderID
        clientOrderID = order.clientOrderID
        account = order.account
        symbol = order.symbol
        side = order.side
        self.execType = execType
        orderStatus = order.status
        fixExecType = FIX.execType(execType)
        fixOrdStatus = FIX.ordStatus(OrderStatus(order.status))
        cumulativeQuantity = order.filledQuantity
        leavesQuantity = order.leavesQuantity
        averagePrice = order.averagePrice
        price = order.price
        orderQuantity = order.quantity
        rejectReason = order.rejectReason
        text = order.rejectText
        transactTimeUnixNanos = order.updatedAtUnixNanos
    }
}

extension Tradewire_V1_RejectReason {
    /// The value's name in proto/ ("REJECT_REASON_MAX_POSITION"): what google.rpc.ErrorInfo.reason carries.
    public var name: String {
        if case .unrecognized(let value) = self { return "REJECT_REASON_\(value)" }
        return Self.names[self] ?? Self.spelled(self)
    }

    /// The value named `name`, if it is one.
    public init?(name: String) {
        guard let value = Self.values[name] else { return nil }
        self = value
    }

    /// Both ways, spelled once: a cancel that comes too late is refused by name on the hot path.
    private static let names = Dictionary(uniqueKeysWithValues: allCases.map { ($0, spelled($0)) })
    private static let values = Dictionary(uniqueKeysWithValues: allCases.map { (spelled($0), $0) })

    private static func spelled(_ value: Self) -> String {
        var name = "REJECT_REASON_"
        for character in String(describing: value) {
            if character.isUppercase { name.append("_") }
            name += character.uppercased()
        }
        return name
    }
}
