public import EventLoop
public import Cluster
public import Hosting
import Protos
public import RPC
public import Transport

/// The risk service: its store, its engine, the processors' event streams and the market-data streams it
/// follows, and its gRPC service, run by a ``ServiceHost``.
public final class RiskServer: HostedService {
    public let host: ServiceHost
    public let rpcServices: [any RPCService]
    public let serverConfiguration: ServerConfiguration
    public let readinessChecks: [ReadinessCheck]
    public let statusLines: [StatusLines]
    private let core: RiskCore
    private let follower: EventFollower<Tradewire_V1_EventBatchRiskView>
    private let marketData: Channel?

    /// - Parameters:
    ///   - storePath: default `<data_dir>/risk.sqlite`.
    ///   - listen: default the cluster file's "risk" address.
    ///   - host: what runs it (by default a host of its own); ready once market data's instruments arrived.
    public init(config: ClusterConfig, settings: RiskSettings, storePath: String? = nil, listen: SocketAddress? = nil,
                host: ServiceHost? = nil) async throws
    {
        guard let address = listen ?? config.riskAddress.flatMap(SocketAddressText.socketAddress) else {
            throw RiskError("the cluster file has no numeric \"risk\" host:port to listen on")
        }
        let host = try host ?? ServiceHost(name: "risk")
        self.host = host
        let core = try RiskCore(store: RiskStore(path: storePath ?? "\(config.dataDirectory)/risk.sqlite"), settings: settings,
                                referenceMaxAge: config.referenceMaxAge, storeLoop: host.dedicatedLoop(name: "risk-store"),
                                fatal: host.reportFatal)
        self.core = core
        let known = core.engine.withLock { Set($0.accounts.keys) }
        for seed in settings.accounts where !known.contains(seed.account) {
            _ = try await core.change { engine in
                if let balance = seed.balance { _ = try engine.setBalance(seed.account, balance, adjust: false) }
                return try engine.setLimits(seed.account, seed.limits ?? Tradewire_V1_AccountLimits())
            }
        }
        // Events only ever free what a check holds (a cancel releases, a fill turns held cash into a position), so a
        // few milliseconds' delay makes checks stricter, never looser; it lets a node send a few commits' events as
        // one batch (at 1,000 orders/s, risk's wake-ups to follow went from ~1 per order to ~0.1).
        let follower = EventFollower<Tradewire_V1_EventBatchRiskView>(
            config: config, kinds: [.order], linger: .milliseconds(5), fillReportsOnly: true, orderStatuses: RiskEngine.followedStatuses,
            group: host.group)
        self.follower = follower
        statusLines = [StatusLines("following") { follower.status().map(\.description) }]
        marketData = try config.marketDataAddress.map { try config.channel($0, group: host.group) }
        rpcServices = [RiskService(core: core)]
        serverConfiguration = try config.internalServer(address)
        readinessChecks = config.marketDataAddress == nil ? [] : [
            ReadinessCheck("instruments") { core.engine.withLock { $0.instruments.isEmpty } ? "no instruments from market data yet" : nil },
        ]
    }

    public func prepare() async throws {
        core.start()
    }

    /// Follows the processors' events and market data's instruments and quotes.
    public func follow() async {
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
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await follower.run(cursor: { node in core.engine.withLock { $0.cursors[node] ?? 0 } },
                                   deliver: { node, batch in core.apply(node: node, batch) })
            }
            if let market { group.addTask { await market.run() } }
        }
    }

    /// Writes what is left and closes the store and the channel to market data.
    public func close() async {
        await marketData?.shutdown()
        await core.stop()
    }
}
