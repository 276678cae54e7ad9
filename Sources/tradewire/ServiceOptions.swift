import ArgumentParser
import Logging
import Cluster
import Telemetry

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

    /// The cluster file: its path, its text (services read their own sections from it) and the cluster in it.
    func clusterFile() throws -> (path: String, text: String, cluster: ClusterConfig) {
        guard let path = config ?? Environment.value("TRADEWIRE_CONFIG") else {
            throw ValidationError("no cluster file: pass --config or set TRADEWIRE_CONFIG")
        }
        let text = try Files.read(path)
        return (path, text, try ClusterConfig.parse(text, path: path))
    }

    /// Logs that the service listens, and prints `line` on standard output: what `tradewire local` and the tests
    /// wait for.
    func announce(_ logger: Logger, _ line: String, metadata: Logger.Metadata) {
        logger.notice("listening", metadata: metadata)
        print(line)
        fflush(nil)
    }

    /// Makes swift-log and swift-metrics write to this process's telemetry.
    func bootstrap(service: String) throws -> Telemetry {
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

    /// Waits for SIGTERM or SIGINT, then runs `shutdown`; if it has not finished within `--shutdown-timeout`, the
    /// process exits with status 1 (what was acknowledged is in the journal either way).
    func serveUntilTerminated(_ telemetry: Telemetry, logger: Logger, shutdown: @escaping @Sendable () async -> Void) async {
        await Signals.waitForTermination()
        logger.notice("shutting down", metadata: ["timeout_s": "\(shutdownTimeout)"])
        telemetry.beginStopping()
        let started = ContinuousClock.now
        let bound = shutdownTimeout
        let watchdog = Task.detached {
            try await Task.sleep(for: .seconds(bound))
            logger.critical("shutdown did not finish in time: exiting now", metadata: ["timeout_s": "\(bound)"])
            Glibc.exit(1)
        }
        await shutdown()
        watchdog.cancel()
        logger.notice("stopped", metadata: ["took": "\(ContinuousClock.now - started)"])
    }
}

enum Environment {
    static func value(_ name: String) -> String? {
        guard let raw = getenv(name) else { return nil }
        let text = String(cString: raw)
        return text.isEmpty ? nil : text
    }
}
