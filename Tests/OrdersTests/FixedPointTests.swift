import Orders
import Testing
import TestSupport

/// The one checked fixed-point type: every operation on any pair of 64-bit values and scales either gives the
/// exact (or correctly rounded) result or an error — never a trap. Checked against 128-bit arithmetic on random
/// values that include the extremes (seeded, so a failure reproduces).
@Suite struct FixedPointTests {
    /// Values a client might send: the extremes, small numbers, and random 64-bit patterns.
    static func values(_ generator: inout some RandomNumberGenerator, count: Int) -> [Int64] {
        let extremes: [Int64] = [0, 1, -1, 2, -2, 10, 99, .max, .min, .max - 1, .min + 1, 1 << 62, -(1 << 62), 999_999_999_999_999_999]
        return extremes + (0..<count).map { index in
            index % 3 == 0 ? Int64.random(in: -1_000_000...1_000_000, using: &generator) : Int64(bitPattern: generator.next())
        }
    }

    static func wide(_ value: FixedPoint, at scale: UInt32) -> Int128 {
        Int128(value.units) * (0..<(scale - value.scale)).reduce(Int128(1)) { value, _ in value * 10 }
    }

    /// 20,000 random pairs against Int128 arithmetic. Mismatches are collected and checked once: an `#expect` per
    /// case reflects its operands every time, seconds of CPU that the suite's socket tests then wait for.
    @Test func sumsDifferencesAndProductsAreExactOrRefused() throws {
        var generator = SplitMix64(seed: 17)
        let values = Self.values(&generator, count: 200)
        var mismatches: [String] = []
        for _ in 0..<20_000 {
            let a = try FixedPoint(units: values.randomElement(using: &generator)!, scale: UInt32.random(in: 0...18, using: &generator))
            let b = try FixedPoint(units: values.randomElement(using: &generator)!, scale: UInt32.random(in: 0...18, using: &generator))
            let scale = max(a.scale, b.scale)
            let sum = Self.wide(a, at: scale) + Self.wide(b, at: scale)
            let added = try? a.adding(b)
            if added.map({ Int128($0.units) != sum || $0.scale != scale }) ?? (Int64(exactly: sum) != nil) {
                mismatches.append("\(a) + \(b) gave \(String(describing: added))")
            }
            let difference = Self.wide(a, at: scale) - Self.wide(b, at: scale)
            if (try? a.subtracting(b)).map({ Int128($0.units) }) != Int64(exactly: difference).map({ Int128($0) }) {
                mismatches.append("\(a) - \(b)")
            }
            let product = Int128(a.units) * Int128(b.units)
            if a.scale + b.scale <= 18 {
                if (try? a.multiplied(by: b)).map({ Int128($0.units) }) != Int64(exactly: product).map({ Int128($0) }) {
                    mismatches.append("\(a) × \(b)")
                }
            } else {
                do {
                    _ = try a.multiplied(by: b)
                    mismatches.append("\(a) × \(b) did not refuse scale \(a.scale + b.scale)")
                } catch {
                    if error != .scaleOutOfRange(a.scale + b.scale) { mismatches.append("\(a) × \(b) threw \(error)") }
                }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    }

    @Test func roundingIsTowardTheSideItNames() throws {
        let price = try FixedPoint(units: 12_345, scale: 2)  // 123.45
        let quantity = try FixedPoint(units: 3, scale: 1)  // 0.3 → 37.035
        #expect(try price.multiplied(by: quantity, scale: 2, rounding: .up).units == 3_704)
        #expect(try price.multiplied(by: quantity, scale: 2, rounding: .down).units == 3_703)
        #expect(try price.multiplied(by: quantity, scale: 2, rounding: .halfAwayFromZero).units == 3_704)
        #expect(throws: FixedPointError.inexact) { try price.multiplied(by: quantity, scale: 2, rounding: .exact) }
        let negative = try FixedPoint(units: -12_345, scale: 2)
        #expect(try negative.multiplied(by: quantity, scale: 2, rounding: .up).units == -3_703)
        #expect(try negative.multiplied(by: quantity, scale: 2, rounding: .down).units == -3_704)
        #expect(try FixedPoint(units: 7, scale: 0).divided(by: 2, rounding: .halfAwayFromZero).units == 4)
        #expect(try FixedPoint(units: -7, scale: 0).divided(by: 2, rounding: .halfAwayFromZero).units == -4)
        #expect(throws: FixedPointError.divisionByZero) { try FixedPoint(1).divided(by: 0, rounding: .down) }
    }

    @Test func scalesPastEighteenAndHugePowersAreRefused() throws {
        #expect(throws: FixedPointError.scaleOutOfRange(19)) { try FixedPoint(units: 1, scale: 19) }
        #expect(throws: FixedPointError.scaleOutOfRange(.max)) { try FixedPoint(units: 1, scale: .max) }
        #expect(throws: FixedPointError.scaleOutOfRange(40)) { try FixedPoint.power(40) }
        #expect(try FixedPoint.power(18) == 1_000_000_000_000_000_000)
        #expect(throws: FixedPointError.self) { try FixedPoint(units: .max, scale: 0).rescaled(to: 1) }
        #expect(try FixedPoint(units: 1_500, scale: 3).rescaled(to: 1).units == 15)
        #expect(throws: FixedPointError.inexact) { try FixedPoint(units: 1_501, scale: 3).rescaled(to: 1) }
        #expect(throws: FixedPointError.self) { try FixedPoint(units: .min, scale: 0).negated() }
        // Text of a scale nothing accepted stays short.
        #expect(FixedPoint.text(units: 5, scale: 4_000_000_000) == "5e-4000000000")
        #expect(FixedPoint.text(units: -5, scale: 3) == "-0.005")
    }

    @Test func equalityIsByValueAcrossScales() throws {
        #expect(try FixedPoint(units: 15, scale: 1) == FixedPoint(units: 150, scale: 2))
        #expect(try FixedPoint(units: 15, scale: 1).hashValue == FixedPoint(units: 150, scale: 2).hashValue)
        #expect(try FixedPoint(units: -1, scale: 18) < FixedPoint.zero)
        #expect(try FixedPoint(units: .max, scale: 0) > FixedPoint(units: .max, scale: 18))
    }

    @Test func parsingIsStrict() throws {
        #expect(try FixedPoint.parse("123.45") == FixedPoint(units: 12_345, scale: 2))
        #expect(try FixedPoint.parse("-0.001").units == -1)
        #expect(try FixedPoint.parse("7", scale: 2).units == 700)
        #expect(throws: FixedPointError.inexact) { try FixedPoint.parse("1.234", scale: 2) }
        for bad in ["", "-", ".", "1.2.3", "1e5", " 1", "0x10", "١"] {
            #expect(throws: FixedPointError.self, "\(bad)") { try FixedPoint.parse(bad) }
        }
        #expect(throws: FixedPointError.self) { try FixedPoint.parse("9223372036854775808") }
        #expect(throws: FixedPointError.self) { try FixedPoint.parse(String(repeating: "9", count: 100_000)) }
        #expect(try FixedPoint.parse("-9223372036854775808").units == .min)
    }

    @Test func instrumentBoundsMakeEveryNotionalFit() {
        #expect(OrderBounds.maxima(maxPrice: 0, maxQuantity: 0) == (1_000_000_000, 1_000_000_000))
        #expect(OrderBounds.maxima(maxPrice: 1_000, maxQuantity: 0) == (1_000, 1_000_000_000_000_000))
        #expect(OrderBounds.problem(priceScale: 2, quantityScale: 8, maxPrice: 10_000_000, maxQuantity: 100_000_000_000) == nil)
        #expect(OrderBounds.problem(priceScale: 2, quantityScale: 8, maxPrice: 10_000_000, maxQuantity: 100_000_000_001) != nil)
        #expect(OrderBounds.problem(priceScale: 10, quantityScale: 0, maxPrice: 0, maxQuantity: 0) != nil)
        #expect(OrderBounds.problem(price: .max, priceScale: 0, quantity: .max, quantityScale: 0) != nil)
        #expect(OrderBounds.problem(price: 1_000_000_000, priceScale: 2, quantity: 1_000_000_000, quantityScale: 0) == nil)
        #expect(OrderBounds.problem(price: nil, priceScale: 0, quantity: 0, quantityScale: 0) != nil)
        #expect(OrderBounds.problem(price: -1, priceScale: 0, quantity: 1, quantityScale: 0) != nil)
    }
}
