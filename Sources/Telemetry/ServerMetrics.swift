import CoreMetrics
import Prometheus
import RPC
import Synchronization
import Transport
import Locks

/// A gRPC server's metrics, named as grpc-ecosystem's go-grpc-prometheus names them:
/// `grpc_server_started_total`, `grpc_server_handled_total` (by code), `grpc_server_handling_seconds` (histogram),
/// plus `grpc_server_in_flight` and `grpc_server_connections`.
final class ServerMetrics: ServerObserver {
    let factory: PrometheusMetricsFactory
    let connections: CoreMetrics.Meter

    init(factory: PrometheusMetricsFactory) {
        self.factory = factory
        connections = CoreMetrics.Meter(label: "grpc_server_connections", factory: factory)
    }

    func callObserver(for method: MethodDescriptor) -> any CallObserver {
        MethodMetrics(method: method, factory: factory)
    }

    func connectionOpened() { connections.increment() }
    func connectionClosed() { connections.decrement() }
}

/// One method's metrics. The handled counters are made the first time a code is seen, so `/metrics` lists only
/// the codes that happened.
final class MethodMetrics: CallObserver {
    private let dimensions: [(String, String)]
    private let factory: PrometheusMetricsFactory
    private let startedCalls: CoreMetrics.Counter
    private let inFlight: CoreMetrics.Meter
    private let latency: CoreMetrics.Timer
    private let handled = Lock<[CoreMetrics.Counter?]>(Array(repeating: nil, count: 17))

    init(method: MethodDescriptor, factory: PrometheusMetricsFactory) {
        dimensions = [("grpc_service", method.service), ("grpc_method", method.method)]
        self.factory = factory
        startedCalls = CoreMetrics.Counter(label: "grpc_server_started_total", dimensions: dimensions, factory: factory)
        inFlight = CoreMetrics.Meter(label: "grpc_server_in_flight", dimensions: dimensions, factory: factory)
        latency = CoreMetrics.Timer(label: "grpc_server_handling_seconds", dimensions: dimensions, factory: factory)
    }

    func started() {
        startedCalls.increment()
        inFlight.increment()
    }

    func ended(_ code: RPCError.Code, nanoseconds: UInt64) {
        inFlight.decrement()
        latency.recordNanoseconds(Int64(clamping: nanoseconds))
        counter(for: code).increment()
    }

    private func counter(for code: RPCError.Code) -> CoreMetrics.Counter {
        let index = Int(code.rawValue)
        return handled.withLock { counters in
            if counters.indices.contains(index), let counter = counters[index] { return counter }
            let counter = CoreMetrics.Counter(
                label: "grpc_server_handled_total", dimensions: dimensions + [("grpc_code", "\(code)")], factory: factory)
            if counters.indices.contains(index) { counters[index] = counter }
            return counter
        }
    }
}
