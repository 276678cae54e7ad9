import Processor
import Protos
import ServiceStubs

/// A PlaceOrders batch's totals: orders by outcome, filled quantity and value per symbol, and the P&L (sells
/// minus buys at fill prices) against what the client expected. Sums are exact: Int128 at the finest scale in
/// the batch.
struct Reconciliation {
    let orders: [Tradewire_V1_Order]
    let instruments: InstrumentTable

    func response(batchID: String, expected: Tradewire_V1_Money?) throws(RPCError) -> Tradewire_V1_ReconcileResponse {
        var response = Tradewire_V1_ReconcileResponse(batchID: batchID, totalOrders: UInt32(orders.count))
        for order in orders {
            switch order.status {
            case .filled, .settled: response.filledOrders += 1
            case .partiallyFilled: response.partiallyFilledOrders += 1
            case .new, .accepted, .pendingCancel: response.pendingOrders += 1
            case .cancelled: response.cancelledOrders += 1
            case .rejected: response.rejectedOrders += 1
            default: break
            }
        }
        var bySymbol: [String: (quantity: Int64, quantityScale: UInt32, value: Int128, valueScale: UInt32)] = [:]
        var pnl = Sum()
        var currency = ""
        for order in orders where (order.filledQuantity?.units ?? 0) > 0 {
            let notional = order.filledNotional ?? Tradewire_V1_Money()
            let quote = instruments.lookup(order.symbol)?.instrument.quoteCurrency ?? notional.currency
            if currency.isEmpty { currency = quote }
            guard quote == currency else {
                throw RPCError(code: .failedPrecondition, message: "batch \(batchID) trades in \(currency) and \(quote): no single P&L")
            }
            var totals = bySymbol[order.symbol] ?? (0, order.filledQuantity?.scale ?? 0, 0, notional.scale)
            totals.quantity += order.filledQuantity?.units ?? 0
            totals.value += Int128(notional.units)
            bySymbol[order.symbol] = totals
            pnl.add(order.side == .sell ? Int128(notional.units) : -Int128(notional.units), scale: notional.scale)
        }
        response.symbols = bySymbol.sorted { $0.key < $1.key }.map { symbol, totals in
            Tradewire_V1_SymbolTotals(
                symbol: symbol, filledQuantity: Tradewire_V1_Quantity(units: totals.quantity, scale: totals.quantityScale),
                filledValue: Tradewire_V1_Money(units: Int64(clamping: totals.value), scale: totals.valueScale, currency: currency))
        }
        response.actualPnl = Tradewire_V1_Money(units: Int64(clamping: pnl.units), scale: pnl.scale, currency: currency)
        if let expected {
            response.expectedPnl = expected
            var difference = pnl
            difference.add(-Int128(expected.units), scale: expected.scale)
            response.pnlMatches = difference.units == 0 && (expected.currency.isEmpty || currency.isEmpty || expected.currency == currency)
        }
        return response
    }

    /// A sum of fixed-point amounts, kept at the finest scale added so far.
    struct Sum {
        var units: Int128 = 0
        var scale: UInt32 = 0

        mutating func add(_ amount: Int128, scale amountScale: UInt32) {
            var amount = amount
            if amountScale > scale {
                units *= Self.power(amountScale - scale)
                scale = amountScale
            } else {
                amount *= Self.power(scale - amountScale)
            }
            units += amount
        }

        static func power(_ exponent: UInt32) -> Int128 { (0..<exponent).reduce(1) { value, _ in value * 10 } }
    }
}
