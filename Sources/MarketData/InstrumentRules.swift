import Protos
import RPC

/// What makes an instrument valid, and symbols well-formed.
enum InstrumentRules {
    /// 1–16 characters of [A-Z0-9._-].
    static func isSymbol(_ text: String) -> Bool {
        (1...16).contains(text.utf8.count)
            && text.utf8.allSatisfy { (0x41...0x5a).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2e || $0 == 0x5f || $0 == 0x2d }
    }

    /// Throws INVALID_ARGUMENT naming the first field that is wrong.
    static func validate(_ instrument: Tradewire_V1_Instrument) throws(RPCError) {
        func invalid(_ text: String) -> RPCError { RPCError(code: .invalidArgument, message: "instrument \(instrument.symbol): \(text)") }
        guard isSymbol(instrument.symbol) else {
            throw RPCError(code: .invalidArgument, message: "symbol \"\(instrument.symbol)\" must be 1–16 characters of A–Z, 0–9, '.', '_' or '-'")
        }
        guard instrument.priceScale <= 9, instrument.quantityScale <= 9 else { throw invalid("price_scale and quantity_scale are at most 9") }
        guard let tick = instrument.tickSize, tick.units > 0, tick.scale == instrument.priceScale else {
            throw invalid("tick_size must be positive, at the price scale \(instrument.priceScale)")
        }
        guard let lot = instrument.lotSize, lot.units > 0, lot.scale == instrument.quantityScale else {
            throw invalid("lot_size must be positive, at the quantity scale \(instrument.quantityScale)")
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
