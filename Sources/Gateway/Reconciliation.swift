import Orders
import Cluster
import Protos
import ServiceStubs

/// A PlaceOrders batch's totals: orders by outcome, filled quantity and value per symbol, and the P&L (sells
/// minus buys at fill prices) against what the client expected. Sums are exact `FixedPoint` arithmetic at the
/// finest scale in the batch; a total that does not fit in 64 bits is OUT_OF_RANGE, and an expected P&L whose
/// scale is above 18 INVALID_ARGUMENT — never a trap.
struct Reconciliation {
    let orders: [Tradewire_V1_Order]
    let instruments: InstrumentTable

    func response(batchID: String, expected: Tradewire_V1_Money?) throws(RPCError) -> Tradewire_V1_ReconcileResponse {
        var response = Tradewire_V1_ReconcileResponse(batchID: batchID, totalOrders: UInt32(clamping: orders.count))
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
        let expectedAmount: FixedPoint?
        do {
            expectedAmount = try expected.map { try FixedPoint(units: $0.units, scale: $0.scale) }
        } catch {
            throw OrderValidation.error([.init(field: "expected_pnl", description_p: "\(error)")])
        }
        let traded = orders.filter { ($0.filledQuantity?.units ?? 0) > 0 }
        var currency = ""
        for order in traded {
            let quote = instruments.lookup(order.symbol)?.instrument.quoteCurrency ?? order.filledNotional?.currency ?? ""
            if currency.isEmpty { currency = quote }
            guard quote == currency else {
                throw RPCError(code: .failedPrecondition, message: "batch \(Echo.quote(batchID)) trades in \(currency) and \(quote): no single P&L")
            }
        }
        var bySymbol: [String: (quantity: FixedPoint, value: FixedPoint)] = [:]
        var pnl = FixedPoint.zero
        do throws(FixedPointError) {
            for order in traded {
                let notional = order.filledNotional ?? Tradewire_V1_Money()
                let filled = try FixedPoint(units: order.filledQuantity?.units ?? 0, scale: order.filledQuantity?.scale ?? 0)
                let value = try FixedPoint(units: notional.units, scale: notional.scale)
                let totals = bySymbol[order.symbol] ?? (.zero, .zero)
                bySymbol[order.symbol] = (try totals.quantity.adding(filled), try totals.value.adding(value))
                pnl = order.side == .sell ? try pnl.adding(value) : try pnl.subtracting(value)
            }
            response.symbols = try bySymbol.sorted { $0.key < $1.key }.map { symbol, totals throws(FixedPointError) in
                Tradewire_V1_SymbolTotals(
                    symbol: symbol, filledQuantity: Tradewire_V1_Quantity(units: totals.quantity.units, scale: totals.quantity.scale),
                    filledValue: Tradewire_V1_Money(units: totals.value.units, scale: totals.value.scale, currency: currency))
            }
            response.actualPnl = Tradewire_V1_Money(units: pnl.units, scale: pnl.scale, currency: currency)
            if let expected, let expectedAmount {
                response.expectedPnl = expected
                let sameCurrency = expected.currency.isEmpty || currency.isEmpty || expected.currency == currency
                response.pnlMatches = try pnl.subtracting(expectedAmount) == .zero && sameCurrency
            }
        } catch {
            throw RPCError(code: .outOfRange, message: "batch \(Echo.quote(batchID)): \(error) (the totals are exact, and these do not fit)")
        }
        return response
    }
}
