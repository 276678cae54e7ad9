import ClusterTestSupport
import Foundation
import JSON
import Telemetry
import Testing
import TestSupport

/// `tradewire local` as a newcomer uses it: the whole system as six processes under a data folder, driven only
/// with the `tradewire` client commands and plain HTTP.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct LocalSystemTests {
    /// One run of `tradewire local` on free ports under `directory`.
    final class LocalRun: @unchecked Sendable {
        // @unchecked Sendable: used by one test at a time.
        let process: Peers.Background
        let directory: String
        private(set) var output = ""

        /// A run on a new temporary data folder; `discard()` stops it and removes the folder.
        static func fresh() async throws -> LocalRun {
            try await LocalRun(directory: try ProcessorCluster.temporaryDirectory())
        }

        func discard() {
            process.stop()
            try? FileManager.default.removeItem(atPath: directory)
        }

        /// The client.json `local` wrote: the gateway's and market data's addresses and the demo accounts' keys.
        func clientFile() throws -> JSONValue {
            try JSONValue.parse(String(contentsOfFile: directory + "/client.json", encoding: .utf8))
        }

        init(directory: String) async throws {
            self.directory = directory
            process = try Peers.Background(
                try Peers.tradewire(), ["local", "--data", directory, "--base-port", "0", "--shutdown-timeout", "5", "--log-level", "debug"])
            let end = ContinuousClock.now + .seconds(180)
            while !output.contains("Ctrl-C (or SIGTERM)") {
                output += process.readAvailable()
                if let status = process.exitStatus() { throw LocalFailure("tradewire local exited (\(status)) while starting:\n\(output)") }
                guard ContinuousClock.now < end else { throw LocalFailure("tradewire local was not ready in 180 s:\n\(output)") }
                try await Task.sleep(for: .milliseconds(50))
            }
        }

        /// The services' process ids (Foundation starts them from any of local's threads).
        func children() throws -> [pid_t] {
            let tasks = "/proc/\(process.pid)/task"
            return try FileManager.default.contentsOfDirectory(atPath: tasks).flatMap { task in
                ((try? String(contentsOfFile: "\(tasks)/\(task)/children", encoding: .utf8)) ?? "").split(separator: " ").compactMap { pid_t($0) }
            }
        }

        /// SIGTERM; returns its exit status and everything it printed.
        func terminate() async throws -> Int32? {
            kill(process.pid, SIGTERM)
            let end = ContinuousClock.now + .seconds(90)
            while ContinuousClock.now < end {
                output += process.readAvailable()
                if let status = process.exitStatus() {
                    output += process.readAvailable()
                    return status
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            return nil
        }
    }

    struct LocalFailure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// Runs a client command against the data folder; its exit status and standard output.
    static func cli(_ directory: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await Peers.run(try Peers.tradewire(), arguments + ["--data", directory], timeout: .seconds(60))
    }

    /// A client command that must succeed, its output parsed as JSON.
    static func json(_ directory: String, _ arguments: [String]) async throws -> JSONValue {
        let (status, output) = try await cli(directory, arguments)
        guard status == 0 else { throw LocalFailure("tradewire \(arguments.joined(separator: " ")) exited \(status): \(output)") }
        return try JSONValue.parse(output)
    }

    static func addresses(_ directory: String) throws -> [String: String] {
        let cluster = try JSONValue.parse(String(contentsOfFile: directory + "/cluster.json", encoding: .utf8))
        var addresses = ["gateway": cluster["gateway"]!.stringValue!, "marketdata": cluster["marketdata"]!.stringValue!,
                         "risk": cluster["risk"]!.stringValue!]
        for node in cluster["nodes"]!.arrayValue! { addresses["processor-" + node["id"]!.stringValue!] = node["address"]!.stringValue! }
        return addresses
    }

    static func status(_ order: JSONValue) -> String { order["status"]?.stringValue ?? "" }

    @Test func aServiceRefusesEventLoopsOutsideTheirRangeBeforeItStarts() async throws {
        for value in ["0", "257", "-1", "two"] {
            let (status, _) = try await Peers.run(try Peers.tradewire(), ["serve", "risk", "--event-loops", value, "--config", "/nonexistent"],
                                                  timeout: .seconds(30))
            #expect(status == 64, "--event-loops \(value): a usage error, not a service that starts")
        }
    }

    @Test func localRunsTheSystemOrdersFillMetricsScrapeAndEverythingSurvivesARestart() async throws {
        let directory = try ProcessorCluster.temporaryDirectory()
        var local = try await LocalRun(directory: directory)
        defer { local.process.stop() }
        let addresses = try Self.addresses(directory)
        #expect(addresses.count == 6)
        // The files that hold secrets are the owner's only; the clients' file has API keys, never the mesh credential.
        for name in ["cluster.json", "keys.json", "client.json"] {
            var info = stat()
            #expect(stat(directory + "/" + name, &info) == 0 && info.st_mode & 0o777 == 0o600, "\(name) has mode \(String(info.st_mode & 0o777, radix: 8))")
        }
        let clientFile = try String(contentsOfFile: directory + "/client.json", encoding: .utf8)
        #expect(!clientFile.contains("mesh"), "client.json hands out the mesh credential")

        // A resting sell and a crossing buy, with the CLI.
        let sell = try await Self.json(directory, ["order", "place", "--account", "demo-2", "--symbol", "ACME", "--side", "sell", "--quantity", "10",
                                                   "--price", "100.00", "--client-order-id", "first-sell"])
        #expect(Self.status(sell["order"]!) == "ORDER_STATUS_ACCEPTED")
        let buy = try await Self.json(directory, ["order", "place", "--symbol", "ACME", "--side", "buy", "--quantity", "10", "--price", "100.00",
                                                  "--client-order-id", "first-buy", "--request-id", "local-test-buy"])
        #expect(["ORDER_STATUS_ACCEPTED", "ORDER_STATUS_FILLED"].contains(Self.status(buy["order"]!)))
        var filled = JSONValue.null
        let bothFilled = try await waitUntil {
            filled = try await Self.json(directory, ["order", "get", "--client-order-id", "first-buy"])
            let seller = try await Self.json(directory, ["order", "get", "--account", "demo-2", "--client-order-id", "first-sell"])
            let done = ["ORDER_STATUS_FILLED", "ORDER_STATUS_SETTLED"]
            return done.contains(Self.status(filled)) && done.contains(Self.status(seller))
        }
        #expect(bothFilled, "the crossing orders did not fill: \(filled)")
        #expect(filled["filledQuantity"]?["units"]?.stringValue == "10")
        #expect(filled["averagePrice"]?.stringValue == "100.00")

        // Orders that rest: acknowledged just before the shutdown, they must be there after the restart.
        var acknowledged: [String: String] = [:]
        for number in 0..<8 {
            let symbol = ["BOLT", "ZETA"][number % 2]
            let price = symbol == "BOLT" ? "49.0\(number)" : "251.0\(number)"
            let side = symbol == "BOLT" ? "buy" : "sell"
            let placed = try await Self.json(directory, ["order", "place", "--symbol", symbol, "--side", side, "--quantity", "\(number + 1)",
                                                         "--price", price, "--client-order-id", "rest-\(number)"])
            acknowledged["rest-\(number)"] = Self.status(placed["order"]!)
        }
        #expect(acknowledged.values.allSatisfy { $0 == "ORDER_STATUS_ACCEPTED" }, "\(acknowledged)")

        // A bad order is refused with the reason, and places nothing.
        let refused = try await Self.cli(directory, ["order", "place", "--symbol", "ACME", "--side", "buy", "--quantity", "1", "--price", "100"])
        #expect(refused.status == 1)

        // The trade's candle.
        var candles = JSONValue.null
        let candleSeen = try await waitUntil {
            candles = try await Self.json(directory, ["marketdata", "candles", "--symbol", "ACME", "--interval", "1m"])
            return candles["candles"]?.arrayValue?.last?["volume"]?["units"]?.stringValue == "10"
        }
        #expect(candleSeen, "no ACME candle with the trade: \(candles)")
        #expect(candles["candles"]?.arrayValue?.last?["close"]?["units"]?.stringValue == "10000")

        // Health, readiness and metrics on every service's gRPC port.
        let health = try await Self.cli(directory, ["health"])
        #expect(health.status == 0, "\(health.output)")
        for (name, address) in addresses {
            #expect(HTTPProbe.get(address, path: "/healthz")?.status == 200, "\(name) /healthz")
            #expect(HTTPProbe.get(address, path: "/readyz")?.status == 200, "\(name) /readyz")
            #expect(HTTPProbe.get(address, path: "/nothing-here")?.status == 404, "\(name) unknown path")
            let metrics = HTTPProbe.get(address, path: "/metrics")
            #expect(metrics?.status == 200 && metrics!.body.contains("grpc_server_connections"), "\(name) /metrics")
        }
        let gatewayMetrics = HTTPProbe.get(addresses["gateway"]!, path: "/metrics")?.body ?? ""
        #expect(Self.value(gatewayMetrics, #"grpc_server_handled_total{grpc_service="tradewire.v1.Gateway",grpc_method="PlaceOrder",grpc_code="OK"}"#) == 10)
        #expect(Self.value(gatewayMetrics, #"grpc_server_handled_total{grpc_service="tradewire.v1.Gateway",grpc_method="PlaceOrder",grpc_code="INVALID_ARGUMENT"}"#) == 1)
        #expect((Self.value(gatewayMetrics, #"grpc_server_handling_seconds_count{grpc_service="tradewire.v1.Gateway",grpc_method="PlaceOrder"}"#) ?? 0) == 11)
        var nodeOrders = 0.0
        var commits = 0.0
        for node in ["processor-p1", "processor-p2", "processor-p3"] {
            let text = HTTPProbe.get(addresses[node]!, path: "/metrics")?.body ?? ""
            for status in ["accepted", "filled", "settled"] { nodeOrders += Self.value(text, "processor_orders{status=\"\(status)\"}") ?? 0 }
            commits += Self.value(text, "journal_commit_seconds_count") ?? 0
            #expect((Self.value(text, "processor_event_subscribers") ?? 0) >= 2, "\(node): risk and market data follow it")
        }
        #expect(nodeOrders == 10, "the nodes' processor_orders gauges count the 10 orders")
        #expect(commits > 0)

        // The request id of the buy is in the gateway's, its node's and risk's log lines.
        let logs = try FileManager.default.contentsOfDirectory(atPath: directory + "/logs").filter {
            ((try? String(contentsOfFile: directory + "/logs/" + $0, encoding: .utf8)) ?? "").contains("\"request_id\":\"local-test-buy\"")
        }
        #expect(logs.contains("gateway.log") && logs.contains("risk.log") && logs.contains { $0.hasPrefix("processor-") }, "\(logs)")

        // SIGTERM: every service stops gracefully and its port closes.
        let status = try await local.terminate()
        #expect(status == 0, "\(local.output)")
        #expect(local.output.components(separatedBy: "stopped (status 0)").count - 1 == 6, "\(local.output)")
        for (name, address) in addresses { #expect(HTTPProbe.get(address, path: "/healthz") == nil, "\(name) still answers") }

        // Again on the same data folder: every acknowledged order is there, in a state at or after the acknowledged one.
        local = try await LocalRun(directory: directory)
        for (clientOrderID, _) in acknowledged {
            let order = try await Self.json(directory, ["order", "get", "--client-order-id", clientOrderID])
            #expect(Self.status(order) == "ORDER_STATUS_ACCEPTED", "\(clientOrderID): \(order)")
        }
        let listed = try await Self.json(directory, ["order", "list", "--page-size", "100"])
        #expect(listed["orders"]?.arrayValue?.count == 9, "demo's orders: the buy and the eight resting ones")
        let buyAgain = try await Self.json(directory, ["order", "get", "--client-order-id", "first-buy"])
        #expect(["ORDER_STATUS_FILLED", "ORDER_STATUS_SETTLED"].contains(Self.status(buyAgain)))
        #expect(try await local.terminate() == 0, "\(local.output)")
    }

    @Test func sigkillOfEveryProcessLosesNothingAcknowledged() async throws {
        let directory = try ProcessorCluster.temporaryDirectory()
        var local = try await LocalRun(directory: directory)
        defer { local.process.stop() }
        var acknowledged: [String: String] = [:]
        for number in 0..<12 {
            let side = number % 2 == 0 ? "buy" : "sell"
            let account = number % 2 == 0 ? "demo" : "demo-2"
            // Pairs at 50.00 cross (some fill), the rest rest away from each other.
            let price = number < 4 ? "50.00" : (side == "buy" ? "49.5\(number % 10)" : "50.5\(number % 10)")
            let placed = try await Self.json(directory, ["order", "place", "--account", account, "--symbol", "BOLT", "--side", side,
                                                         "--quantity", "3", "--price", price, "--client-order-id", "kill-\(number)"])
            acknowledged["\(account) kill-\(number)"] = Self.status(placed["order"]!)
        }
        // A crash of everything at once: every service and `local` itself.
        let children = try local.children()
        #expect(children.count == 6)
        for child in children { kill(child, SIGKILL) }
        local.process.kill9()
        for child in children {
            #expect(try await waitUntil { kill(child, 0) != 0 }, "process \(child) survived SIGKILL")
        }

        local = try await LocalRun(directory: directory)
        let after = ["ORDER_STATUS_ACCEPTED", "ORDER_STATUS_PARTIALLY_FILLED", "ORDER_STATUS_FILLED", "ORDER_STATUS_SETTLED"]
        for (key, status) in acknowledged {
            let parts = key.split(separator: " ").map(String.init)
            let order = try await Self.json(directory, ["order", "get", "--account", parts[0], "--client-order-id", parts[1]])
            #expect(after.contains(Self.status(order)) && after.firstIndex(of: Self.status(order))! >= after.firstIndex(of: status)!,
                    "\(key) was \(status) when acknowledged, is \(order) after the crash")
        }
        #expect(try await local.terminate() == 0, "\(local.output)")
    }

    /// `local` killed alone: its services notice that their parent is gone and stop gracefully by themselves
    /// instead of running on unsupervised (and holding the ports a new `local` needs).
    @Test func servicesStopByThemselvesWhenLocalIsKilled() async throws {
        let directory = try ProcessorCluster.temporaryDirectory()
        var local = try await LocalRun(directory: directory)
        defer { local.process.stop() }
        let children = try local.children()
        #expect(children.count == 6)
        local.process.kill9()
        for child in children {
            #expect(try await waitUntil { kill(child, 0) != 0 }, "process \(child) outlived local")
        }
        let logs = try FileManager.default.contentsOfDirectory(atPath: directory + "/logs")
        #expect(logs.count == 6)
        for log in logs {
            let text = try String(contentsOfFile: "\(directory)/logs/\(log)", encoding: .utf8)
            #expect(text.contains("the parent process is gone") && text.contains(#""message":"stopped""#), "\(log): \(text.suffix(2000))")
        }
        local = try await LocalRun(directory: directory)
        #expect(try await local.terminate() == 0, "\(local.output)")
    }

    /// A sample's value in Prometheus text: the line `series value`.
    static func value(_ text: String, _ series: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }
}
