import Processor
public import Protos
public import RPC

/// What the gateway checks before an order reaches the cluster: the order's own fields and the instrument's
/// rules (trading, tick, lot, min/max quantity, price band around the reference price, LIMIT needs a price,
/// MARKET has none and is IOC or FOK). Every violation is listed, so a client fixes them all at once.
public enum OrderValidation {
    public typealias Violation = Google_Rpc_BadRequest.FieldViolation

    /// The violations of `order` (empty: valid). `field` prefixes each field path ("order", "orders[3]").
    public static func violations(_ order: Tradewire_V1_NewOrder, field: String, table: InstrumentTable) -> [Violation] {
        var found: [Violation] = []
        func add(_ name: String, _ text: String) { found.append(Violation(field: "\(field).\(name)", description_p: text)) }

        let clientOrderID = order.clientOrderID.utf8
        if clientOrderID.count > 64 || !clientOrderID.allSatisfy({ (0x21...0x7e).contains($0) }) {
            add("client_order_id", "must be at most 64 printable ASCII characters without spaces")
        }
        if order.side != .buy && order.side != .sell { add("side", "must be SIDE_BUY or SIDE_SELL") }
        switch (order.type, order.timeInForce) {
        case (.limit, .gtc), (.limit, .ioc), (.limit, .fok), (.market, .ioc), (.market, .fok): break
        case (.market, .gtc): add("time_in_force", "a MARKET order is IOC or FOK")
        case (.limit, _), (.market, _): add("time_in_force", "must be GTC, IOC or FOK")
        default: add("type", "must be ORDER_TYPE_LIMIT or ORDER_TYPE_MARKET")
        }
        if order.type == .market && order.price != nil { add("price", "a MARKET order has no price") }
        if order.type == .limit && order.price == nil { add("price", "a LIMIT order needs a price") }

        guard let (instrument, reference) = table.lookup(order.symbol) else {
            add("symbol", order.symbol.isEmpty ? "is required" : "\(order.symbol) is not a listed instrument")
            return found
        }
        if instrument.status != .trading {
            add("symbol", "\(order.symbol) is not trading (\(instrument.status == .halted ? "halted" : "closed"))")
        }
        if order.type == .limit, let price = order.price {
            violations(of: price, instrument, reference: reference, side: order.side).forEach { add("price", $0) }
        }
        guard let quantity = order.quantity else {
            add("quantity", "is required")
            return found
        }
        violations(of: quantity, instrument).forEach { add("quantity", $0) }
        return found
    }

    private static func violations(of price: Tradewire_V1_Price, _ instrument: Tradewire_V1_Instrument, reference: Int64?,
                                   side: Tradewire_V1_Side) -> [String]
    {
        guard price.scale == instrument.priceScale else {
            return ["scale \(price.scale) is not \(instrument.symbol)'s price scale \(instrument.priceScale)"]
        }
        guard price.units > 0 else { return ["must be positive"] }
        func text(_ units: Int64) -> String { FixedPoint.text(units: units, scale: price.scale) }
        var found: [String] = []
        if let tick = instrument.tickSize?.units, tick > 0, price.units % tick != 0 {
            found.append("\(text(price.units)) is not a multiple of the tick size \(text(tick))")
        }
        if let reference, instrument.priceBandBps > 0 {
            // |price − reference| ≤ reference × band / 10,000, in 128 bits so no price overflows.
            let distance = Int128(price.units) - Int128(reference)
            if distance.magnitude * 10_000 > UInt128(reference) * UInt128(instrument.priceBandBps) {
                let band = Double(instrument.priceBandBps) / 100
                found.append("\(text(price.units)) is more than \(band)% from the reference price \(text(reference))")
            }
        }
        return found
    }

    private static func violations(of quantity: Tradewire_V1_Quantity, _ instrument: Tradewire_V1_Instrument) -> [String] {
        guard quantity.scale == instrument.quantityScale else {
            return ["scale \(quantity.scale) is not \(instrument.symbol)'s quantity scale \(instrument.quantityScale)"]
        }
        guard quantity.units > 0 else { return ["must be positive"] }
        func text(_ units: Int64) -> String { FixedPoint.text(units: units, scale: quantity.scale) }
        var found: [String] = []
        if let lot = instrument.lotSize?.units, lot > 0, quantity.units % lot != 0 {
            found.append("\(text(quantity.units)) is not a multiple of the lot size \(text(lot))")
        }
        if let minimum = instrument.minQuantity?.units, quantity.units < minimum {
            found.append("\(text(quantity.units)) is below the minimum \(text(minimum))")
        }
        if let maximum = instrument.maxQuantity?.units, maximum > 0, quantity.units > maximum {
            found.append("\(text(quantity.units)) is above the maximum \(text(maximum))")
        }
        return found
    }

    /// INVALID_ARGUMENT with `violations` as google.rpc.BadRequest details.
    public static func error(_ violations: [Violation]) -> RPCError {
        let message = violations.map { "\($0.field): \($0.description_p)" }.joined(separator: "; ")
        return RPCError.withDetails(code: .invalidArgument, message: "invalid order: \(message)",
                                    Google_Rpc_BadRequest(fieldViolations: violations))
    }
}
