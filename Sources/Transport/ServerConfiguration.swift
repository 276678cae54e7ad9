public import EventLoop
public import HTTP2
public import RPC

/// How a ``Server`` listens and what it allows. Defaults follow gRPC's (grpc-go, C-core).
public struct ServerConfiguration: Sendable {
    /// Addresses to listen on; port 0 picks a free port (read it back from ``Server/start()``).
    public var addresses: [SocketAddress]
    /// Event loops (threads) serving connections; default one per core.
    public var loops: Int = EventLoopGroup.coreCount
    public var http2 = HTTP2Settings()
    public var calls = ServerCallLimits()
    public var keepalive = KeepalivePolicy()
    /// A connection with no calls for this long is closed gracefully (nil: never; gRPC's default).
    public var maxConnectionIdle: Duration?
    /// A connection older than this is closed gracefully (nil: never; gRPC's default)…
    public var maxConnectionAge: Duration?
    /// …after its calls had this long to finish.
    public var maxConnectionAgeGrace: Duration = .seconds(10)
    /// Bytes of output a connection gathers before it stops pulling frames from HTTP/2 (backpressure).
    public var connectionOutputLimit = 256 << 10
    public var listenBacklog: Int32 = 1024
    /// Asked about every call before its handler starts (nil: every call is admitted).
    public var admission: CallAdmission?

    public init(addresses: [SocketAddress]) {
        self.addresses = addresses
    }

    /// Listening on 127.0.0.1 at `port` (0: any free port).
    public static func loopback(port: Int = 0) -> ServerConfiguration {
        ServerConfiguration(addresses: [SocketAddress(host: "127.0.0.1", port: port)!])
    }
}

/// The keepalive pings a server tolerates (gRPC's enforcement policy): pings closer together than `minimumInterval`
/// (or, without calls, than two hours) are strikes; more than `maxStrikes` ends the connection with GOAWAY
/// ENHANCE_YOUR_CALM "too_many_pings". Sending headers or data clears the strikes, as in grpc-go.
public struct KeepalivePolicy: Sendable, Hashable {
    public var minimumInterval: Duration = .seconds(300)
    public var permitWithoutCalls = false
    public var maxStrikes = 2

    public init() {}
}
