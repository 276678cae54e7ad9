import Foundation
import JSON
import Testing
import TestSupport

/// The dashboard in a real browser: Debian's headless Chromium driven by Selenium (`Browser/dashboard_test.py`)
/// against a fresh `tradewire local` — sign in, place from the ticket, cross from the API as the other demo account,
/// see the fill in the blotter, executions, tape, positions and candle, replace, cancel, a validation error on its
/// field, the keyboard shortcuts, and no console errors. Screenshots land in `.build/screenshots` (the README shows
/// one). Bounded: the script stops itself after 150 s and always quits the browser.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct DashboardBrowserTests {
    @Test func tradingFromTheDashboardInChromium() async throws {
        for program in ["/usr/bin/chromium", "/usr/bin/chromedriver"] where !FileManager.default.isExecutableFile(atPath: program) {
            Issue.record("no \(program): run tools/test (tools/setup installs Debian's chromium and chromium-driver)")
            return
        }
        let local = try await LocalSystemTests.LocalRun.fresh()
        defer { local.discard() }
        let client = try local.clientFile()
        let gateway = try #require(client["gateway"]?.stringValue)
        let demo = try #require(client["api_keys"]?["demo"]?.stringValue)
        let other = try #require(client["api_keys"]?["demo-2"]?.stringValue)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Browser/dashboard_test.py"
        let screenshots = Peers.repositoryRoot + "/.build/screenshots"
        let (status, output) = try await Peers.run(try Peers.python(), [script, gateway, demo, other, screenshots], timeout: .seconds(180))
        #expect(status == 0, "\(output.suffix(4000))")
        for name in ["signin", "dashboard", "validation"] {
            #expect(FileManager.default.fileExists(atPath: "\(screenshots)/\(name).png"), "\(name).png was saved")
        }
    }
}
