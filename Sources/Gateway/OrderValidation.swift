import EventLoop
import Orders
import Cluster
public import Protos
public import RPC

/// What the gateway checks before an order reaches the cluster: the order's own fields and the instrument's
/// rules (trading, tick, lot, min/max quantity, max price, price band around the reference price, LIMIT needs a
/// price, MARKET has none and is IOC or FOK). Every violation is listed, so a client fixes them all at once:
/// an unknown symbol does not hide what is wrong with the rest.
public enum OrderValidation {
    public typealias Violation = Google_Rpc_BadRequest.FieldViolation

    /// The violations of `order` (empty: valid). `field` prefixes each field path ("order", "orders[3]").
    public static func violations(_ order: Tradewire_V1_NewOrder, field: String, table: InstrumentTable,
                                  now: Int64 = WallClock.now()) -> [Violation] {
        var found: [Violation] = []
        func add(_ name: String, _ text: String) { found.append(Violation(field: "\(field).\(name)", description_p: text)) }

        if !isPrintableToken(order.clientOrderID, maxBytes: 64, allowEmpty: true) {
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

        let listed = table.lookup(order.symbol)
        if let (instrument, _) = listed {
            if instrument.status != .trading {
                add("symbol", "\(order.symbol) is not trading (\(instrument.status == .halted ? "halted" : "closed"))")
            }
        } else {
            add("symbol", order.symbol.isEmpty ? "is required" : "\(Echo.quote(order.symbol)) is not a listed instrument")
        }
        if order.type == .limit, let price = order.price {
            if let instrument = listed?.instrument {
                let problems = violations(of: price, instrument)
                problems.forEach { add("price", $0) }
                if problems.isEmpty, let band = bandViolation(order, table: table, now: now) { add("price", band) }
            } else if price.units <= 0 {
                add("price", "must be positive")
            }
        }
        if let quantity = order.quantity {
            if let instrument = listed?.instrument {
                violations(of: quantity, instrument).forEach { add("quantity", $0) }
            } else if quantity.units <= 0 {
                add("quantity", "must be positive")
            }
        } else {
            add("quantity", "is required")
        }
        return found
    }

    /// Why a valid order cannot be checked now (nil: it can): its price band or a MARKET order's protection needs
    /// the instrument's reference price, and none fresh enough is known. Not the client's fault: the gateway
    /// answers UNAVAILABLE, and a retry is safe (nothing reached a node).
    public static func referenceProblem(_ order: Tradewire_V1_NewOrder, table: InstrumentTable, now: Int64 = WallClock.now()) -> String? {
        guard let (instrument, reference) = table.lookup(order.symbol) else { return nil }
        let needsReference = order.type == .market || instrument.priceBandBps > 0
        guard needsReference else { return nil }
        guard let reference else {
            return "no reference price for \(order.symbol) yet: its \(order.type == .market ? "MARKET protection" : "price band") cannot be checked"
        }
        guard reference.isFresh(now: now, maxAge: table.referenceMaxAge) else {
            let age = (now &- reference.at) / 1_000_000
            return "the reference price for \(order.symbol) is \(age) ms old, older than \(table.referenceMaxAge / 1_000_000) ms (market data is not keeping it current): orders that need it are refused until it is"
        }
        return nil
    }

    private static func violations(of price: Tradewire_V1_Price, _ instrument: Tradewire_V1_Instrument) -> [String] {
        guard price.scale == instrument.priceScale else {
            return ["scale \(price.scale) is not \(instrument.symbol)'s price scale \(instrument.priceScale)"]
        }
        guard price.units > 0 else { return ["must be positive"] }
        func text(_ units: Int64) -> String { FixedPoint.text(units: units, scale: price.scale) }
        let maximum = instrument.maxima.price
        guard price.units <= maximum else { return ["\(text(price.units)) is above the maximum price \(text(maximum))"] }
        var found: [String] = []
        if let tick = instrument.tickSize?.units, tick > 0, price.units % tick != 0 {
            found.append("\(text(price.units)) is not a multiple of the tick size \(text(tick))")
        }
        return found
    }

    /// The band check against a fresh reference (without one, `referenceProblem` refuses the order).
    private static func bandViolation(_ order: Tradewire_V1_NewOrder, table: InstrumentTable, now: Int64) -> String? {
        guard order.type == .limit, let price = order.price, let (instrument, reference) = table.lookup(order.symbol),
              let reference, reference.isFresh(now: now, maxAge: table.referenceMaxAge), instrument.priceBandBps > 0,
              price.scale == instrument.priceScale
        else { return nil }
        // |price − reference| ≤ reference × band / 10,000, in 128 bits so no price overflows.
        let distance = Int128(price.units) - Int128(reference.units)
        guard distance.magnitude * 10_000 > UInt128(reference.units) * UInt128(instrument.priceBandBps) else { return nil }
        let band = Double(instrument.priceBandBps) / 100
        return "\(FixedPoint.text(units: price.units, scale: price.scale)) is more than \(band)% from the reference price \(FixedPoint.text(units: reference.units, scale: price.scale))"
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
        let maximum = instrument.maxima.quantity
        if quantity.units > maximum {
            found.append("\(text(quantity.units)) is above the maximum \(text(maximum))")
        }
        return found
    }

    /// The order as the cluster gets it: the fields this schema knows and nothing else. A client's unknown fields
    /// (which the codec keeps) are not forwarded into a node's command stream, whose messages every client
    /// shares.
    public static func canonical(_ order: Tradewire_V1_NewOrder) -> Tradewire_V1_NewOrder {
        Tradewire_V1_NewOrder(
            clientOrderID: order.clientOrderID, symbol: order.symbol, side: order.side, type: order.type, timeInForce: order.timeInForce,
            price: order.price.map(canonical), quantity: order.quantity.map(canonical))
    }

    public static func canonical(_ price: Tradewire_V1_Price) -> Tradewire_V1_Price { Tradewire_V1_Price(units: price.units, scale: price.scale) }

    public static func canonical(_ quantity: Tradewire_V1_Quantity) -> Tradewire_V1_Quantity {
        Tradewire_V1_Quantity(units: quantity.units, scale: quantity.scale)
    }

    /// Whether `text` is printable ASCII without spaces, at most `maxBytes` long: ``OrderBounds/isIdentifier(_:maxBytes:)``
    /// (the nodes' rule, checked over contiguous bytes), or empty where `allowEmpty`.
    public static func isPrintableToken(_ text: String, maxBytes: Int, allowEmpty: Bool = false) -> Bool {
        text.isEmpty ? allowEmpty : OrderBounds.isIdentifier(text, maxBytes: maxBytes)
    }

    /// INVALID_ARGUMENT with `violations` as google.rpc.BadRequest details.
    public static func error(_ violations: [Violation]) -> RPCError {
        let message = violations.map { "\($0.field): \($0.description_p)" }.joined(separator: "; ")
        return RPCError.withDetails(code: .invalidArgument, message: "invalid order: \(message)",
                                    Google_Rpc_BadRequest(fieldViolations: violations))
    }
}
