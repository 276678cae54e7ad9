public import EventLoop
public import HTTP1
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
    /// A connection with no calls for this long is closed gracefully (GOAWAY; a gRPC client reconnects when it
    /// next calls). nil: never.
    public var maxConnectionIdle: Duration? = .seconds(1800)
    /// A connection that has not completed its first bytes — HTTP/2's preface and SETTINGS, or a plain HTTP/1.1
    /// request head — within this long is closed.
    public var handshakeTimeout: Duration = .seconds(10)
    /// Connections open at once; one accepted past it is closed at once (the client sees UNAVAILABLE and retries
    /// with backoff).
    public var maxConnections = 4096
    /// Request data (messages being reassembled, messages not yet read) one connection may hold in memory, and all
    /// connections together (`RequestMemory`): a call that would pass either ends with RESOURCE_EXHAUSTED.
    public var maxRequestBytesPerConnection = 16 << 20
    public var maxRequestBytes = 256 << 20
    /// A connection older than this is closed gracefully (nil: never; gRPC's default)…
    public var maxConnectionAge: Duration?
    /// …after its calls had this long to finish.
    public var maxConnectionAgeGrace: Duration = .seconds(10)
    /// Bytes of output a connection gathers before it stops pulling frames from HTTP/2 (backpressure).
    public var connectionOutputLimit = 256 << 10
    public var listenBacklog: Int32 = 1024
    /// Asked about every call before its handler starts (nil: every call is admitted).
    public var admission: CallAdmission?
    /// Told about connections and, per method, calls (metrics).
    public var observer: (any ServerObserver)?
    /// Answers HTTP/1.1 requests on the gRPC port (a connection whose first bytes are not the HTTP/2 preface):
    /// `/metrics`, `/healthz`, an HTTP/JSON API. Nil: such a connection gets HTTP/2's GOAWAY, as before.
    public var http1: (any HTTP1Service)?
    /// What an HTTP/1.1 request may be: head 16 KiB, 100 fields, body 1 MiB by default (431, 413 beyond).
    public var http1Limits = HTTP1Limits()
    /// A keep-alive HTTP/1.1 connection that waits this long for its next request (or its rest) is closed; the
    /// first request has `handshakeTimeout`.
    public var http1IdleTimeout: Duration = .seconds(60)

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
/// ENHANCE_YOUR_CALM "too_many_pings". A HEADERS or DATA frame written to the connection since the previous ping
/// clears the strikes, as in grpc-go (which clears them as its writer puts those frames out) and C-core.
public struct KeepalivePolicy: Sendable, Hashable {
    public var minimumInterval: Duration = .seconds(300)
    public var permitWithoutCalls = false
    public var maxStrikes = 2

    public init() {}
}

/// What a server tells its metrics: connections opened and closed, and an observer per method it serves.
public protocol ServerObserver: Sendable {
    func callObserver(for method: MethodDescriptor) -> any CallObserver
    func connectionOpened()
    func connectionClosed()
}

