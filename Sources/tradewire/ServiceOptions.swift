import ArgumentParser
import Cluster
import Hosting
import Logging
import Telemetry
import Transport
import EventLoop

#if canImport(Glibc)
import Glibc
#endif

/// What every `serve` command takes: the cluster file, logging, and how long a graceful shutdown may take. Each
/// option falls back to an environment variable (a container's way) and then to its default.
struct ServiceOptions: ParsableArguments {
    @Option(help: "The cluster file (JSON). Environment: TRADEWIRE_CONFIG.")
    var config: String?

    @Option(help: "trace, debug, info, notice, warning, error or critical; debug logs each request with its id. Environment: TRADEWIRE_LOG_LEVEL.")
    var logLevel: String?

    @Option(help: "json or text (default: text on a terminal, else json). Environment: TRADEWIRE_LOG_FORMAT.")
    var logFormat: String?

    @Option(help: "Seconds a graceful shutdown (SIGTERM) may take before the process exits anyway.")
    var shutdownTimeout: Double = 10

    @Option(help: """
        Event-loop threads for connections and channels, \(Self.eventLoopRange.lowerBound)–\(Self.eventLoopRange.upperBound) \
        (default: one per core). Fewer when several services share the cores. Environment: TRADEWIRE_EVENT_LOOPS.
        """)
    var eventLoops: Int?

    /// The event loops a service may be given.
    static let eventLoopRange = 1...256

    /// The cluster file: its path, its text (services read their own sections from it) and the cluster in it.
    func clusterFile() throws -> (path: String, text: String, cluster: ClusterConfig) {
        guard let path = config ?? Environment.value("TRADEWIRE_CONFIG") else {
            throw ValidationError("no cluster file: pass --config or set TRADEWIRE_CONFIG")
        }
        let text = try Files.read(path)
        return (path, text, try ClusterConfig.parse(text, path: path))
    }

    /// Sets up logging and metrics for `name` and makes the process's host for its service.
    func host(_ name: String, grace: Duration = .seconds(1)) throws -> ServiceHost {
        try ServiceHost(name: name, telemetry: bootstrap(service: name), loops: loops(), grace: grace)
    }

    func validate() throws { _ = try loops() }

    /// `--event-loops`, else TRADEWIRE_EVENT_LOOPS, else one per core; checked against ``eventLoopRange``.
    private func loops() throws -> Int {
        let text = eventLoops.map(String.init) ?? Environment.value("TRADEWIRE_EVENT_LOOPS")
        guard let text else { return EventLoopGroup.coreCount }
        guard let count = Int(text), Self.eventLoopRange.contains(count) else {
            let range = Self.eventLoopRange
            throw ValidationError("event loops: \(text) is not a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return count
    }

    /// Runs `service` on `host` until SIGTERM or SIGINT, then stops it gracefully; once it listens, logs so and
    /// prints the line `announce` makes of the bound addresses on standard output (what `tradewire local` and the
    /// tests wait for). A graceful stop that takes longer than `--shutdown-timeout` exits with status 1 (what was
    /// acknowledged is durable either way); a fatal condition the service reported exits with status 70.
    func serve(_ service: some HostedService, on host: ServiceHost, logger: Logger,
               announce: @escaping @Sendable ([SocketAddress]) -> (line: String, metadata: Logger.Metadata)) async throws
    {
        let bound = shutdownTimeout
        let signals = Task {
            await Signals.waitForTermination()
            guard !Task.isCancelled else { return }
            logger.notice("shutting down", metadata: ["timeout_s": "\(bound)"])
            host.beginGracefulShutdown()
            try? await Task.sleep(for: .seconds(bound))
            guard !Task.isCancelled else { return }
            logger.critical("shutdown did not finish in time: exiting now", metadata: ["timeout_s": "\(bound)"])
            Glibc.exit(1)
        }
        defer { signals.cancel() }
        let started = ContinuousClock.now
        do {
            try await host.run(service) { addresses in
                let (line, metadata) = announce(addresses)
                logger.notice("listening", metadata: metadata)
                print(line)
                fflush(nil)
            }
        } catch let failure as ServiceFailure {
            logger.critical("stopped", metadata: ["reason": "\(failure)"])
            Glibc.exit(70)
        }
        logger.notice("stopped", metadata: ["took": "\(ContinuousClock.now - started)"])
    }

    /// Makes swift-log and swift-metrics write to this process's telemetry.
    private func bootstrap(service: String) throws -> Telemetry {
        let levelText = logLevel ?? Environment.value("TRADEWIRE_LOG_LEVEL") ?? "info"
        guard let level = Logger.Level(rawValue: levelText) else {
            throw ValidationError("log level \(levelText) is not one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var format = LogFormat.automatic
        if let formatText = logFormat ?? Environment.value("TRADEWIRE_LOG_FORMAT") {
            guard let chosen = LogFormat(rawValue: formatText) else { throw ValidationError("log format \(formatText) is not json or text") }
            format = chosen
        }
        return Telemetry.bootstrap(service: service, logLevel: level, format: format)
    }
}

enum Environment {
    static func value(_ name: String) -> String? {
        guard let raw = getenv(name) else { return nil }
        let text = String(cString: raw)
        return text.isEmpty ? nil : text
    }
}
