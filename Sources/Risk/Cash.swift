/// Fixed-point arithmetic for risk: every amount of money is held at `Cash.scale` (10⁻⁸) in an Int64, and
/// products (price × quantity) are formed in Int128 before they are brought to that scale.
enum Cash {
    static let scale: UInt32 = 8

    static func power(_ exponent: UInt32) -> Int128 { (0..<exponent).reduce(1) { value, _ in value * 10 } }

    /// `units` at `from` brought to `to`: exact when `to` ≥ `from`; otherwise rounded up (`roundUp`, for what
    /// is reserved) or half away from zero (for what is settled).
    static func rescale(_ units: Int128, from: UInt32, to: UInt32, roundUp: Bool = false) -> Int128 {
        if to >= from { return units * power(to - from) }
        let divisor = power(from - to)
        let (quotient, remainder) = units.quotientAndRemainder(dividingBy: divisor)
        if remainder == 0 { return quotient }
        if roundUp { return units > 0 ? quotient + 1 : quotient }
        return remainder.magnitude * 2 >= divisor.magnitude ? quotient + (units > 0 ? 1 : -1) : quotient
    }

    /// price × quantity at the cash scale; nil when it does not fit an Int64.
    static func notional(price: Int64, priceScale: UInt32, quantity: Int64, quantityScale: UInt32, roundUp: Bool = false) -> Int64? {
        let value = rescale(Int128(price) * Int128(quantity), from: priceScale + quantityScale, to: scale, roundUp: roundUp)
        return Int64(exactly: value)
    }

    /// A Money amount at the cash scale; nil when it has more digits than the cash scale keeps or overflows.
    static func units(_ units: Int64, scale from: UInt32) -> Int64? {
        guard from <= 18 else { return nil }
        let value = rescale(Int128(units), from: from, to: scale)
        guard rescale(value, from: scale, to: from) == Int128(units) else { return nil }
        return Int64(exactly: value)
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

    /// A quantity or price limit given at `scale` compared at the instrument's `target` scale (rounded down, so a
    /// limit is never loosened).
    static func limit(_ units: Int64, scale: UInt32, at target: UInt32) -> Int128 {
        if target >= scale { return Int128(units) * power(target - scale) }
        return Int128(units) / power(scale - target)
    }
}
