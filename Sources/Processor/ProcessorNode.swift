import Cluster
public import EventLoop
public import Hosting
public import Journal
public import RPC
public import Transport

/// One processor node: its journal, its core loop (order and book actors, the journal's writes; the host's only loop,
/// or one of its own beside several: ``ServiceHost/coreLoop(name:)``), its gRPC service, and streams to the other
/// nodes and to risk, run by a ``ServiceHost``. Preparing replays what must be in memory; the host then listens.
public final class ProcessorNode: HostedService {
    public let nodeID: String
    public let config: ClusterConfig
    public let journal: Journal
    public let host: ServiceHost
    public let rpcServices: [any RPCService]
    public let serverConfiguration: ServerConfiguration
    let shell: NodeShell
    private let peers: [CommandStream]
    private let channels: [Channel]

    /// - Parameters:
    ///   - journalPath: default `<data_dir>/<node id>.sqlite`.
    ///   - listen: default the node's address in the cluster file.
    ///   - host: what runs it (by default a host of its own, whose graceful shutdown gives calls 2 s).
    public init(config: ClusterConfig, nodeID: String, journalPath: String? = nil, listen: SocketAddress? = nil,
                snapshotEvery: Int = 1000, maxInFlightPerStream: Int = 16_384, host: ServiceHost? = nil) throws
    {
        guard let me = config.node(nodeID) else {
            throw ClusterConfigError("node \(nodeID) is not in the cluster file (\(config.nodes.map(\.id).joined(separator: ", ")))")
        }
        guard let address = listen ?? SocketAddressText.socketAddress(me.address) else {
            throw ClusterConfigError("node \(nodeID): cannot listen on \(me.address) (a numeric host:port is needed)")
        }
        let host = try host ?? ServiceHost(name: "processor-\(nodeID)", grace: .seconds(2))
        self.host = host
        self.nodeID = nodeID
        self.config = config
        let loop = try host.coreLoop(name: "node-\(nodeID)")
        journal = try Journal(path: journalPath ?? "\(config.dataDirectory)/\(nodeID).sqlite", synchronous: config.synchronous, writer: loop)
        var channels: [Channel] = []
        var streams: [String: CommandStream] = [:]
        for node in config.nodes where node.id != nodeID {
            let channel = try config.channel(node.address, group: host.group)
            channels.append(channel)
            streams[node.id] = CommandStream(transport: channel)
        }
        var riskTransport: Channel?
        if let risk = config.riskAddress {
            let channel = try config.channel(risk, group: host.group)
            channels.append(channel)
            riskTransport = channel
        }
        self.channels = channels
        peers = Array(streams.values)
        shell = NodeShell(
            nodeID: nodeID, config: config, journal: journal,
            risk: RiskChecker(transport: riskTransport, timeout: config.riskTimeout), peers: streams,
            loop: loop, snapshotEvery: snapshotEvery, fatal: host.reportFatal)
        rpcServices = [ProcessorService(shell: shell, maxInFlight: maxInFlightPerStream)]
        serverConfiguration = try config.internalServer(address)
    }

    /// Replays the journal: books, the outbox, settlements still due.
    public func prepare() async throws {
        let shell = shell
        try await shell.loop.submit { try shell.recover() }
    }

    /// Commits what is queued and closes the journal (calls in flight were acknowledged while the server drained),
    /// then the streams to the other nodes and risk.
    public func close() async {
        let shell = shell
        _ = try? await shell.loop.submit { shell.stop() }
        await journal.close()
        peers.forEach { $0.close() }
        for channel in channels { await channel.shutdown() }
    }

    /// Order actors and books in memory (for measurements).
    public func liveActors() async throws -> (orders: Int, books: Int) {
        let shell = shell
        return try await shell.loop.submit { (shell.liveOrders, shell.liveBooks) }
    }
}
