import Orders
import Cluster
import Protos
import RPC

/// What makes an instrument valid, and symbols well-formed.
enum InstrumentRules {
    /// ``OrderBounds/symbolRule``.
    static func isSymbol(_ text: String) -> Bool { OrderBounds.isSymbol(text) }

    /// Throws INVALID_ARGUMENT naming the first field that is wrong.
    static func validate(_ instrument: Tradewire_V1_Instrument) throws(RPCError) {
        func invalid(_ text: String) -> RPCError { RPCError(code: .invalidArgument, message: "instrument \(Echo.quote(instrument.symbol)): \(text)") }
        guard isSymbol(instrument.symbol) else {
            throw RPCError(code: .invalidArgument, message: "symbol \(Echo.quote(instrument.symbol)) is not \(OrderBounds.symbolRule)")
        }
        if let problem = OrderBounds.problem(
            priceScale: instrument.priceScale, quantityScale: instrument.quantityScale, maxPrice: instrument.maxPrice?.units ?? 0,
            maxQuantity: instrument.maxQuantity?.units ?? 0)
        {
            throw invalid(problem)
        }
        if let maxPrice = instrument.maxPrice, maxPrice.units > 0, maxPrice.scale != instrument.priceScale {
            throw invalid("max_price must be at the price scale \(instrument.priceScale)")
        }
        let maxima = instrument.maxima
        guard let tick = instrument.tickSize, tick.units > 0, tick.scale == instrument.priceScale, tick.units <= maxima.price else {
            throw invalid("tick_size must be positive, at most max_price, at the price scale \(instrument.priceScale)")
        }
        guard let lot = instrument.lotSize, lot.units > 0, lot.scale == instrument.quantityScale, lot.units <= maxima.quantity else {
            throw invalid("lot_size must be positive, at most max_quantity, at the quantity scale \(instrument.quantityScale)")
        }
        for (name, quantity) in [("min_quantity", instrument.minQuantity), ("max_quantity", instrument.maxQuantity)] {
            if let quantity, quantity.units < 0 || (quantity.units > 0 && quantity.scale != instrument.quantityScale) {
                throw invalid("\(name) must not be negative, at the quantity scale \(instrument.quantityScale)")
            }
        }
        if let minimum = instrument.minQuantity?.units, let maximum = instrument.maxQuantity?.units, maximum > 0, minimum > maximum {
            throw invalid("min_quantity \(minimum) is above max_quantity \(maximum)")
        }
        guard instrument.priceBandBps <= 10_000 else { throw invalid("price_band_bps is at most 10000 (100%)") }
        if case .unrecognized(let value) = instrument.status { throw invalid("status \(value) is not an InstrumentStatus") }
    }
}
