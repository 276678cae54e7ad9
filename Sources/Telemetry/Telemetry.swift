import CoreMetrics
public import Logging
public import Prometheus
import RPC
public import HTTP1
public import Transport
import Synchronization
import Locks

/// A service's operational surface: its metrics registry (Prometheus text), the observer its gRPC server reports
/// calls and connections to, the HTTP/1.1 answers on its port (``HTTPMetrics``), its readiness checks, and the plain
/// HTTP endpoints on the gRPC port: `GET /metrics`, `GET /healthz` (the process serves) and `GET /readyz` (every
/// readiness check passes; then status lines).
///
/// `bootstrap` makes one the process's: swift-log writes through ``LineLogHandler`` and swift-metrics records into
/// its registry, so that every module's metrics (journal, actors, subscribers) appear on `/metrics`.
public final class Telemetry: Sendable {
    public let service: String
    public let registry: PrometheusCollectorRegistry
    public let factory: PrometheusMetricsFactory
    private let checks = Lock<[(name: String, check: @Sendable () -> String?)]>([])
    private let statuses = Lock<[(name: String, lines: @Sendable () -> [String])]>([])
    private let stopping = Atomic<Bool>(false)

    /// Latency buckets from 25 µs to 10 s: a call on this platform takes tens of microseconds.
    public static let latencyBuckets: [Duration] = [
        .microseconds(25), .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500),
        .milliseconds(1), .microseconds(2500), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
        .microseconds(2_500_000), .seconds(5), .seconds(10),
    ]
    /// Buckets for counts (batch sizes, queue depths): powers of two to 16384.
    public static let countBuckets: [Double] = (0...14).map { Double(1 << $0) }

    public init(service: String, registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.service = service
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = Self.latencyBuckets
        factory.defaultValueHistogramBuckets = Self.countBuckets
        self.factory = factory
    }

    /// Makes this the process's logging and metrics backend. Once per process, before any `Logger` is made.
    public static func bootstrap(service: String, logLevel: Logger.Level, format: LogFormat) -> Telemetry {
        let telemetry = Telemetry(service: service)
        LoggingSystem.bootstrap { label in LineLogHandler(service: service, label: label, level: logLevel, format: format) }
        MetricsSystem.bootstrap(telemetry.factory)
        return telemetry
    }

    /// Adds a readiness check: nil when ready, else why not. `/readyz` and the gRPC health status follow them.
    public func addReadinessCheck(_ name: String, _ check: @escaping @Sendable () -> String?) {
        checks.withLock { $0.append((name, check)) }
    }

    /// Adds lines that `/readyz` shows after its verdict, ready or not (how far a follower is behind, say):
    /// `tradewire health` prints them.
    public func addStatus(_ name: String, _ lines: @escaping @Sendable () -> [String]) {
        statuses.withLock { $0.append((name, lines)) }
    }

    /// The status lines, each prefixed with its name.
    public func statusLines() -> [String] {
        statuses.withLock { $0 }.flatMap { entry in entry.lines().map { "\(entry.name): \($0)" } }
    }

    /// From now on `/readyz` answers 503 (a graceful shutdown began: load balancers should stop sending).
    public func beginStopping() {
        stopping.store(true, ordering: .relaxed)
    }

    /// Why the service is not ready, one line per failing check; empty when ready.
    public func unreadiness() -> [String] {
        if stopping.load(ordering: .relaxed) { return ["shutting down"] }
        let current = checks.withLock { $0 }
        return current.compactMap { entry in entry.check().map { "\(entry.name): \($0)" } }
    }

    /// Observes `configuration`'s server and answers HTTP/1.1 on its port: `/metrics`, `/healthz` and `/readyz`
    /// (``respond(to:)``), then whatever HTTP the server already serves (a service's HTTP/JSON API).
    public func instrument(_ configuration: inout ServerConfiguration) {
        configuration.observer = ServerMetrics(factory: factory)
        configuration.http1 = TelemetryHTTP(telemetry: self, metrics: HTTPMetrics(factory: factory), next: configuration.http1)
    }

    /// The paths ``respond(to:)`` answers.
    public static let paths: Set<Substring> = ["/metrics", "/healthz", "/readyz"]

    /// `GET /metrics`, `/healthz`, `/readyz`; anything else 404, other methods 405.
    public func respond(to request: HTTP1Request) -> HTTP1Response {
        guard request.method == "GET" || request.method == "HEAD" else {
            return HTTP1Response(status: 405, text: "only GET\n")
        }
        switch request.path {
        case "/metrics":
            var body: [UInt8] = []
            registry.emit(into: &body)
            return HTTP1Response(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: body)
        case "/healthz":
            return HTTP1Response(status: 200, text: "ok\n")
        case "/readyz":
            let reasons = unreadiness()
            let lines = (reasons.isEmpty ? ["ready"] : reasons) + statusLines()
            return HTTP1Response(status: reasons.isEmpty ? 200 : 503, text: lines.joined(separator: "\n") + "\n")
        default:
            return HTTP1Response(status: 404, text: "\(service) serves gRPC here, and GET /metrics, /healthz, /readyz\n")
        }
    }
}

/// The operational endpoints in front of a server's own HTTP/1.1 service, if it has one.
struct TelemetryHTTP: HTTP1Service {
    let telemetry: Telemetry
    let metrics: HTTPMetrics
    let next: (any HTTP1Service)?

    func serve(_ request: HTTP1Request, _ responder: HTTP1Responder) async {
        metrics.observe(request, responder)
        if let next, !Telemetry.paths.contains(request.path) { return await next.serve(request, responder) }
        responder.respond(telemetry.respond(to: request))
    }

    func refusal(_ error: HTTP1Error) -> HTTP1Response {
        let response = next?.refusal(error) ?? HTTP1Response(status: error.status, text: error.message + "\n")
        metrics.refused(response.status)
        return response
    }
}
