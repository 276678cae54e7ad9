public import RPC
public import EventLoop
public import Transport

/// The mesh credential: the shared secret from the cluster file that every call between Tradewire's own services
/// carries as `authorization: Bearer …`. Internal services (processor, risk, market data) admit only calls that
/// carry it, so a client that reaches their ports directly gets UNAUTHENTICATED; health checks stay open for probes.
/// Market data's read calls also admit a client's API key (`clientKeys`): clients never need the mesh credential,
/// which stays inside the cluster. Without a `mesh_credential` in the file, internal services admit every call —
/// allowed only when they listen on loopback (a setup on one machine): binding any other address without one is a
/// startup error.
extension ClusterConfig {
    /// A channel to an internal service at host:port whose calls carry the mesh credential and which reconnects
    /// with ``Backoff/mesh``; on `group`'s loops (by default a loop of its own).
    public func channel(_ address: String, group: EventLoopGroup? = nil) throws -> Channel {
        guard let (host, port) = SocketAddressText.split(address) else { throw ClusterConfigError("\(address) is not host:port") }
        var configuration = ChannelConfiguration()
        configuration.backoff = .mesh
        if let meshCredential { configuration.metadata = ["authorization": .string("Bearer \(meshCredential)")] }
        return try Channel(host: host, port: port, configuration: configuration, group: group)
    }

    /// How an internal service listens on `address`: admitting only calls with the mesh credential (and, for
    /// `clientMethods`, a client's API key from `clientKeys`). Throws when the file sets no mesh credential and
    /// `address` is not a loopback one.
    public func internalServer(_ address: SocketAddress, clientKeys: APIKeys? = nil, clientMethods: Set<String> = []) throws
        -> ServerConfiguration
    {
        if meshCredential == nil, !Self.isLoopback(address) {
            throw ClusterConfigError("listening on \(address) needs a \"mesh_credential\" in the cluster file: without one, any client that reaches the port could call internal services")
        }
        var configuration = ServerConfiguration(addresses: [address])
        configuration.admission = admission(clientKeys: clientKeys, clientMethods: clientMethods)
        return configuration
    }

    static func isLoopback(_ address: SocketAddress) -> Bool {
        address.host.hasPrefix("127.") || address.host == "::1"
    }

    /// Refuses calls without the mesh credential (health checks stay open); with `clientKeys`, `clientMethods`
    /// (full paths, "/tradewire.v1.MarketData/GetQuote") also admit a valid API key. Nil when the file sets no
    /// mesh credential. A second `authorization` header is refused: which one counts must not depend on order.
    public func admission(clientKeys: APIKeys? = nil, clientMethods: Set<String> = []) -> CallAdmission? {
        guard let meshCredential else { return nil }
        let expected = Array(meshCredential.utf8)
        return { method, metadata in
            if method.service == "grpc.health.v1.Health" { return nil }
            let headers = metadata.values("authorization")
            guard headers.count == 1, let token = APIKeys.bearerToken(headers[0]) else {
                return RPCError(code: .unauthenticated, message: headers.count > 1
                    ? "\(headers.count) authorization headers: send exactly one"
                    : "\(method.service) needs a credential: \"authorization: Bearer <credential>\"")
            }
            if ConstantTime.equal(Array(token.utf8), expected) { return nil }
            if let clientKeys, clientMethods.contains(method.path), clientKeys.entry(forKey: token) != nil { return nil }
            return RPCError(code: .unauthenticated, message: clientMethods.contains(method.path)
                ? "the credential presented is neither an API key nor the mesh's"
                : "\(method.service)/\(method.method) is internal: the credential presented is not the mesh's")
        }
    }

    /// Refuses calls without the mesh credential; nil when the file sets none.
    public var meshAdmission: CallAdmission? { admission() }
}

/// Comparisons of secrets whose time does not depend on where they differ.
public enum ConstantTime {
    public static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
