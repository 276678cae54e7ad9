import ClusterTestSupport
import EventLoop
@testable import Processor
import Protos
import RPC
import ServiceStubs
import Synchronization
import Testing
import Transport

/// A node's risk client over the in-memory transport: one stream, a batch per turn, decisions in order, deadlines,
/// a failed stream, its bound and its close. Risk here answers by account: "never" is never answered, "fail" ends
/// the stream with UNAVAILABLE; others are approved up to 10 lots and refused above.
@Suite(.timeLimit(.minutes(1)))
struct RiskCheckerTests {
    final class ScriptedStream: CheckingRisk, Sendable {
        let streams = Atomic<Int>(0)
        let batches = Atomic<Int>(0)

        func checkStream(requests: RPCRequestStream<Tradewire_V1_RiskCheckBatch>, responses: RPCResponseWriter<Tradewire_V1_RiskCheckResults>,
                         context: ServerContext) async throws
        {
            streams.add(1, ordering: .relaxed)
            for try await batch in requests {
                batches.add(1, ordering: .relaxed)
                if batch.checks.contains(where: { $0.account == "fail" }) { throw RPCError(code: .unavailable, message: "risk is restarting") }
                let answers = batch.checks.filter { $0.account != "never" }.map { check in
                    var response = Tradewire_V1_RiskCheckResponse(checkID: check.checkID, approved: (check.quantity?.units ?? 0) <= 10)
                    if !response.approved {
                        response.reason = .maxOrderQuantity
                        response.text = "quantity \(check.quantity?.units ?? 0) is above 10"
                    }
                    return response
                }
                if !answers.isEmpty { try await responses.write(Tradewire_V1_RiskCheckResults(results: answers)) }
            }
        }

        func check(request: Tradewire_V1_RiskCheckRequest, context: ServerContext) async throws -> Tradewire_V1_RiskCheckResponse {
            throw RPCError(code: .unimplemented, message: "nodes use CheckStream")
        }
    }

    static func with(timeout: Duration = .seconds(30), maxInFlight: Int = 16_384,
                     _ body: (RiskChecker, ScriptedStream) async throws -> Void) async throws
    {
        let loop = try EventLoop(name: "risk-checker-test")
        defer { loop.shutdown() }
        let risk = ScriptedStream()
        let transport = InMemoryTransport(services: [risk], context: InMemoryContext(loop: loop))
        let checker = RiskChecker(transport: transport, timeout: timeout, maxInFlight: maxInFlight)
        try await body(checker, risk)
        checker.close()
    }

    static func check(_ account: String, quantity: Int64 = 1) -> Tradewire_V1_RiskCheckRequest {
        Tradewire_V1_RiskCheckRequest(account: account, symbol: "RC", side: .buy, type: .limit, quantity: Tradewire_V1_Quantity(units: quantity))
    }

    /// The decisions as short strings: "approved", or the reason and the start of the text.
    static func decide(_ checker: RiskChecker, _ requests: [Tradewire_V1_RiskCheckRequest]) async -> [String] {
        let decisions = await withCheckedContinuation { continuation in
            checker.check(requests) { continuation.resume(returning: $0) }
        }
        return decisions.map { decision in
            switch decision {
            case .approved: "approved"
            case .rejected(let reason, let text): "\(reason.name.dropFirst("REJECT_REASON_".count)): \(text)"
            }
        }
    }

    @Test func aTurnsChecksGoAsOneBatchAndAreDecidedInOrder() async throws {
        try await Self.with { checker, risk in
            let decisions = await Self.decide(checker, [Self.check("a"), Self.check("b", quantity: 20), Self.check("c")])
            #expect(decisions == ["approved", "MAX_ORDER_QUANTITY: quantity 20 is above 10", "approved"])
            #expect(risk.batches.load(ordering: .relaxed) == 1)
            #expect(await Self.decide(checker, [Self.check("d")]) == ["approved"])
            #expect(risk.streams.load(ordering: .relaxed) == 1, "one stream for every batch")
        }
    }

    @Test func checksRiskDoesNotAnswerAreUnavailableAtTheDeadlineAndTheStreamGoesOn() async throws {
        try await Self.with(timeout: .milliseconds(200)) { checker, risk in
            let started = ContinuousClock.now
            let decisions = await Self.decide(checker, [Self.check("a"), Self.check("never")])
            #expect(ContinuousClock.now - started >= .milliseconds(200))
            #expect(decisions == ["approved", "RISK_UNAVAILABLE: the risk service did not answer within 200 ms"])
            #expect(await Self.decide(checker, [Self.check("b")]) == ["approved"])
            #expect(risk.streams.load(ordering: .relaxed) == 1)
        }
    }

    @Test func aFailedStreamDecidesWhatIsOpenAndTheNextBatchOpensAnother() async throws {
        try await Self.with { checker, risk in
            async let waiting = Self.decide(checker, [Self.check("never")])
            let sent = try await waitUntil { risk.batches.load(ordering: .relaxed) == 1 }
            #expect(sent)
            let failed = await Self.decide(checker, [Self.check("fail")])
            let unavailable = "RISK_UNAVAILABLE: the risk service is unavailable (UNAVAILABLE: risk is restarting)"
            #expect(failed == [unavailable])
            #expect(await waiting == [unavailable])
            #expect(await Self.decide(checker, [Self.check("a")]) == ["approved"])
            #expect(risk.streams.load(ordering: .relaxed) == 2)
        }
    }

    @Test func checksPastTheBoundAreRefusedAtOnceAndCloseDecidesTheRest() async throws {
        try await Self.with(maxInFlight: 2) { checker, risk in
            async let waiting = Self.decide(checker, [Self.check("never"), Self.check("never"), Self.check("never")])
            let sent = try await waitUntil { risk.batches.load(ordering: .relaxed) == 1 }
            #expect(sent)
            #expect(await Self.decide(checker, [Self.check("a")]) == [
                "RISK_UNAVAILABLE: this node has 2 risk checks open, its most: the order was not checked",
            ])
            checker.close()
            let stopping = "RISK_UNAVAILABLE: the node is stopping: the order was not checked"
            #expect(await waiting == [
                stopping, stopping, "RISK_UNAVAILABLE: this node has 2 risk checks open, its most: the order was not checked",
            ])
            #expect(await Self.decide(checker, [Self.check("a")]) == [stopping])
        }
    }
}
