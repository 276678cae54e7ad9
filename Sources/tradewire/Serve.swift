import ArgumentParser
import EventLoop
import Processor

#if canImport(Glibc)
import Glibc
#endif

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one of Tradewire's services.", subcommands: [ProcessorCommand.self])

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
}
