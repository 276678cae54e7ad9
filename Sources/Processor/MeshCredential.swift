public import RPC
public import EventLoop
public import Telemetry
public import Transport

/// The mesh credential: the shared secret from the cluster file that every call between Tradewire's own services
/// carries as `authorization: Bearer …`. Internal services (processor, risk, market data) admit only calls that
/// carry it, so a client that reaches their ports directly gets UNAUTHENTICATED; health checks stay open for probes.
/// Without a `mesh_credential` in the file, internal services admit every call (a setup on one machine).
extension ClusterConfig {
    /// A channel to an internal service at host:port whose calls carry the mesh credential.
    public func channel(_ address: String) throws -> Channel {
        guard let (host, port) = SocketAddressText.split(address) else { throw ClusterConfigError("\(address) is not host:port") }
        var configuration = ChannelConfiguration()
        if let meshCredential { configuration.metadata = ["authorization": .string("Bearer \(meshCredential)")] }
        return try Channel(host: host, port: port, configuration: configuration)
    }

    /// How an internal service listens on `address`: admitting only calls with the mesh credential, with its
    /// metrics and HTTP endpoints when `telemetry` is given.
    public func internalServer(_ address: SocketAddress, telemetry: Telemetry?) -> ServerConfiguration {
        var configuration = ServerConfiguration(addresses: [address])
        configuration.admission = meshAdmission
        telemetry?.instrument(&configuration)
        return configuration
    }

    /// Refuses calls without the mesh credential; nil when the file sets none.
    public var meshAdmission: CallAdmission? {
        guard let meshCredential else { return nil }
        let expected = Array("Bearer \(meshCredential)".utf8)
        return { method, metadata in
            if method.service == "grpc.health.v1.Health" { return nil }
            guard let presented = metadata["authorization"] else {
                return RPCError(code: .unauthenticated, message: "\(method.service) is internal: calls need the mesh credential")
            }
            guard ConstantTime.equal(Array(presented.utf8), expected) else {
                return RPCError(code: .unauthenticated, message: "\(method.service) is internal: the credential presented is not the mesh's")
            }
            return nil
        }
    }
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
