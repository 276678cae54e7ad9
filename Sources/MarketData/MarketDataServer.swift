public import Cluster
public import EventLoop
public import Hosting
import Protos
public import RPC
public import Transport

/// The market-data service: its store, its core thread, the processors' event streams it follows, and its gRPC
/// service, run by a ``ServiceHost``. Preparing loads the store and starts the feed.
public final class MarketDataServer: HostedService {
    public let host: ServiceHost
    public let rpcServices: [any RPCService]
    public let serverConfiguration: ServerConfiguration
    public let statusLines: [StatusLines]
    private let core: MarketDataCore
    private let follower: EventFollower<Tradewire_V1_EventBatch>

    /// - Parameters:
    ///   - storePath: default `<data_dir>/marketdata.sqlite`.
    ///   - listen: default the cluster file's "marketdata" address.
    ///   - host: what runs it (by default a host of its own).
    public init(config: ClusterConfig, settings: MarketDataSettings, storePath: String? = nil, listen: SocketAddress? = nil,
                host: ServiceHost? = nil) throws
    {
        guard let address = listen ?? config.marketDataAddress.flatMap(SocketAddressText.socketAddress) else {
            throw MarketDataError("the cluster file has no numeric \"marketdata\" host:port to listen on")
        }
        let host = try host ?? ServiceHost(name: "marketdata")
        self.host = host
        let store = try MarketStore(path: storePath ?? "\(config.dataDirectory)/marketdata.sqlite")
        // Trades and book changes at most 5 ms late, a few commits' worth per batch (at 1,000 orders/s, this
        // process's wake-ups went from ~2 per order to ~0.5).
        let follower = EventFollower<Tradewire_V1_EventBatch>(
            config: config, batchSize: settings.eventBatch, kinds: [.trade, .bookChange], linger: .milliseconds(5), group: host.group)
        let ring = ClusterRing(config)
        // A symbol's trades come from the node that holds its book: they are known as far as that node is followed.
        core = try MarketDataCore(store: store, settings: settings, loop: host.dedicatedLoop(name: "marketdata"), fatal: host.reportFatal) { symbol in
            follower.currentAsOf(ring.owner(of: .book(symbol)).id)
        }
        self.follower = follower
        statusLines = [StatusLines("following") { follower.status().map(\.description) }]
        // Clients read market data with their API key; UpsertInstrument stays internal.
        let keys = try config.keysFile.map { try APIKeys.load(path: $0) }
        let reads = Set(["ListInstruments", "GetInstrument", "WatchInstruments", "GetQuote", "GetOrderBook", "GetTrades", "GetCandles",
                         "StreamQuotes", "StreamTrades", "StreamBook"].map { "/tradewire.v1.MarketData/\($0)" })
        rpcServices = [MarketDataService(core: core)]
        serverConfiguration = try config.internalServer(address, clientKeys: keys, clientMethods: reads)
    }

    /// Starts the reference feed.
    public func prepare() async throws {
        let core = core
        try await core.loop.submit { core.start() }
    }

    /// Follows the processors' events.
    public func follow() async {
        let core = core
        await follower.run(cursor: { node in try await core.loop.submit { core.cursor(node) } },
                           deliver: { node, batch in try await core.loop.submit { try core.apply(node: node, batch) } })
    }

    /// Stops the feed and closes the store.
    public func close() async {
        let core = core
        _ = try? await core.loop.submit { core.stop() }
    }
}
