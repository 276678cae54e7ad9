import CProtos
import Cluster
import Protos
import Testing

/// RejectReason's names are those of proto/, read from protobuf-c's descriptor: google.rpc.ErrorInfo carries
/// them, and the gateway reads them back on every refused cancel or replace.
@Suite struct RejectReasonNameTests {
    @Test func everyValueIsNamedAsInTheProtoAndReadBack() {
        let descriptor = tradewire__v1__reject_reason__descriptor
        var named = 0
        for index in 0..<Int(descriptor.n_values) {
            let value = descriptor.values[index]
            let reason = Tradewire_V1_RejectReason(rawValue: value.value)
            #expect(reason.name == String(cString: value.name), "\(reason)")
            #expect(Tradewire_V1_RejectReason(name: String(cString: value.name)) == reason)
            named += 1
        }
        #expect(named == Tradewire_V1_RejectReason.allCases.count)
        #expect(Tradewire_V1_RejectReason(name: "MAX_POSITION") == nil && Tradewire_V1_RejectReason(name: "") == nil)
        #expect(Tradewire_V1_RejectReason(rawValue: 999).name == "REJECT_REASON_999")
    }
}
