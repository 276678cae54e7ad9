import ArgumentParser
import EventLoop
import MarketData
import Processor
import Risk

#if canImport(Glibc)
import Glibc
#endif

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one of Tradewire's services.", subcommands: [ProcessorCommand.self, RiskCommand.self, MarketDataCommand.self])

    struct ProcessorCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "processor",
            abstract: "Run one processor node of the cluster file: its order and book actors, journal and command stream.")

        @Option(help: "The cluster file (JSON: epoch, nodes, risk, settlement_ms, data_dir, …).")
        var config: String

        @Option(help: "This node's id in the cluster file.")
        var node: String

        @Option(help: "The journal's SQLite file (default: <data_dir>/<node>.sqlite).")
        var journal: String?

        @Option(help: "Inputs between a book's snapshots.")
        var snapshotEvery = 1000

        @Option(help: "On SIGTERM, milliseconds that calls in flight get to finish before the journal closes.")
        var graceMs = 1000

        func run() async throws {
            let cluster = try ClusterConfig.parse(try Files.read(config), path: config)
            let processor = try ProcessorNode(config: cluster, nodeID: node, journalPath: journal, snapshotEvery: snapshotEvery)
            let bound = try await processor.start()
            let ring = ClusterRing(cluster)
            let share = Int((ring.share(of: node) * 1000).rounded())
            print("processor \(node) listening on \(bound.map(\.description).joined(separator: ", ")) (ring epoch \(cluster.epoch): "
                + "\(ring.ranges(of: node).count) hash ranges, \(share / 10).\(share % 10)% of the ring; journal \(processor.journal.path))")
            fflush(nil)
            await Signals.waitForTermination()
            await processor.shutdown(grace: .milliseconds(graceMs))
        }
    }

    struct RiskCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "risk",
            abstract: "Run the risk service of the cluster file: pre-trade checks, positions and balances from the processors' events.")

        @Option(help: "The cluster file (JSON: nodes, risk, marketdata, accounts, data_dir, …).")
        var config: String

        @Option(help: "The risk store's SQLite file (default: <data_dir>/risk.sqlite).")
        var store: String?

        func run() async throws {
            let text = try Files.read(config)
            let cluster = try ClusterConfig.parse(text, path: config)
            let risk = try await RiskServer(config: cluster, settings: try RiskSettings.parse(text, path: config), storePath: store)
            let bound = try await risk.start()
            print("risk listening on \(bound.map(\.description).joined(separator: ", ")) (following \(cluster.nodes.count) processor nodes"
                + (cluster.marketDataAddress.map { " and market data at \($0))" } ?? "; no market data configured: every symbol is unknown)"))
            fflush(nil)
            await Signals.waitForTermination()
            await risk.shutdown()
        }
    }

    struct MarketDataCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "marketdata",
            abstract: "Run the market-data service of the cluster file: instruments, quotes, books, trades, candles and the reference feed.")

        @Option(help: "The cluster file (JSON: nodes, marketdata, instruments, feed, data_dir, …).")
        var config: String

        @Option(help: "The market-data store's SQLite file (default: <data_dir>/marketdata.sqlite).")
        var store: String?

        func run() async throws {
            let text = try Files.read(config)
            let cluster = try ClusterConfig.parse(text, path: config)
            let settings = try MarketDataSettings.parse(text, path: config)
            let marketData = try MarketDataServer(config: cluster, settings: settings, storePath: store)
            let bound = try await marketData.start()
            print("marketdata listening on \(bound.map(\.description).joined(separator: ", ")) (following \(cluster.nodes.count) processor nodes)")
            fflush(nil)
            await Signals.waitForTermination()
            await marketData.shutdown()
        }
    }
}
