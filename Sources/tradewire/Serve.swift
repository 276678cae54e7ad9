import ArgumentParser
import EventLoop
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
            let telemetry = try options.bootstrap(service: "gateway")
            let logger = Logger(label: "tradewire.gateway")
            let apiKeys = try APIKeys.load(path: keysPath)
            let gateway = try GatewayServer(config: cluster, configPath: config, keys: apiKeys, listen: listenAddress,
                                            maxInFlightPerNode: maxInFlightPerNode, telemetry: telemetry)
            let bound = try await gateway.start()
            options.announce(
                logger,
                "gateway listening on \(bound.map(\.description).joined(separator: ", ")) (\(cluster.nodes.count) processor nodes, "
                    + "\(apiKeys.count) API keys" + (cluster.marketDataAddress.map { ", instruments from market data at \($0))" } ?? "; no market data: every order is refused)"),
                metadata: ["address": "\(bound[0])", "nodes": "\(cluster.nodes.count)", "api_keys": "\(apiKeys.count)"])
            await options.serveUntilTerminated(telemetry, logger: logger) { await gateway.shutdown() }
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
            let telemetry = try options.bootstrap(service: "processor-\(node)")
            let logger = Logger(label: "tradewire.processor")
            let processor = try ProcessorNode(config: cluster, nodeID: node, journalPath: journal, snapshotEvery: snapshotEvery, telemetry: telemetry)
            let bound = try await processor.start()
            let ring = ClusterRing(cluster)
            let share = Int((ring.share(of: node) * 1000).rounded())
            options.announce(
                logger,
                "processor \(node) listening on \(bound.map(\.description).joined(separator: ", ")) (ring epoch \(cluster.epoch): "
                    + "\(ring.ranges(of: node).count) hash ranges, \(share / 10).\(share % 10)% of the ring; journal \(processor.journal.path))",
                metadata: ["address": "\(bound[0])", "node": "\(node)", "epoch": "\(cluster.epoch)", "journal": "\(processor.journal.path)"])
            await options.serveUntilTerminated(telemetry, logger: logger) { await processor.shutdown(grace: .milliseconds(graceMs)) }
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
            let telemetry = try options.bootstrap(service: "risk")
            let logger = Logger(label: "tradewire.risk")
            let risk = try await RiskServer(config: cluster, settings: try RiskSettings.parse(text, path: config), storePath: store, telemetry: telemetry)
            let bound = try await risk.start()
            options.announce(
                logger,
                "risk listening on \(bound.map(\.description).joined(separator: ", ")) (following \(cluster.nodes.count) processor nodes"
                    + (cluster.marketDataAddress.map { " and market data at \($0))" } ?? "; no market data configured: every symbol is unknown)"),
                metadata: ["address": "\(bound[0])", "nodes": "\(cluster.nodes.count)"])
            await options.serveUntilTerminated(telemetry, logger: logger) { await risk.shutdown() }
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
            let telemetry = try options.bootstrap(service: "marketdata")
            let logger = Logger(label: "tradewire.marketdata")
            let marketData = try MarketDataServer(config: cluster, settings: settings, storePath: store, telemetry: telemetry)
            let bound = try await marketData.start()
            options.announce(
                logger, "marketdata listening on \(bound.map(\.description).joined(separator: ", ")) (following \(cluster.nodes.count) processor nodes)",
                metadata: ["address": "\(bound[0])", "nodes": "\(cluster.nodes.count)"])
            await options.serveUntilTerminated(telemetry, logger: logger) { await marketData.shutdown() }
        }
    }
}
