public import EventLoop
import GRPCServices
public import Cluster
import Protos
import Synchronization
public import Telemetry
import Transport
import Locks

/// The risk service: its store, its engine, the processors' event streams and the market-data streams it
/// follows, and its gRPC server (Risk and grpc.health.v1).
public final class RiskServer: Sendable {
    private let core: RiskCore
    private let server: Server
    private let health = HealthService()
    private let follower: EventFollower
    private let marketData: Channel?
    private let following: Lock<Task<Void, Never>?> = Lock(nil)

    /// - Parameters:
    ///   - storePath: default `<data_dir>/risk.sqlite`.
    ///   - listen: default the cluster file's "risk" address.
    ///   - telemetry: the process's metrics and HTTP endpoints; ready once market data's instruments arrived.
    public init(config: ClusterConfig, settings: RiskSettings, storePath: String? = nil, listen: SocketAddress? = nil,
                telemetry: Telemetry? = nil) async throws
    {
        guard let address = listen ?? config.riskAddress.flatMap(SocketAddressText.socketAddress) else {
            throw RiskError("the cluster file has no numeric \"risk\" host:port to listen on")
        }
        core = try RiskCore(store: RiskStore(path: storePath ?? "\(config.dataDirectory)/risk.sqlite"), settings: settings,
                            referenceMaxAge: config.referenceMaxAge)
        let known = core.engine.withLock { Set($0.accounts.keys) }
        for seed in settings.accounts where !known.contains(seed.account) {
            _ = try await core.change { engine in
                if let balance = seed.balance { _ = try engine.setBalance(seed.account, balance, adjust: false) }
                return try engine.setLimits(seed.account, seed.limits ?? Tradewire_V1_AccountLimits())
            }
        }
        let follower = EventFollower(config: config)
        self.follower = follower
        telemetry?.addStatus("following") { follower.status().map(\.description) }
        marketData = try config.marketDataAddress.map(config.channel)
        server = try Server(services: [RiskService(core: core), health], configuration: config.internalServer(address, telemetry: telemetry))
        if config.marketDataAddress != nil {
            telemetry?.addReadinessCheck("instruments") { [core] in
                core.engine.withLock { $0.instruments.isEmpty } ? "no instruments from market data yet" : nil
            }
        }
    }

    /// Follows the processors and market data, listens; returns the bound addresses.
    @discardableResult
    public func start() async throws -> [SocketAddress] {
        core.start()
        let core = core
        let follower = follower
        let market = marketData.map { channel in
            MarketFollower(
                channel: channel,
                instrument: { instrument in core.engine.withLock { $0.instruments[instrument.symbol] = instrument } },
                quote: { quote in
                    core.engine.withLock { engine in
                        engine.references[quote.symbol] = quote.reference(priceScale: engine.instruments[quote.symbol]?.priceScale)
                    }
                })
        }
        following.withLock {
            $0 = Task {
                await withTaskGroup(of: Void.self) { group in
                    group.addTask {
                        await follower.run(cursor: { node in core.engine.withLock { $0.cursors[node] ?? 0 } },
                                           deliver: { node, batch in await core.apply(node: node, batch) })
                    }
                    if let market { group.addTask { await market.run() } }
                }
            }
        }
        return try await server.start()
    }

    public func run() async throws {
        try await server.run()
    }

    /// Stops serving (calls get `grace`) and following, then writes what is left.
    public func shutdown(grace: Duration = .seconds(1)) async {
        health.markAllNotServing()
        await server.shutdownGracefully(grace: grace)
        let task = following.withLock { $0 }
        task?.cancel()
        await task?.value
        await marketData?.shutdown()
        await core.stop()
    }
}
