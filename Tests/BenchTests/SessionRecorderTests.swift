@testable import Bench
import JSON
@testable import LoadHarness
import Protos
import Testing

@Suite struct SessionRecorderTests {
    /// A refusal is counted under its reason's name, or for the gateway's own (no reason) under its status code, the
    /// text before the first colon ("RESOURCE_EXHAUSTED: node p1 is 100 ms or more behind…"): the benchmark takes
    /// RESOURCE_EXHAUSTED for shed load.
    @Test func refusalsAreNamedByReasonOrByTheGatewaysCode() {
        #expect(SessionRecorder.refusal(.riskUnavailable, "risk did not answer") == "REJECT_REASON_RISK_UNAVAILABLE")
        #expect(SessionRecorder.refusal(.unspecified, "RESOURCE_EXHAUSTED: node p1 is 100 ms or more behind: retry") == "RESOURCE_EXHAUSTED")
        #expect(SessionRecorder.refusal(.unspecified, "") == "")
        #expect(SessionRecorder.refusal(.unspecified, String(repeating: "x", count: 100)).count == 48)
    }

    /// A place answered PENDING_NEW and then REJECTED is one acknowledged request, and its rejection is counted
    /// apart ("acknowledged, then rejected"), not lost: accepted work refused after all (a risk timeout).
    @Test func aRejectionAfterTheAcknowledgementIsCountedApart() {
        let recorder = SessionRecorder()
        let gate = LoadGate(model: .closed(workers: 1), start: 0, measureStart: 0, end: .max)
        recorder.sent("c1", clientOrderID: "o1", kind: "place", start: 1, measured: true)
        recorder.sent("c2", clientOrderID: "o2", kind: "place", start: 1, measured: true)
        func report(_ clientOrderID: String, _ correlation: String, _ execType: Tradewire_V1_ExecType,
                    _ reason: Tradewire_V1_RejectReason = .unspecified, _ text: String = "") -> Tradewire_V1_OrderEntryResponse {
            var report = Tradewire_V1_ExecutionReport()
            report.clientOrderID = clientOrderID
            report.correlationID = correlation
            report.execType = execType
            report.rejectReason = reason
            report.text = text
            return Tradewire_V1_OrderEntryResponse(response: .executionReport(report))
        }
        #expect(recorder.answered(report("o1", "c1", .pendingNew), gate: gate) == 1)
        #expect(recorder.answered(report("o1", "c1", .rejected, .riskUnavailable), gate: gate) == 0)
        #expect(recorder.answered(report("o2", "c2", .rejected, .unspecified, "RESOURCE_EXHAUSTED: shed"), gate: gate) == 1)
        let summary = SessionRecorder.summary([recorder], gate.result(), sessions: 1, model: "test")
        #expect(summary["measured_rejected_after_ack_by"] == .object(JSONObject([(key: "REJECT_REASON_RISK_UNAVAILABLE", value: .number(1))])))
        #expect(summary["measured_rejected_by"] == .object(JSONObject([(key: "RESOURCE_EXHAUSTED", value: .number(1))])))
    }
}
