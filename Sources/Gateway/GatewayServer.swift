public import EventLoop
import Dashboard
import Foundation
public import Cluster
public import Hosting
import Protos
public import RPC
public import Transport
import ServiceStubs
import Transcoding

/// The ingestion gateway: API keys, the instrument table followed from market data, one command stream per
/// processor node, and its gRPC service, run by a ``ServiceHost``. It keeps no state another instance needs, so
/// several can serve side by side.
public final class GatewayServer: HostedService {
    public let host: ServiceHost
    public let rpcServices: [any RPCService]
    public let serverConfiguration: ServerConfiguration
    public let readinessChecks: [ReadinessCheck]
    private let shared: GatewayShared
    private let marketData: Channel?
    private let risk: Channel?
    /// Market data for HTTP/JSON callers: their own key, not the mesh credential.
    private let marketDataForClients: Channel?

    /// - Parameters:
    ///   - configPath: the cluster file, re-read when a node names a newer ring epoch.
    ///   - listen: default the cluster file's "gateway" address.
    ///   - maxInFlightPerNode: commands a node may have unanswered before orders for it are shed.
    ///   - host: what runs it (by default a host of its own); ready once market data's instruments arrived.
    public init(config: ClusterConfig, configPath: String?, keys: APIKeys, listen: SocketAddress? = nil,
                maxInFlightPerNode: Int = 8192, host: ServiceHost? = nil) throws
    {
        guard let address = listen ?? config.gatewayAddress.flatMap(SocketAddressText.socketAddress) else {
            throw GatewayError("the cluster file has no numeric \"gateway\" host:port to listen on")
        }
        let host = try host ?? ServiceHost(name: "gateway")
        self.host = host
        let cluster = ClusterClient(config: config, maxInFlightPerNode: maxInFlightPerNode, group: host.group) {
            guard let configPath, let text = try? String(contentsOfFile: configPath, encoding: .utf8) else { return nil }
            return try? ClusterConfig.parse(text, path: configPath)
        }
        let risk = try config.riskAddress.map { try config.channel($0, group: host.group) }
        self.risk = risk
        let shared = GatewayShared(cluster: cluster, keys: keys, instruments: InstrumentTable(referenceMaxAge: config.referenceMaxAge),
                                   defaultRate: config.ordersPerSecond,
                                   streams: StreamQuota(perAccount: config.maxStreamsPerAccount, total: config.maxStreams),
                                   risk: risk.map { Tradewire_V1_Risk.Client($0) })
        self.shared = shared
        marketData = try config.marketDataAddress.map { try config.channel($0, group: host.group) }
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
        let services: [any RPCService] = [GatewayService(shared: shared)]
        let group = host.group
        marketDataForClients = try config.marketDataAddress.map { address in
            guard let (host, port) = SocketAddressText.split(address) else { throw GatewayError("\(address) is not host:port") }
            var configuration = ChannelConfiguration()
            configuration.backoff = .mesh
            return try Channel(host: host, port: port, configuration: configuration, group: group)
        }
        serverConfiguration.http1 = try Self.httpAPI(services: services, serverConfiguration: serverConfiguration, marketData: marketDataForClients,
                                                     shared: shared, keys: keys, config: config, host: host)
        serverConfiguration.http1Limits.maxBodyBytes = Self.maxRequestMessage
        self.serverConfiguration = serverConfiguration
        rpcServices = services
        readinessChecks = [ReadinessCheck("instruments") { shared.instruments.isEmpty ? "no instruments from market data yet" : nil }]
    }

    /// HTTP/JSON beside gRPC (the README's "HTTP/JSON on the same port"): the Gateway's methods served in this
    /// process (the same admission, limits and handlers as over HTTP/2), MarketData's forwarded to market data with
    /// the caller's key; the plain REST shape and the WebSocket API in front of the transcoded routes.
    private static func httpAPI(services: [any RPCService], serverConfiguration: ServerConfiguration, marketData: Channel?,
                                shared: GatewayShared, keys: APIKeys, config: ClusterConfig, host: ServiceHost) throws -> any HTTP1Service
    {
        let inProcess = InMemoryTransport(services: services, context: InMemoryContext(loop: host.group.loops[0]),
                                          limits: serverConfiguration.calls, admission: serverConfiguration.admission)
        var backends: [String: any RPCClientTransport] = ["tradewire.v1.Gateway": inProcess]
        if let marketData { backends["tradewire.v1.MarketData"] = marketData }
        let transcoder = try HTTPTranscoder(catalog: .protos, backends: backends, openAPI: OpenAPIDocument.json)
        let telemetry = host.telemetry
        return SimpleOrderAPI(gateway: Tradewire_V1_Gateway.Client(inProcess), instruments: shared.instruments, transcoder: transcoder,
                              webSocket: WebSocketAPI(transcoder: transcoder, keys: keys), dashboard: DashboardPages(), corsOrigins: Set(config.corsOrigins),
                              unreadiness: { telemetry.unreadiness() })
    }

    /// The largest request message the gateway accepts (RESOURCE_EXHAUSTED past it).
    public static let maxRequestMessage = 1 << 20

    /// Follows market data's instruments and quotes, and every node's execution reports for the OrderEntry sessions.
    public func follow() async {
        let shared = shared
        let marketData = marketData
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await shared.executions.run() }
            if let marketData {
                let instruments = shared.instruments
                group.addTask { await MarketFollower(channel: marketData, instrument: instruments.update, quote: instruments.update).run() }
            }
        }
    }

    /// Closes the channels to market data and risk and the streams to the nodes.
    public func close() async {
        await marketData?.shutdown()
        await marketDataForClients?.shutdown()
        await risk?.shutdown()
        await shared.cluster.close()
    }
}

public struct GatewayError: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) { self.description = description }
}
