import ArgumentParser
import Foundation
import JSON
import Journal
import Orders
import Cluster
import EventLoop
import Telemetry

/// `tradewire local`: the whole system on 127.0.0.1, each service its own process of this binary — market data,
/// risk, three processor nodes, the gateway — with SQLite under a data folder. Prints where everything listens and
/// how to place a first order; on SIGTERM or Ctrl-C stops them gracefully (gateway first, so no new order arrives
/// while the nodes drain) and exits once all have.
struct Local: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the whole system locally: gateway, three processor nodes, risk and market data, each as its own process.")

    @Option(help: "The data folder: configuration, API keys, journals, stores and logs (made on the first run, reused after).")
    var data = ".tradewire"

    @Option(help: "First of six consecutive ports on 127.0.0.1 for a new data folder (0: any free ports).")
    var basePort = 50051

    @Option(help: "How a new data folder's journals wait for the disk: full (an acknowledged order survives a power cut) or normal (it survives a crash of the process; the last commits may be lost in an OS crash or a power cut).")
    var synchronous = "full"

    @Option(help: "The services' log level (their logs go to <data>/logs).")
    var logLevel = "info"

    @Option(help: "Seconds each service gets to stop gracefully before it is killed.")
    var shutdownTimeout: Double = 10

    func run() async throws {
        let directory = URL(fileURLWithPath: data).standardizedFileURL.path
        let setup = LocalSetup(directory: directory)
        let fresh = !setup.exists
        guard let mode = JournalSynchronous(rawValue: synchronous.uppercased()) else {
            throw LocalError("--synchronous is full or normal, not \(synchronous)")
        }
        if fresh { try setup.create(basePort: basePort, synchronous: mode) }
        try FileManager.default.createDirectory(atPath: setup.logDirectory, withIntermediateDirectories: true)
        let cluster = try ClusterFileAddresses(path: setup.clusterPath)
        guard let client = try ClientFile.load(directory: directory) else { throw LocalError("\(setup.clientPath) is missing") }

        Signals.install()
        // Market data and risk first (the nodes call risk), then the nodes, then the gateway (it needs both).
        var services: [(name: String, arguments: [String], address: String)] = [
            ("marketdata", ["serve", "marketdata"], cluster.marketData),
            ("risk", ["serve", "risk"], cluster.risk),
        ]
        for node in cluster.nodes { services.append(("processor-\(node.id)", ["serve", "processor", "--node", node.id], node.address)) }
        services.append(("gateway", ["serve", "gateway"], cluster.gateway))
        let supervisor = try Supervisor(executable: Self.executablePath(), setup: setup, logLevel: logLevel,
                                        shutdownTimeout: shutdownTimeout, eventLoops: Self.eventLoops(services: services.count))
        do {
            for service in services { try supervisor.launch(service.name, service.arguments, address: service.address) }
            try await supervisor.waitUntilReady(timeout: .seconds(120))
        } catch {
            print("tradewire local: \(error)")
            await supervisor.stopAll()
            throw ExitCode.failure
        }
        printSummary(fresh: fresh, directory: directory, services: services.map { ($0.name, $0.address) }, client: client)
        let reason = await supervisor.waitForSignalOrExit()
        print("\n\(reason): stopping every service…")
        fflush(nil)
        await supervisor.stopAll()
        print("stopped; the data folder \(directory) keeps everything for the next `tradewire local`")
        if reason != "signal" { throw ExitCode.failure }
    }

    private func printSummary(fresh: Bool, directory: String, services: [(name: String, address: String)], client: ClientFile) {
        let width = services.map(\.name.count).max() ?? 0
        var lines = ["", "Tradewire is running locally (\(fresh ? "new data folder" : "data folder reused") \(directory)):", ""]
        for service in services {
            let padded = service.name.padding(toLength: width, withPad: " ", startingAt: 0)
            lines.append("  \(padded)  \(service.address)   http://\(service.address)/metrics  /healthz  /readyz")
        }
        let gateway = client.gateway ?? "?"
        lines += [
            "",
            "  gRPC clients: the gateway at \(gateway) (tradewire.v1.Gateway, plaintext HTTP/2) with the header",
            "    authorization: Bearer <key>   (keys of the accounts \(LocalSetup.accounts[0]), \(LocalSetup.accounts[1]) and others in \(directory)/client.json)",
            "  Instruments: " + LocalSetup.instruments.map { "\($0.symbol) (\(FixedPoint.text(units: Int64($0.cents), scale: 2)))" }.joined(separator: ", ")
                + "; the reference feed moves them every 250 ms.",
            "  Logs: \(directory)/logs/<service>.log (JSON lines)",
            "",
            "A first order (the client commands read \(directory)/client.json; run them from this folder):",
            "  tradewire order place --account demo-2 --symbol ACME --side sell --quantity 10 --price 100.00",
            "  tradewire order place --symbol ACME --side buy --quantity 10 --price 100.00     # demo buys: both fill",
            "  tradewire order list",
            "  tradewire marketdata candles --symbol ACME",
            "",
            "Ctrl-C (or SIGTERM) stops everything gracefully.",
        ]
        print(lines.joined(separator: "\n"))
        fflush(nil)
    }

    /// Event loops per service: the services share this machine's cores, so each gets its share (at least one)
    /// rather than one per core. Six services on 2 cores with one loop each instead of two: 149–158 against
    /// 163–169 µs of CPU per request at OrderEntry saturation, 21 against 26 thread wake-ups per request at
    /// 1,000/s (three alternating runs each).
    static func eventLoops(services: Int) -> Int {
        max(1, EventLoopGroup.coreCount / max(1, services))
    }

    /// This binary, to start the services with.
    static func executablePath() throws -> String {
        try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    }
}

/// The addresses in a cluster file, as `local` needs them.
struct ClusterFileAddresses {
    var gateway: String
    var marketData: String
    var risk: String
    var nodes: [(id: String, address: String)]

    init(path: String) throws {
        let json = try JSONValue.parse(try Files.read(path))
        guard let gateway = json["gateway"]?.stringValue, let marketData = json["marketdata"]?.stringValue,
              let risk = json["risk"]?.stringValue, let nodes = json["nodes"]?.arrayValue
        else { throw LocalError("\(path) needs \"gateway\", \"marketdata\", \"risk\" and \"nodes\"") }
        self.gateway = gateway
        self.marketData = marketData
        self.risk = risk
        self.nodes = try nodes.map { node in
            guard let id = node["id"]?.stringValue, let address = node["address"]?.stringValue else { throw LocalError("\(path): a node needs id and address") }
            return (id, address)
        }
    }
}
