import Foundation
public import EventLoop
import GRPCServices
public import Cluster
import Protos
import RPC
import Synchronization
public import Telemetry
import Transport
import Locks

/// The ingestion gateway: API keys, the instrument table followed from market data, one command stream per
/// processor node, and its gRPC server (Gateway and grpc.health.v1). It keeps no state another instance needs,
/// so several can serve side by side.
public final class GatewayServer: Sendable {
    private let core: GatewayCore
    private let server: Server
    private let health = HealthService()
    private let marketData: Channel?
    private let following: Lock<Task<Void, Never>?> = Lock(nil)

    /// - Parameters:
    ///   - configPath: the cluster file, re-read when a node names a newer ring epoch.
    ///   - listen: default the cluster file's "gateway" address.
    ///   - maxInFlightPerNode: commands a node may have unanswered before orders for it are shed.
    ///   - telemetry: the process's metrics and HTTP endpoints; ready once market data's instruments arrived.
    public init(config: ClusterConfig, configPath: String?, keys: APIKeys, listen: SocketAddress? = nil,
                maxInFlightPerNode: Int = 8192, telemetry: Telemetry? = nil) throws
    {
        guard let address = listen ?? config.gatewayAddress.flatMap(SocketAddressText.socketAddress) else {
            throw GatewayError("the cluster file has no numeric \"gateway\" host:port to listen on")
        }
        let cluster = ClusterClient(config: config, maxInFlightPerNode: maxInFlightPerNode) {
            guard let configPath, let text = try? String(contentsOfFile: configPath, encoding: .utf8) else { return nil }
            return try? ClusterConfig.parse(text, path: configPath)
        }
        core = GatewayCore(cluster: cluster, keys: keys, instruments: InstrumentTable(referenceMaxAge: config.referenceMaxAge), defaultRate: config.ordersPerSecond,
                           streams: StreamQuota(perAccount: config.maxStreamsPerAccount, total: config.maxStreams))
        marketData = try config.marketDataAddress.map(config.channel)
        var serverConfiguration = ServerConfiguration(addresses: [address])
        // Authenticate before any work for the caller: a call without a valid key is refused at its headers,
        // before a byte of its request is buffered, decompressed or decoded.
        serverConfiguration.admission = { method, metadata in
            guard method.service != "grpc.health.v1.Health" else { return nil }
            do throws(RPCError) {
                _ = try keys.authenticate(metadata)
                return nil
            } catch {
                return error
            }
        }
        // Orders are small: a PlaceOrders of 1,000 orders is about 100 KB.
        serverConfiguration.calls.maxReceiveMessageSize = Self.maxRequestMessage
        telemetry?.instrument(&serverConfiguration)
        server = try Server(services: [GatewayService(core: core), health], configuration: serverConfiguration)
        telemetry?.addReadinessCheck("instruments") { [core] in
            core.instruments.isEmpty ? "no instruments from market data yet" : nil
        }
    }

    /// The largest request message the gateway accepts (RESOURCE_EXHAUSTED past it).
    public static let maxRequestMessage = 1 << 20

    /// Follows market data and listens; returns the bound addresses.
    @discardableResult
    public func start() async throws -> [SocketAddress] {
        if let marketData {
            let instruments = core.instruments
            let follower = MarketFollower(channel: marketData, instrument: instruments.update, quote: instruments.update)
            following.withLock { $0 = Task { await follower.run() } }
        }
        return try await server.start()
    }

    public func run() async throws {
        try await server.run()
    }

    /// Stops accepting, lets calls finish for up to `grace`, then closes the streams to the nodes.
    public func shutdown(grace: Duration = .seconds(1)) async {
        health.markAllNotServing()
        await server.shutdownGracefully(grace: grace)
        let task = following.withLock { $0 }
        task?.cancel()
        await task?.value
        await marketData?.shutdown()
        await core.cluster.close()
    }
}

public struct GatewayError: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) { self.description = description }
}
