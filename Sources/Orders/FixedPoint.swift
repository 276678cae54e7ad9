/// A decimal number in fixed point: `units × 10^-scale`, held in 64 bits. Prices, quantities and amounts of
/// money are these from the wire to the book; every operation here checks its result, so a value a client, a
/// peer or a file chose overflows into a ``FixedPointError`` — which the edge answers with INVALID_ARGUMENT and
/// a config loader with a startup error — and never into a trap (Swift traps on `+ - *` overflow).
///
/// Bounds: `scale` is 0…``maxScale`` (10^18 is the largest power of ten an Int64 holds). Products are formed in
/// 128 bits before they are brought back to 64, so `price × quantity` at any two valid scales cannot overflow
/// on the way, only in its result.
///
/// Equality and order are by value across scales (1.5 == 1.50).
public struct FixedPoint: Sendable, CustomStringConvertible {
    public let units: Int64
    public let scale: UInt32

    public static let maxScale: UInt32 = 18

    public init(units: Int64, scale: UInt32) throws(FixedPointError) {
        guard scale <= Self.maxScale else { throw .scaleOutOfRange(scale) }
        self.units = units
        self.scale = scale
    }

    /// An integer (scale 0).
    public init(_ units: Int64) {
        self.units = units
        scale = 0
    }

    public static let zero = FixedPoint(0)

    /// How a result that has more digits than its scale keeps is brought to it.
    public enum Rounding: Sendable {
        /// Refuse (``FixedPointError/inexact``): the value must be representable.
        case exact
        /// Toward negative infinity.
        case down
        /// Toward positive infinity (what is reserved: never less than needed).
        case up
        /// Half away from zero (what is reported or settled).
        case halfAwayFromZero
    }

    // MARK: - Arithmetic

    /// `self + other` at the finer of the two scales.
    public func adding(_ other: FixedPoint) throws(FixedPointError) -> FixedPoint {
        let scale = max(self.scale, other.scale)
        return try Self.narrow(Self.wide(self, at: scale) + Self.wide(other, at: scale), scale: scale, "a sum")
    }

    /// `self - other` at the finer of the two scales.
    public func subtracting(_ other: FixedPoint) throws(FixedPointError) -> FixedPoint {
        let scale = max(self.scale, other.scale)
        return try Self.narrow(Self.wide(self, at: scale) - Self.wide(other, at: scale), scale: scale, "a difference")
    }

    /// `-self` (only Int64.min has no negation).
    public func negated() throws(FixedPointError) -> FixedPoint {
        try Self.narrow(-Int128(units), scale: scale, "a negation")
    }

    /// `self × other`, exact, at the sum of the two scales (which must be at most ``maxScale``).
    public func multiplied(by other: FixedPoint) throws(FixedPointError) -> FixedPoint {
        let scale = self.scale + other.scale
        guard scale <= Self.maxScale else { throw .scaleOutOfRange(scale) }
        return try Self.narrow(Int128(units) * Int128(other.units), scale: scale, "a product")
    }

    /// `self × other` brought to `scale`: the product is formed exactly in 128 bits, then rounded.
    public func multiplied(by other: FixedPoint, scale: UInt32, rounding: Rounding) throws(FixedPointError) -> FixedPoint {
        guard scale <= Self.maxScale else { throw .scaleOutOfRange(scale) }
        let product = Int128(units) * Int128(other.units)
        return try Self.narrow(Self.rescale(product, from: self.scale + other.scale, to: scale, rounding), scale: scale, "a product")
    }

    /// `self × count` (a whole number of times), at the same scale.
    public func multiplied(by count: Int64) throws(FixedPointError) -> FixedPoint {
        try Self.narrow(Int128(units) * Int128(count), scale: scale, "a product")
    }

    /// `self ÷ divisor` at the same scale, rounded (a division by zero is refused).
    public func divided(by divisor: Int64, rounding: Rounding) throws(FixedPointError) -> FixedPoint {
        guard divisor != 0 else { throw .divisionByZero }
        return try Self.narrow(Self.divide(Int128(units), by: Int128(divisor), rounding), scale: scale, "a quotient")
    }

    /// The same value at `scale`; refused when it does not fit, or (with `.exact`) when digits would be lost.
    public func rescaled(to scale: UInt32, rounding: Rounding = .exact) throws(FixedPointError) -> FixedPoint {
        guard scale <= Self.maxScale else { throw .scaleOutOfRange(scale) }
        return try Self.narrow(Self.rescale(Int128(units), from: self.scale, to: scale, rounding), scale: scale, "a rescaled value")
    }

    // MARK: - Powers of ten

    /// 10^exponent for exponent 0…``maxScale``.
    public static func power(_ exponent: UInt32) throws(FixedPointError) -> Int64 {
        guard exponent <= maxScale else { throw .scaleOutOfRange(exponent) }
        return powers[Int(exponent)]
    }

    private static let powers: [Int64] = (0...18).map { exponent in (0..<exponent).reduce(1) { value, _ in value * 10 } }

    /// 10^exponent in 128 bits for exponent 0…38.
    private static func widePower(_ exponent: UInt32) -> Int128 {
        precondition(exponent <= 38, "10^\(exponent) does not fit 128 bits: callers keep scales ≤ 18")
        return (0..<exponent).reduce(Int128(1)) { value, _ in value * 10 }
    }

