import ArgumentParser
import Gateway
import Logging
import MarketData
import Cluster
import Processor
import Risk

#if canImport(Glibc)
import Glibc
#endif

/// `tradewire serve …`: one service per process. Each prints one "… listening on …" line on standard output once
/// it serves (what `tradewire local` and the tests wait for), logs on standard error, answers `GET /metrics`,
/// `/healthz` and `/readyz` on its gRPC port, and shuts down gracefully on SIGTERM.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one of Tradewire's services.", subcommands: [GatewayCommand.self, ProcessorCommand.self, RiskCommand.self, MarketDataCommand.self])

    struct GatewayCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gateway",
            abstract: "Run an ingestion gateway of the cluster file: the client-facing order API (several can run side by side).")

        @OptionGroup var options: ServiceOptions

        @Option(help: "host:port to listen on (default: the cluster file's \"gateway\").")
        var listen: String?

        @Option(help: "The API keys file (default: the cluster file's \"keys_file\").")
        var keys: String?

        @Option(help: "Commands a processor node may have unanswered before the gateway sheds its orders.")
        var maxInFlightPerNode = 8192

        func run() async throws {
            let (config, _, cluster) = try options.clusterFile()
            guard let keysPath = keys ?? cluster.keysFile else {
                throw ValidationError("no API keys: pass --keys or set \"keys_file\" in the cluster file (tradewire keys add makes one)")
            }
            let listenAddress = try listen.map { text in
                guard let address = SocketAddressText.socketAddress(text) else { throw ValidationError("--listen \(text) is not a numeric host:port") }
                return address
            }
            let host = try options.host("gateway")
            let apiKeys = try APIKeys.load(path: keysPath)
            let gateway = try GatewayServer(config: cluster, configPath: config, keys: apiKeys, listen: listenAddress,
                                            maxInFlightPerNode: maxInFlightPerNode, host: host)
            try await options.serve(gateway, on: host, logger: Logger(label: "tradewire.gateway")) { bound in
                ("gateway listening on \(bound.map(\.description).joined(separator: ", ")) (\(cluster.nodes.count) processor nodes, "
                    + "\(apiKeys.count) API keys" + (cluster.marketDataAddress.map { ", instruments from market data at \($0))" } ?? "; no market data: every order is refused)"),
                 ["address": "\(bound[0])", "nodes": "\(cluster.nodes.count)", "api_keys": "\(apiKeys.count)"])
            }
        }
    }

    struct ProcessorCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "processor",
            abstract: "Run one processor node of the cluster file: its order and book actors, journal and command stream.")

        @OptionGroup var options: ServiceOptions

        @Option(help: "This node's id in the cluster file. Environment: TRADEWIRE_NODE.")
        var node: String?

        @Option(help: "The journal's SQLite file (default: <data_dir>/<node>.sqlite).")
        var journal: String?

        @Option(help: "Inputs between a book's snapshots.")
        var snapshotEvery = 1000

        @Option(help: "On SIGTERM, milliseconds that calls in flight get to finish before the journal closes.")
        var graceMs = 1000

        func run() async throws {
            guard let node = node ?? Environment.value("TRADEWIRE_NODE") else { throw ValidationError("no node: pass --node or set TRADEWIRE_NODE") }
            let cluster = try options.clusterFile().cluster
            let host = try options.host("processor-\(node)", grace: .milliseconds(graceMs))
            let processor = try ProcessorNode(config: cluster, nodeID: node, journalPath: journal, snapshotEvery: snapshotEvery, host: host)
            let ring = ClusterRing(cluster)
            let share = Int((ring.share(of: node) * 1000).rounded())
            let journalPath = processor.journal.path
            try await options.serve(processor, on: host, logger: Logger(label: "tradewire.processor")) { bound in
                ("processor \(node) listening on \(bound.map(\.description).joined(separator: ", ")) (ring epoch \(cluster.epoch): "
                    + "\(ring.ranges(of: node).count) hash ranges, \(share / 10).\(share % 10)% of the ring; journal \(journalPath))",
                 ["address": "\(bound[0])", "node": "\(node)", "epoch": "\(cluster.epoch)", "journal": "\(journalPath)"])
            }
        }
    }

    struct RiskCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "risk",
            abstract: "Run the risk service of the cluster file: pre-trade checks, positions and balances from the processors' events.")

        @OptionGroup var options: ServiceOptions

        @Option(help: "The risk store's SQLite file (default: <data_dir>/risk.sqlite).")
        var store: String?

        func run() async throws {
            let (config, text, cluster) = try options.clusterFile()
            let host = try options.host("risk")
            let risk = try await RiskServer(config: cluster, settings: try RiskSettings.parse(text, path: config), storePath: store, host: host)
            try await options.serve(risk, on: host, logger: Logger(label: "tradewire.risk")) { bound in
                ("risk listening on \(bound.map(\.description).joined(separator: ", ")) (following \(cluster.nodes.count) processor nodes"
                    + (cluster.marketDataAddress.map { " and market data at \($0))" } ?? "; no market data configured: every symbol is unknown)"),
                 ["address": "\(bound[0])", "nodes": "\(cluster.nodes.count)"])
            }
        }
    }

    struct MarketDataCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "marketdata",
            abstract: "Run the market-data service of the cluster file: instruments, quotes, books, trades, candles and the reference feed.")

        @OptionGroup var options: ServiceOptions

        @Option(help: "The market-data store's SQLite file (default: <data_dir>/marketdata.sqlite).")
        var store: String?

        func run() async throws {
            let (config, text, cluster) = try options.clusterFile()
            let settings = try MarketDataSettings.parse(text, path: config)
            let host = try options.host("marketdata")
            let marketData = try MarketDataServer(config: cluster, settings: settings, storePath: store, host: host)
            try await options.serve(marketData, on: host, logger: Logger(label: "tradewire.marketdata")) { bound in
                ("marketdata listening on \(bound.map(\.description).joined(separator: ", ")) (following \(cluster.nodes.count) processor nodes)",
                 ["address": "\(bound[0])", "nodes": "\(cluster.nodes.count)"])
            }
        }
    }
}
