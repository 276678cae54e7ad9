public import EventLoop
public import RPC
public import Transport

/// One of Tradewire's services as its ``ServiceHost`` runs it: the gRPC services and where to listen, what must be
/// in memory before the server listens, what it follows from other services while it serves, and what it closes
/// after. The host owns the server, grpc.health.v1, readiness, the process's loops and the order of it all.
public protocol HostedService: Sendable {
    /// What runs it. Services take their host when they are made: its loops carry their channels and cores, and
    /// they report fatal conditions to it.
    var host: ServiceHost { get }
    /// The gRPC services to serve; the host adds grpc.health.v1.
    var rpcServices: [any RPCService] { get }
    /// Where and how to listen; the host adds its call observer and the HTTP endpoints.
    var serverConfiguration: ServerConfiguration { get }
    /// Readiness checks, each nil when ready, else why not. `/readyz` and grpc.health.v1 both follow them.
    var readinessChecks: [ReadinessCheck] { get }
    /// Lines `/readyz` shows after its verdict (how far a follower is behind); `tradewire health` prints them.
    var statusLines: [StatusLines] { get }
    /// Loads what must be in memory before the server listens (a journal's replay, a store). Throwing stops the
    /// host before it listens.
    func prepare() async throws
    /// Follows other services' streams while this one serves: a child task of the host's `run`, cancelled once the
    /// server has drained. Returns when cancelled.
    func follow() async
    /// After the server has drained and `follow` has returned: writes what is left, closes stores and channels.
    func close() async
}

public struct ReadinessCheck: Sendable {
    public var name: String
    public var check: @Sendable () -> String?

    public init(_ name: String, _ check: @escaping @Sendable () -> String?) {
        self.name = name
        self.check = check
    }
}

public struct StatusLines: Sendable {
    public var name: String
    public var lines: @Sendable () -> [String]

    public init(_ name: String, _ lines: @escaping @Sendable () -> [String]) {
        self.name = name
        self.lines = lines
    }
}

extension HostedService {
    public var readinessChecks: [ReadinessCheck] { [] }
    public var statusLines: [StatusLines] { [] }
    public func prepare() async throws {}
    public func follow() async {}
    public func close() async {}

    /// Runs the service on its host in a task of the host's, returning once it listens (tests, benchmarks).
    @discardableResult
    public func start() async throws -> [SocketAddress] {
        try await host.start(self)
    }

    /// Stops what ``start()`` started, gracefully, and waits for it.
    public func shutdown() async {
        await host.shutdown()
    }
}
