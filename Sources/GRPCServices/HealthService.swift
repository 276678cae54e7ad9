public import ServiceStubs
import Synchronization
import Locks

/// `grpc.health.v1.Health`: the serving status of the server ("") and of each service, and a stream of
/// changes. Unknown services: Check answers NOT_FOUND; Watch reports SERVICE_UNKNOWN and keeps watching.
/// With a `readiness` check, every SERVING status reads NOT_SERVING while the check fails (the same verdict as
/// `/readyz`): Check asks it each time; while a Watch is open, the check is asked every ``readinessPollInterval``
/// and watchers hear of changes (nothing polls while nobody watches).
public final class HealthService: Grpc_Health_V1_Health.ServiceProtocol {
    public typealias Status = Grpc_Health_V1_HealthCheckResponse.ServingStatus

    private struct State {
        var statuses: [String: Status] = ["": .serving]
        var watchers: [Int: (service: String, continuation: AsyncStream<Status>.Continuation)] = [:]
        var nextWatcher = 0
        var ready = true

        func effective(_ service: String) -> Status? {
            guard let status = statuses[service] else { return nil }
            return status == .serving && !ready ? .notServing : status
        }
    }

    private let state = Lock(State())
    private let readiness: (@Sendable () -> Bool)?
    public static let readinessPollInterval: Duration = .milliseconds(100)

    public init(services: [String] = [], readiness: (@Sendable () -> Bool)? = nil) {
        self.readiness = readiness
        state.withLock { state in
            for service in services { state.statuses[service] = .serving }
        }
    }

    /// Sets `service`'s status ("" is the whole server) and tells its watchers.
    public func setStatus(_ status: Status, for service: String) {
        let (watchers, effective) = state.withLock { state in
            state.statuses[service] = status
            return (state.watchers.values.filter { $0.service == service }.map(\.continuation), state.effective(service)!)
        }
        for watcher in watchers { watcher.yield(effective) }
    }

    private func refresh(ready: Bool) {
        let changed = state.withLock { state -> [(AsyncStream<Status>.Continuation, Status)] in
            guard state.ready != ready else { return [] }
            state.ready = ready
            return state.watchers.values.compactMap { watcher in state.effective(watcher.service).map { (watcher.continuation, $0) } }
        }
        for (watcher, status) in changed { watcher.yield(status) }
    }

    /// Marks everything NOT_SERVING (as a server does when it begins shutting down).
    public func markAllNotServing() {
        let services = state.withLock { Array($0.statuses.keys) }
        for service in services { setStatus(.notServing, for: service) }
    }

    public func check(request: Grpc_Health_V1_HealthCheckRequest, context: ServerContext) async throws
        -> Grpc_Health_V1_HealthCheckResponse
    {
        if let readiness { refresh(ready: readiness()) }
        guard let status = state.withLock({ $0.effective(request.service) }) else {
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
        if let readiness { refresh(ready: readiness()) }
        let id = state.withLock { state in
            defer { state.nextWatcher += 1 }
            state.watchers[state.nextWatcher] = (request.service, continuation)
            continuation.yield(state.effective(request.service) ?? .serviceUnknown)
            return state.nextWatcher
        }
        defer { _ = state.withLock { $0.watchers.removeValue(forKey: id) } }
        let readiness = readiness
        try await withTaskCancellationHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                if let readiness {
                    group.addTask {
                        while true {
                            try await Task.sleep(for: Self.readinessPollInterval)
                            self.refresh(ready: readiness())
                        }
                    }
                }
                group.addTask {
                    // A watcher hears changes only: the same status set twice (a shutdown marks NOT_SERVING while
                    // readiness turns it so too) is one message.
                    var last: Status?
                    for await status in updates where status != last {
                        last = status
                        try await responses.write(Grpc_Health_V1_HealthCheckResponse(status: status))
                    }
                }
                try await group.next()
                group.cancelAll()
            }
        } onCancel: {
            continuation.finish()
        }
    }
}