    // MARK: - 128-bit steps (scales ≤ 36 here, so nothing on the way overflows 128 bits)

    private static func wide(_ value: FixedPoint, at scale: UInt32) -> Int128 {
        Int128(value.units) * widePower(scale - value.scale)
    }

    private static func rescale(_ value: Int128, from: UInt32, to: UInt32, _ rounding: Rounding) throws(FixedPointError) -> Int128 {
        if to >= from {
            let factor = widePower(to - from)
            let (result, overflow) = value.multipliedReportingOverflow(by: factor)
            guard !overflow else { throw .overflow("a rescaled value") }
            return result
        }
        let quotient = try divide(value, by: widePower(from - to), rounding)
        return quotient
    }

    private static func divide(_ value: Int128, by divisor: Int128, _ rounding: Rounding) throws(FixedPointError) -> Int128 {
        let (quotient, remainder) = value.quotientAndRemainder(dividingBy: divisor)
        guard remainder != 0 else { return quotient }
        let negative = (value < 0) != (divisor < 0)
        switch rounding {
        case .exact: throw .inexact
        case .down: return negative ? quotient - 1 : quotient
        case .up: return negative ? quotient : quotient + 1
        case .halfAwayFromZero:
            return remainder.magnitude * 2 >= divisor.magnitude ? quotient + (negative ? -1 : 1) : quotient
        }
    }

    private static func narrow(_ value: Int128, scale: UInt32, _ what: String) throws(FixedPointError) -> FixedPoint {
        guard let units = Int64(exactly: value) else { throw .overflow(what) }
        guard scale <= maxScale else { throw .scaleOutOfRange(scale) }
        return FixedPoint(checkedUnits: units, scale: scale)
    }

    private init(checkedUnits: Int64, scale: UInt32) {
        units = checkedUnits
        self.scale = scale
    }

    // MARK: - Text

    /// Decimal text: "-12.34", "0.05", "7".
    public var description: String { Self.text(units: units, scale: scale) }

    /// `units × 10^-scale` as decimal text. A scale past ``maxScale`` (a value nothing accepted) is written as
    /// "<units>e-<scale>", so that quoting a bad value in an error never builds a huge string.
    public static func text(units: Int64, scale: UInt32) -> String {
        guard scale > 0 else { return String(units) }
        guard scale <= maxScale else { return "\(units)e-\(scale)" }
        var digits = String(units.magnitude)
        if digits.count <= Int(scale) { digits = String(repeating: "0", count: Int(scale) - digits.count + 1) + digits }
        let split = digits.index(digits.endIndex, offsetBy: -Int(scale))
        return (units < 0 ? "-" : "") + digits[..<split] + "." + digits[split...]
    }

    /// Parses decimal text ("12.5", "-0.001", "7"); with `scale`, the value is brought to it exactly (refused when
    /// it has more decimals), otherwise it keeps as many as it has.
    public static func parse(_ text: some StringProtocol, scale: UInt32? = nil) throws(FixedPointError) -> FixedPoint {
        var bytes = Substring(text).utf8[...]
        let negative = bytes.first == UInt8(ascii: "-")
        if negative || bytes.first == UInt8(ascii: "+") { bytes = bytes.dropFirst() }
        var units: Int128 = 0
        var decimals: UInt32 = 0
        var seenPoint = false
        var digits = 0
        for byte in bytes {
            if byte == UInt8(ascii: "."), !seenPoint {
                seenPoint = true
                continue
            }
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { throw .malformed }
            digits += 1
            guard digits <= 38 else { throw .overflow("a parsed value") }
            units = units * 10 + Int128(byte - UInt8(ascii: "0"))
            if seenPoint { decimals += 1 }
        }
        guard digits > 0, decimals <= 36 else { throw digits == 0 ? .malformed : .scaleOutOfRange(decimals) }
        if negative { units = -units }
        let target = scale ?? decimals
        guard target <= maxScale else { throw .scaleOutOfRange(target) }
        return try narrow(rescale(units, from: decimals, to: target, .exact), scale: target, "a parsed value")
    }
}

extension FixedPoint: Comparable, Hashable {
    public static func == (a: FixedPoint, b: FixedPoint) -> Bool {
        let scale = max(a.scale, b.scale)
        return wide(a, at: scale) == wide(b, at: scale)
    }

    public static func < (a: FixedPoint, b: FixedPoint) -> Bool {
        let scale = max(a.scale, b.scale)
        return wide(a, at: scale) < wide(b, at: scale)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(Self.wide(self, at: Self.maxScale))
    }
}

/// Why a fixed-point operation has no result.
public enum FixedPointError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A scale past ``FixedPoint/maxScale`` (or past the bound the caller set).
    case scaleOutOfRange(UInt32)
    /// The result does not fit in 64 bits; the text names what was computed.
    case overflow(String)
    /// Bringing the value to a coarser scale would lose digits.
    case inexact
    case divisionByZero
    /// Text that is not a decimal number.
    case malformed

    public var description: String {
        switch self {
        case .scaleOutOfRange(let scale): "scale \(scale) is above \(FixedPoint.maxScale)"
        case .overflow(let what): "\(what) does not fit in 64 bits"
        case .inexact: "the value has more decimals than its scale allows"
        case .divisionByZero: "division by zero"
        case .malformed: "not a decimal number"
        }
    }
}
