import Foundation
import JSON
import Testing
import TestSupport

/// schemathesis (PyPI) against the gateway's HTTP/JSON API of a running `tradewire local`, from the OpenAPI
/// document the gateway serves: generated requests, valid and not, to every unary route — no answer is a 5xx or a
/// dropped connection, and every answer matches the document (its schema, content type and status). Bounded: 25
/// examples per operation, a fixed seed, 10 s per request. The streaming routes never end by themselves and are
/// left out (HTTPJSONTests covers them).
@Suite(.serialized, .timeLimit(.minutes(6)))
struct OpenAPIConformanceTests {
    @Test func generatedRequestsGetNoServerErrorAndAnswersMatchTheDocument() async throws {
        let local = try await LocalSystemTests.LocalRun.fresh()
        defer { local.discard() }
        let client = try local.clientFile()
        let gateway = try #require(client["gateway"]?.stringValue)
        let key = try #require(client["api_keys"]?["demo"]?.stringValue)
        let schemathesis = (try Peers.python() as NSString).deletingLastPathComponent + "/schemathesis"
        guard FileManager.default.isExecutableFile(atPath: schemathesis) else {
            Issue.record("no schemathesis beside \(try Peers.python()): run tools/test (tools/setup installs tools/requirements.txt)")
            return
        }
        let streams = ["Gateway_StreamExecutions", "MarketData_StreamQuotes", "MarketData_StreamTrades", "MarketData_StreamBook"]
        let (status, output) = try await Peers.run(schemathesis, [
            "run", "http://\(gateway)/openapi.json", "-H", "Authorization: Bearer \(key)", "--max-examples", "25", "--seed", "20261206",
            "--request-timeout", "10", "--checks", "not_a_server_error,response_schema_conformance,content_type_conformance,status_code_conformance",
            "--no-color",
        ] + streams.flatMap { ["--exclude-operation-id", $0] }, timeout: .seconds(300))
        #expect(status == 0, "\(output.suffix(6000))")
        #expect(output.contains("Tested: 17"), "every unary route was tried: \(output.suffix(2000))")
    }
}
