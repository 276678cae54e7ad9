@testable import Bench
import Protos
import Testing

@Suite struct SessionRecorderTests {
    /// A refusal is counted under its reason's name, or for the gateway's own (no reason) under its status code, the
    /// text before the first colon ("RESOURCE_EXHAUSTED: node p1 is 250 ms or more behind…"): the benchmark takes
    /// RESOURCE_EXHAUSTED for shed load.
    @Test func refusalsAreNamedByReasonOrByTheGatewaysCode() {
        #expect(SessionRecorder.refusal(.riskUnavailable, "risk did not answer") == "REJECT_REASON_RISK_UNAVAILABLE")
        #expect(SessionRecorder.refusal(.unspecified, "RESOURCE_EXHAUSTED: node p1 is 250 ms or more behind: retry") == "RESOURCE_EXHAUSTED")
        #expect(SessionRecorder.refusal(.unspecified, "") == "")
        #expect(SessionRecorder.refusal(.unspecified, String(repeating: "x", count: 100)).count == 48)
    }
}
