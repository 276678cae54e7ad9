import ArgumentParser
import Foundation
import JSON
import Cluster
import Protos
import RPC
import ServiceStubs
import Telemetry
import Transport

/// `tradewire health`: each service's grpc.health.v1 status and `/readyz` (with the status lines it adds: risk's
/// and market data's lag behind each node), from the addresses given or every service of a cluster file (by
/// default `tradewire local`'s). Exits 1 unless all serve and are ready.
struct Health: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check every service's gRPC health and readiness.")

    @Option(help: "A cluster file whose services to check (default: <data>/cluster.json).") var config: String?
    @Option(help: "The data folder of `tradewire local`.") var data = ".tradewire"
    @Option(help: "Check only these host:port addresses (repeatable).") var address: [String] = []

    func run() async throws {
        var targets = address.map { ($0, $0) }
        if targets.isEmpty {
            let cluster = try ClusterFileAddresses(path: config ?? data + "/cluster.json")
            targets = [("gateway", cluster.gateway), ("marketdata", cluster.marketData), ("risk", cluster.risk)]
                + cluster.nodes.map { ("processor-\($0.id)", $0.address) }
        }
        var healthy = true
        for (name, target) in targets {
            let grpc = await Self.grpcStatus(target)
            let ready = HTTPProbe.get(target, path: "/readyz")
            let readiness = ready.map { $0.status == 200 ? "ready" : "not ready" } ?? "unreachable"
            healthy = healthy && grpc == "SERVING" && ready?.status == 200
            print("\(name.padding(toLength: 14, withPad: " ", startingAt: 0)) \(target.padding(toLength: 21, withPad: " ", startingAt: 0)) grpc \(grpc), \(readiness)")
            // Why not ready, and what the service reports of itself (how far its followers are behind each node).
            for line in (ready?.body ?? "").split(separator: "\n") where line != "ready" {
                print(String(repeating: " ", count: 15) + line)
            }
        }
        if !healthy { throw ExitCode.failure }
    }

    static func grpcStatus(_ address: String) async -> String {
        guard let (host, port) = SocketAddressText.split(address) else { return "bad address" }
        do {
            let channel = try Channel(host: host, port: port)
            defer { Task { await channel.shutdown() } }
            let response = try await Grpc_Health_V1_Health.Client(channel).check(
                Grpc_Health_V1_HealthCheckRequest(), options: CallOptions(timeout: .seconds(2)))
            return "\(response.status)".uppercased() == "SERVING" ? "SERVING" : "\(response.status)"
        } catch {
            return "\(RPCError(from: error).code)"
        }
    }
}
