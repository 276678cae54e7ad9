import CoreMetrics
import EventLoop
import HTTP1
import Locks
import Prometheus
import Transport

/// The HTTP/1.1 side of a server's port (HTTP/JSON, the dashboard, the operational endpoints), beside the gRPC
/// metrics: `http_server_requests_total{method, code}` counts answers by method and status, and
/// `http_server_response_seconds{method}` is the time from the request to its answer's head (for a stream, its
/// first line; for a WebSocket, the upgrade). Requests the parser refused (malformed, over a bound) count with
/// method `"-"`. Labels are bounded: the method is one of the nine RFC 9110 methods or `"other"`, the status a
/// three-digit number this server wrote; paths are never labels (a caller could make them unbounded).
final class HTTPMetrics: Sendable {
    private let factory: PrometheusMetricsFactory
    private let counters = Lock<[String: CoreMetrics.Counter]>([:])
    private let timers = Lock<[String: CoreMetrics.Timer]>([:])

    static let methods: Set<String> = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]

    init(factory: PrometheusMetricsFactory) {
        self.factory = factory
    }

    static func method(_ method: String) -> String { methods.contains(method) ? method : "other" }

    /// Counts `request`'s answer when its head is written.
    func observe(_ request: HTTP1Request, _ responder: HTTP1Responder) {
        let method = Self.method(request.method)
        let start = ContinuousClock.now
        responder.onAnswer { [self] status in
            timer(method).recordNanoseconds(Int64(clamping: (ContinuousClock.now - start).nanoseconds))
            counter(method, status).increment()
        }
    }

    /// Counts an answer to bytes the parser refused.
    func refused(_ status: Int) {
        counter("-", status).increment()
    }

    private func counter(_ method: String, _ status: Int) -> CoreMetrics.Counter {
        counters.withLock { counters in
            let key = "\(method) \(status)"
            if let counter = counters[key] { return counter }
            let counter = CoreMetrics.Counter(label: "http_server_requests_total", dimensions: [("method", method), ("code", "\(status)")],
                                              factory: factory)
            counters[key] = counter
            return counter
        }
    }

    private func timer(_ method: String) -> CoreMetrics.Timer {
        timers.withLock { timers in
            if let timer = timers[method] { return timer }
            let timer = CoreMetrics.Timer(label: "http_server_response_seconds", dimensions: [("method", method)], factory: factory)
            timers[method] = timer
            return timer
        }
    }
}
