import Orders

/// Money in risk: every amount is held at `Cash.scale` (10⁻⁸) in an Int64, so balances and notionals go up to
/// about 9.2 × 10^10 currency units. The arithmetic goes through `FixedPoint`, so a product or a rescaling that
/// does not fit comes back as nil (and the caller refuses the order — MAX_ORDER_NOTIONAL — or the value)
/// instead of trapping.
enum Cash {
    static let scale: UInt32 = 8

    /// price × quantity at the cash scale, rounded up (`roundUp`, for what is reserved) or half away from zero
    /// (what is settled); nil when a scale is out of range or the result does not fit an Int64.
    static func notional(price: Int64, priceScale: UInt32, quantity: Int64, quantityScale: UInt32, roundUp: Bool = false) -> Int64? {
        guard let price = try? FixedPoint(units: price, scale: priceScale),
              let quantity = try? FixedPoint(units: quantity, scale: quantityScale)
        else { return nil }
        return try? price.multiplied(by: quantity, scale: scale, rounding: roundUp ? .up : .halfAwayFromZero).units
    }

    /// A Money amount at the cash scale; nil when it has more decimals than the cash scale keeps, its scale is out
    /// of range, or it overflows.
    static func units(_ units: Int64, scale from: UInt32) -> Int64? {
        try? FixedPoint(units: units, scale: from).rescaled(to: scale).units
    }

    /// Decimal text with at least two decimals: 123450000 → "1.2345", 100000000 → "1.00".
    static func text(_ units: Int64, currency: String = "") -> String {
        var digits = String(units.magnitude)
        if digits.count <= Int(scale) { digits = String(repeating: "0", count: Int(scale) - digits.count + 1) + digits }
        var fraction = digits.suffix(Int(scale))
        while fraction.count > 2 && fraction.last == "0" { fraction = fraction.dropLast() }
        let number = (units < 0 ? "-" : "") + digits.dropLast(Int(scale)) + "." + fraction
        return currency.isEmpty ? number : number + " " + currency
    }

    /// A quantity limit given at `scale` compared at the instrument's `target` scale, rounded down so that a limit
    /// is never loosened. Both scales are at most `FixedPoint.maxScale` (checked where limits and instruments
    /// enter), so the 128-bit result is exact.
    static func limit(_ units: Int64, scale: UInt32, at target: UInt32) -> Int128 {
        let (scale, target) = (min(scale, FixedPoint.maxScale), min(target, FixedPoint.maxScale))
        if target >= scale { return Int128(units) * Int128((try? FixedPoint.power(target - scale)) ?? 1) }
        return Int128(units) / Int128((try? FixedPoint.power(scale - target)) ?? 1)
    }
}
