@testable import Gateway
import ProtoCodec
import Protos
import Testing
import TestSupport

/// The shared feed forwards reports as the nodes encoded them: what a client decodes must be exactly the response
/// the gateway would have built from the decoded report, and the view of a batch must read what `EventBatch` does.
@Suite struct ForwardedReportTests {
    /// A report with every field set from `random` (strings of any length, correlation ids empty or not).
    static func report(_ random: inout some RandomNumberGenerator) -> Tradewire_V1_ExecutionReport {
        func text(_ random: inout some RandomNumberGenerator, upTo length: Int = 40) -> String {
            String((0..<Int.random(in: 0...length, using: &random)).map { _ in Character(Unicode.Scalar(UInt8.random(in: 0x21...0x7e, using: &random))) })
        }
        func price(_ random: inout some RandomNumberGenerator) -> Tradewire_V1_Price? {
            Bool.random(using: &random) ? Tradewire_V1_Price(units: Int64.random(in: -1_000_000...1_000_000, using: &random), scale: 2) : nil
        }
        func quantity(_ random: inout some RandomNumberGenerator) -> Tradewire_V1_Quantity? {
            Bool.random(using: &random) ? Tradewire_V1_Quantity(units: Int64.random(in: 0...1_000_000, using: &random), scale: 0) : nil
        }
        var report = Tradewire_V1_ExecutionReport(
            execID: text(&random), orderID: Bool.random(using: &random) ? Tradewire_V1_OrderId(value: text(&random, upTo: 60)) : nil,
            clientOrderID: text(&random), account: text(&random), symbol: text(&random, upTo: 8),
            side: Tradewire_V1_Side(rawValue: Int32.random(in: 0...2, using: &random)),
            execType: Tradewire_V1_ExecType(rawValue: Int32.random(in: 0...9, using: &random)),
            orderStatus: Tradewire_V1_OrderStatus(rawValue: Int32.random(in: 0...9, using: &random)),
            fixExecType: text(&random, upTo: 1), fixOrdStatus: text(&random, upTo: 1),
            lastQuantity: quantity(&random), lastPrice: price(&random))
        report.cumulativeQuantity = quantity(&random)
        report.leavesQuantity = quantity(&random)
        report.averagePrice = text(&random, upTo: 12)
        report.price = price(&random)
        report.orderQuantity = quantity(&random)
        report.text = text(&random, upTo: 200)
        report.tradeID = text(&random)
        report.transactTimeUnixNanos = Int64.random(in: 0...Int64.max, using: &random)
        report.cursor = text(&random)
        report.correlationID = text(&random, upTo: 64)
        return report
    }

    @Test func aForwardedReportIsTheResponseTheGatewayWouldHaveEncoded() throws {
        var random = SplitMix64(seed: 0x7e11)
        for round in 0..<2_000 {
            let report = Self.report(&random)
            let forwarded = try ForwardedReport(encoded: report.serializedBytes())
            #expect(forwarded.routing.orderID == report.orderID && forwarded.routing.account == report.account)
            #expect(forwarded.routing.orderStatus == report.orderStatus && forwarded.routing.correlationID == report.correlationID)
            #expect(forwarded.routing.price == report.price && forwarded.routing.orderQuantity == report.orderQuantity)
            #expect(forwarded.routing.unknownFields.isEmpty, "a view keeps no unknown fields")
            for label in ["", "c-\(round)", String(repeating: "x", count: 64)] {
                var labelled = report
                labelled.correlationID = label
                let response = forwarded.orderEntryResponse(correlationID: label)
                #expect(response.prefix(5).allSatisfy { $0 == 0 }, "headroom for the frame header")
                // Byte for byte: protobuf-c writes fields in number order, and correlation_id is the last.
                #expect(Array(response.dropFirst(5)) == Tradewire_V1_OrderEntryResponse.report(labelled).serializedBytes(),
                        "round \(round), label \(label.prefix(8))")
            }
        }
    }

    /// A report whose correlation id is not its last field, or comes twice (another encoder, a newer schema's
    /// unknown fields after it), still goes out with the session's label alone, and nothing else lost.
    @Test func everyCorrelationIDOfTheNodesGivesWayToTheSessions() throws {
        var random = SplitMix64(seed: 0x5eed)
        for _ in 0..<200 {
            var report = Self.report(&random)
            report.correlationID = ""
            let tag: [UInt8] = [0xba, 0x01]  // field 23, length-delimited
            let unknown: [UInt8] = [0x98, 0x06, 0x07]  // field 99, varint 7
            let encoded = tag + [3] + Array("req".utf8) + report.serializedBytes() + tag + [2] + Array("r2".utf8) + unknown
            let forwarded = try ForwardedReport(encoded: encoded)
            #expect(forwarded.routing.correlationID == "r2", "a decoder keeps the last")
            let response = try Tradewire_V1_OrderEntryResponse(serializedBytes: Array(forwarded.orderEntryResponse(correlationID: "mine").dropFirst(5)))
            var expected = report
            expected.correlationID = "mine"
            expected.unknownFields = try ProtoUnknownFields(wireFormat: unknown)
            #expect(response == .report(expected))
        }
        #expect(throws: ProtoDecodingError.self) { try ForwardedReport(encoded: [0xba, 0x01, 0x09, 0x61]) }
    }

    /// A node's `EventBatch`, read through the view the shared feed uses: the same head, sequences and reports,
    /// whatever else the events carry (orders, trades, book changes, fields this schema does not know).
    @Test func theViewOfABatchReadsWhatTheBatchHolds() throws {
        var random = SplitMix64(seed: 0xba7c)
        for _ in 0..<200 {
            var batch = Tradewire_V1_EventBatch(headSequence: UInt64.random(in: 0...1 << 40, using: &random),
                                                sentAtUnixNanos: 1_700_000_000_000_000_000, throughSequence: 12)
            for index in 0..<Int.random(in: 0...12, using: &random) {
                var event = Tradewire_V1_Event(sequence: UInt64(100 + index), nodeID: "p2", committedAtUnixNanos: 7, requestID: "r-\(index)")
                switch Int.random(in: 0...3, using: &random) {
                case 0: event.event = .order(Tradewire_V1_OrderEvent(report: Self.report(&random), order: Tradewire_V1_Order(account: "a")))
                case 1: event.event = .order(Tradewire_V1_OrderEvent(order: Tradewire_V1_Order(account: "b")))
                case 2: event.event = .trade(Tradewire_V1_Trade(tradeID: "t-\(index)", symbol: "ACME"))
                default: event.event = .bookChange(Tradewire_V1_BookChange(symbol: "ACME", side: .buy))
                }
                batch.events.append(event)
            }
            let view = try Tradewire_V1_EventBatchReportView(serializedBytes: batch.serializedBytes())
            #expect(view.headSequence == batch.headSequence)
            // A view keeps nothing of what it does not name (its events' node ids, times, trades, book changes).
            #expect(view.unknownFields.isEmpty && view.events.allSatisfy { $0.unknownFields.isEmpty })
            var seen: [(UInt64, Tradewire_V1_ExecutionReport?)] = []
            try view.forEachEvent { sequence, report in
                seen.append((sequence, try report.map { try Tradewire_V1_ExecutionReport(serializedBytes: $0.encoded) }))
            }
            var expected: [(UInt64, Tradewire_V1_ExecutionReport?)] = []
            batch.forEachEvent { expected.append(($0, $1)) }
            #expect(seen.map(\.0) == expected.map(\.0))
            #expect(seen.map(\.1) == expected.map(\.1))
        }
    }
}
