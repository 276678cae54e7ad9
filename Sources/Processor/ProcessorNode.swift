import Cluster
public import EventLoop
import Glibc
import GRPCServices
public import Journal
public import Telemetry
import Transport

/// One processor node: its journal, its core thread (order and book actors), its gRPC server, and streams to
/// the other nodes and to risk. `start()` replays what must be in memory and then listens.
public final class ProcessorNode: Sendable {
    public let nodeID: String
    public let config: ClusterConfig
    public let journal: Journal
    let core: NodeCore
    private let server: Server
    private let health = HealthService()
    private let coreLoop: EventLoop
    private let peers: [CommandStream]
    private let channels: [Channel]

    /// - Parameters:
    ///   - journalPath: default `<data_dir>/<node id>.sqlite`.
    ///   - listen: default the node's address in the cluster file.
    ///   - telemetry: the process's metrics and HTTP endpoints (nil: none).
    public init(config: ClusterConfig, nodeID: String, journalPath: String? = nil, listen: SocketAddress? = nil,
                snapshotEvery: Int = 1000, maxInFlightPerStream: Int = 16_384, telemetry: Telemetry? = nil) throws
    {
        guard let me = config.node(nodeID) else {
            throw ClusterConfigError("node \(nodeID) is not in the cluster file (\(config.nodes.map(\.id).joined(separator: ", ")))")
        }
        guard let address = listen ?? SocketAddressText.socketAddress(me.address) else {
            throw ClusterConfigError("node \(nodeID): cannot listen on \(me.address) (a numeric host:port is needed)")
        }
        self.nodeID = nodeID
        self.config = config
        journal = try Journal(path: journalPath ?? "\(config.dataDirectory)/\(nodeID).sqlite", synchronous: config.synchronous)
        var channels: [Channel] = []
        var streams: [String: CommandStream] = [:]
        for node in config.nodes where node.id != nodeID {
            let channel = try config.channel(node.address)
            channels.append(channel)
            streams[node.id] = CommandStream(transport: channel)
        }
        var riskTransport: Channel?
        if let risk = config.riskAddress {
            let channel = try config.channel(risk)
            channels.append(channel)
            riskTransport = channel
        }
        self.channels = channels
        peers = Array(streams.values)
        coreLoop = try EventLoop(name: "core-\(nodeID)")
        core = NodeCore(
            nodeID: nodeID, config: config, journal: journal,
            risk: RiskChecker(transport: riskTransport, timeout: config.riskTimeout), peers: streams, loop: coreLoop,
            snapshotEvery: snapshotEvery)
        server = try Server(
            services: [ProcessorService(core: core, maxInFlight: maxInFlightPerStream), health],
            configuration: config.internalServer(address, telemetry: telemetry))
    }

    /// Replays the journal (books, outbox, due settlements) and starts listening; returns the bound addresses.
    @discardableResult
    public func start() async throws -> [SocketAddress] {
        let core = core
        try await coreLoop.submit { try core.recover() }
        return try await server.start()
    }

    /// Serves until a graceful shutdown (see `shutdown()`) or cancellation.
    public func run() async throws {
        try await server.run()
    }

    /// Stops accepting, lets calls finish for up to `grace` (the journal stays open meanwhile, so their commands
    /// are still acknowledged), then commits what is queued and closes.
    public func shutdown(grace: Duration = .seconds(2)) async {
        health.markAllNotServing()
        await server.shutdownGracefully(grace: grace)
        let core = core
        _ = try? await coreLoop.submit { core.stop() }
        await journal.close()
        peers.forEach { $0.close() }
        for channel in channels { await channel.shutdown() }
        coreLoop.shutdown()
    }

    /// Order actors and books in memory (for measurements).
    public func liveActors() async throws -> (orders: Int, books: Int) {
        let core = core
        return try await coreLoop.submit { (core.liveOrders, core.liveBooks) }
    }
}
