public import ServiceStubs
import Synchronization
import Locks

/// `grpc.health.v1.Health`: the serving status of the server ("") and of each service, and a stream of
/// changes. Unknown services: Check answers NOT_FOUND; Watch reports SERVICE_UNKNOWN and keeps watching.
public final class HealthService: Grpc_Health_V1_Health.ServiceProtocol {
    public typealias Status = Grpc_Health_V1_HealthCheckResponse.ServingStatus

    private struct State {
        var statuses: [String: Status] = ["": .serving]
        var watchers: [Int: (service: String, continuation: AsyncStream<Status>.Continuation)] = [:]
        var nextWatcher = 0
    }

    private let state = Lock(State())

    public init(services: [String] = []) {
        state.withLock { state in
            for service in services { state.statuses[service] = .serving }
        }
    }

    /// Sets `service`'s status ("" is the whole server) and tells its watchers.
    public func setStatus(_ status: Status, for service: String) {
        let watchers = state.withLock { state in
            state.statuses[service] = status
            return state.watchers.values.filter { $0.service == service }.map(\.continuation)
        }
        for watcher in watchers { watcher.yield(status) }
    }

    /// Marks everything NOT_SERVING (as a server does when it begins shutting down).
    public func markAllNotServing() {
        let services = state.withLock { Array($0.statuses.keys) }
        for service in services { setStatus(.notServing, for: service) }
    }

    public func check(request: Grpc_Health_V1_HealthCheckRequest, context: ServerContext) async throws
        -> Grpc_Health_V1_HealthCheckResponse
    {
        guard let status = state.withLock({ $0.statuses[request.service] }) else {
            throw RPCError(code: .notFound, message: "unknown service \(Echo.quote(request.service))")
        }
        return Grpc_Health_V1_HealthCheckResponse(status: status)
    }

    public func watch(
        request: Grpc_Health_V1_HealthCheckRequest, responses: RPCResponseWriter<Grpc_Health_V1_HealthCheckResponse>,
        context: ServerContext
    ) async throws {
        // Only the newest status matters: a slow watcher skips intermediate ones instead of queueing them.
        let (updates, continuation) = AsyncStream.makeStream(of: Status.self, bufferingPolicy: .bufferingNewest(1))
        let id = state.withLock { state in
            defer { state.nextWatcher += 1 }
            state.watchers[state.nextWatcher] = (request.service, continuation)
            continuation.yield(state.statuses[request.service] ?? .serviceUnknown)
            return state.nextWatcher
        }
        defer { _ = state.withLock { $0.watchers.removeValue(forKey: id) } }
        try await withTaskCancellationHandler {
            for await status in updates {
                try await responses.write(Grpc_Health_V1_HealthCheckResponse(status: status))
            }
        } onCancel: {
            continuation.finish()
        }
    }
}
