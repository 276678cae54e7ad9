@testable import Processor
import Protos
import Testing

/// An order change's event and row are composed around the order's bytes (``OrderVersion``): they must be exactly
/// what protobuf-c makes of the whole messages, for any order, report and row fields — empty strings and zeros
/// (which protobuf-c leaves out), and strings long enough that a length takes two or three bytes.
@Suite struct OrderVersionTests {
    /// A small deterministic generator (xorshift64*), so that a failure names a seed that reproduces it.
    struct Generator {
        var state: UInt64

        mutating func next() -> UInt64 {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            return state &* 0x2545_F491_4F6C_DD1D
        }

        mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

        /// Empty a quarter of the time; otherwise 1 to `maxLength` printable characters.
        mutating func text(_ maxLength: Int) -> String {
            guard below(4) != 0 else { return "" }
            return String((0..<(1 + below(maxLength))).map { _ in Character(UnicodeScalar(UInt8(33 + below(94)))) })
        }

        mutating func number() -> Int64 { below(4) == 0 ? 0 : Int64(bitPattern: next()) >> below(64) }
    }

    static func order(_ random: inout Generator) -> Tradewire_V1_Order {
        var order = Tradewire_V1_Order()
        order.orderID = Tradewire_V1_OrderId(value: random.text(60))
        order.account = random.text(64)
        order.clientOrderID = random.text(64)
        order.symbol = random.text(12)
        order.side = Tradewire_V1_Side(rawValue: Int32(random.below(3)))
        order.type = Tradewire_V1_OrderType(rawValue: Int32(random.below(3)))
        order.timeInForce = Tradewire_V1_TimeInForce(rawValue: Int32(random.below(4)))
        if random.below(2) == 0 { order.price = Tradewire_V1_Price(units: random.number(), scale: UInt32(random.below(9))) }
        order.quantity = Tradewire_V1_Quantity(units: random.number(), scale: UInt32(random.below(9)))
        order.status = Tradewire_V1_OrderStatus(rawValue: Int32(random.below(10)))
        order.filledQuantity = Tradewire_V1_Quantity(units: random.number(), scale: 0)
        order.leavesQuantity = Tradewire_V1_Quantity(units: random.number(), scale: 0)
        order.averagePrice = random.text(30)
        order.rejectText = random.text(300)
        order.createdAtUnixNanos = random.number()
        order.updatedAtUnixNanos = random.number()
        order.version = random.next() >> random.below(64)
        order.batchID = random.text(64)
        if random.below(2) == 0 { order.pendingPrice = Tradewire_V1_Price(units: random.number(), scale: 2) }
        return order
    }

    static func report(_ random: inout Generator) -> Tradewire_V1_ExecutionReport {
        var report = Tradewire_V1_ExecutionReport()
        report.orderID = Tradewire_V1_OrderId(value: random.text(60))
        report.account = random.text(64)
        report.execType = Tradewire_V1_ExecType(rawValue: Int32(random.below(8)))
        report.text = random.text(20_000)  // lengths of three varint bytes
        report.lastQuantity = random.below(2) == 0 ? nil : Tradewire_V1_Quantity(units: random.number(), scale: 0)
        report.correlationID = random.text(64)
        return report
    }

    @Test(arguments: [1, 2, 3, 0x9E37_79B9_7F4A_7C15] as [UInt64])
    func eventsAndRowsAreWhatProtobufCMakesOfTheWholeMessages(seed: UInt64) throws {
        var random = Generator(state: seed)
        for _ in 0..<500 {
            let order = Self.order(&random)
            let report = Self.report(&random)
            let node = random.text(200)
            let requestID = random.text(200)
            let version = OrderVersion(order)

            var event = Tradewire_V1_Event(nodeID: node, requestID: requestID)
            event.event = .order(Tradewire_V1_OrderEvent(report: report, order: order))
            #expect(version.event(node: node, requestID: requestID, report: report) == event.serializedBytes(), "seed \(seed)")

            let hash = random.below(3) == 0 ? 0 : random.next()
            let source = random.text(200)
            let sequence = random.below(3) == 0 ? 0 : random.next() >> random.below(64)
            let record = Tradewire_V1_OrderRecord(order: order, requestHash: hash, inboundSource: source, inboundSequence: sequence)
            #expect(version.record(requestHash: hash, inboundSource: source, inboundSequence: sequence) == record.serializedBytes(), "seed \(seed)")
        }
    }
}
