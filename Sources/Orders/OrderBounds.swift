/// The bounds every instrument and order is held to, chosen so that every product and sum formed from them later
/// fits in 64 bits: an order's notional, the filled notional of all its fills, a MARKET order's reservation at
/// its protection price. Services check them where numbers enter (the registry, the gateway, risk, the node);
/// past that point arithmetic on prices and quantities cannot overflow.
///
/// | bound | value |
/// |---|---|
/// | an instrument's price_scale, quantity_scale | 0…9 (so a notional's scale, their sum, is ≤ 18) |
/// | price units, quantity units of an order | 1…the instrument's max_price / max_quantity |
/// | max_price × max_quantity (units) | ≤ 10^18 |
/// | max_price, max_quantity when the instrument sets neither | 10^9 units each |
/// | when it sets one | the other is 10^18 ÷ it |
public enum OrderBounds {
    public static let maxInstrumentScale: UInt32 = 9
    /// 10^18: the most `price units × quantity units` of one order may be (an Int64 holds up to ≈ 9.2 × 10^18).
    public static let maxNotionalUnits: Int64 = 1_000_000_000_000_000_000
    /// An instrument's max_price and max_quantity when it sets neither.
    public static let defaultMaxUnits: Int64 = 1_000_000_000

    /// An instrument's effective maxima in units: those it sets (0: unset), the other derived from them.
    public static func maxima(maxPrice: Int64, maxQuantity: Int64) -> (price: Int64, quantity: Int64) {
        switch (maxPrice > 0, maxQuantity > 0) {
        case (true, true): (maxPrice, maxQuantity)
        case (true, false): (maxPrice, maxNotionalUnits / maxPrice)
        case (false, true): (maxNotionalUnits / maxQuantity, maxQuantity)
        case (false, false): (defaultMaxUnits, defaultMaxUnits)
        }
    }

    /// Why an instrument's scales and maxima are not allowed; nil when they are.
    public static func problem(priceScale: UInt32, quantityScale: UInt32, maxPrice: Int64, maxQuantity: Int64) -> String? {
        if priceScale > maxInstrumentScale || quantityScale > maxInstrumentScale {
            return "price_scale and quantity_scale are at most \(maxInstrumentScale)"
        }
        if maxPrice < 0 || maxQuantity < 0 { return "max_price and max_quantity must not be negative" }
        let (price, quantity) = maxima(maxPrice: maxPrice, maxQuantity: maxQuantity)
        if Int128(price) * Int128(quantity) > Int128(maxNotionalUnits) {
            return "max_price × max_quantity (\(price) × \(quantity) units) is above 10^18: a notional would not fit in 64 bits"
        }
        return nil
    }

    /// A symbol: ``symbolRule`` (the instrument registry's rule; gateways and nodes check it too). `/` is for pairs
    /// (`BTC/USD`); in an HTTP path it is sent as `%2F`.
    public static func isSymbol(_ text: some StringProtocol) -> Bool {
        (1...16).contains(text.utf8.count)
            && allBytes(of: text) {
                (0x41...0x5a).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2e || $0 == 0x5f || $0 == 0x2d || $0 == 0x2f
            }
    }

    /// What ``isSymbol(_:)`` accepts, for error messages.
    public static let symbolRule = "1–16 characters of A–Z, 0–9, '.', '_', '-' or '/'"

    /// Identifiers that travel between services (order ids, client order ids, accounts, batch ids): 1–64
    /// printable ASCII characters without spaces.
    public static func isIdentifier(_ text: some StringProtocol, maxBytes: Int = 64) -> Bool {
        (1...maxBytes).contains(text.utf8.count) && allBytes(of: text) { (0x21...0x7e).contains($0) }
    }

    /// Whether every UTF-8 byte of `text` passes `test`: over its contiguous bytes when it has them (a native
    /// string: ~3 instructions a byte; iterating the UTF-8 view took ~30, and a node checks every command's OrderId).
    @inline(__always)
    private static func allBytes(of text: some StringProtocol, _ test: (UInt8) -> Bool) -> Bool {
        text.utf8.withContiguousStorageIfAvailable { bytes in bytes.allSatisfy(test) } ?? text.utf8.allSatisfy(test)
    }

    /// Why an order's own numbers cannot be right whatever its instrument (a node checks this much without the
    /// instrument table); nil when they can. `price` nil: a MARKET order.
    public static func problem(price: Int64?, priceScale: UInt32, quantity: Int64, quantityScale: UInt32) -> String? {
        if priceScale > maxInstrumentScale || quantityScale > maxInstrumentScale {
            return "a price or quantity scale is at most \(maxInstrumentScale)"
        }
        guard quantity > 0 else { return "quantity must be positive" }
        guard let price else { return quantity <= maxNotionalUnits ? nil : "quantity is above 10^18 units" }
        guard price > 0 else { return "price must be positive" }
        if Int128(price) * Int128(quantity) > Int128(maxNotionalUnits) {
            return "price × quantity is above 10^18 units: its notional would not fit in 64 bits"
        }
        return nil
    }
}
