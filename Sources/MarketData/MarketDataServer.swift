public import EventLoop
import GRPCServices
public import Cluster
import Synchronization
public import Telemetry
import Transport
import Locks

/// The market-data service: its store, its core thread, the processors' event streams it follows, and its gRPC
/// server (MarketData and grpc.health.v1). `start()` loads the store, starts following and listens.
public final class MarketDataServer: Sendable {
    private let core: MarketDataCore
    private let coreLoop: EventLoop
    private let server: Server
    private let health = HealthService()
    private let follower: EventFollower
    private let following: Lock<Task<Void, Never>?> = Lock(nil)

    /// - Parameters:
    ///   - storePath: default `<data_dir>/marketdata.sqlite`.
    ///   - listen: default the cluster file's "marketdata" address.
    ///   - telemetry: the process's metrics and HTTP endpoints (nil: none).
    public init(config: ClusterConfig, settings: MarketDataSettings, storePath: String? = nil, listen: SocketAddress? = nil,
                telemetry: Telemetry? = nil) throws
    {
        guard let address = listen ?? config.marketDataAddress.flatMap(SocketAddressText.socketAddress) else {
            throw MarketDataError("the cluster file has no numeric \"marketdata\" host:port to listen on")
        }
        coreLoop = try EventLoop(name: "marketdata")
        let store = try MarketStore(path: storePath ?? "\(config.dataDirectory)/marketdata.sqlite")
        let follower = EventFollower(config: config, batchSize: settings.eventBatch)
        let ring = ClusterRing(config)
        // A symbol's trades come from the node that holds its book: they are known as far as that node is followed.
        core = try MarketDataCore(store: store, settings: settings, loop: coreLoop) { symbol in
            follower.currentAsOf(ring.owner(of: .book(symbol)).id)
        }
        self.follower = follower
        telemetry?.addStatus("following") { follower.status().map(\.description) }
        // Clients read market data with their API key; UpsertInstrument stays internal.
        let keys = try config.keysFile.map { try APIKeys.load(path: $0) }
        let reads = Set(["ListInstruments", "GetInstrument", "WatchInstruments", "GetQuote", "GetOrderBook", "GetTrades", "GetCandles",
                         "StreamQuotes", "StreamTrades", "StreamBook"].map { "/tradewire.v1.MarketData/\($0)" })
        server = try Server(
            services: [MarketDataService(core: core), health],
            configuration: config.internalServer(address, telemetry: telemetry, clientKeys: keys, clientMethods: reads))
    }

    /// Starts the feed, follows the processors, listens; returns the bound addresses.
    @discardableResult
    public func start() async throws -> [SocketAddress] {
        let core = core
        try await coreLoop.submit { core.start() }
        let follower = follower
        following.withLock {
            $0 = Task {
                await follower.run(cursor: { node in try await core.loop.submit { core.cursor(node) } },
                                   deliver: { node, batch in try await core.loop.submit { core.apply(node: node, batch) } })
            }
        }
        return try await server.start()
    }

    public func run() async throws {
        try await server.run()
    }

    /// Stops following and serving (streams get `grace` to end), then closes the store.
    public func shutdown(grace: Duration = .seconds(1)) async {
        health.markAllNotServing()
        let task = following.withLock { $0 }
        task?.cancel()
        await task?.value
        await server.shutdownGracefully(grace: grace)
        let core = core
        _ = try? await coreLoop.submit { core.stop() }
        coreLoop.shutdown()
    }
}
