#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 or IPv6 address with a port.
public enum SocketAddress: Hashable, Sendable, CustomStringConvertible {
    case v4(host: [UInt8], port: UInt16)
    case v6(host: [UInt8], port: UInt16)

    /// Parses a numeric address ("127.0.0.1", "::1", "[::1]"); nil for names or garbage.
    public init?(host: String, port: Int) {
        guard (0...65535).contains(port) else { return nil }
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, bare, &v4) == 1 {
            self = .v4(host: withUnsafeBytes(of: v4) { Array($0) }, port: UInt16(port))
        } else if inet_pton(AF_INET6, bare, &v6) == 1 {
            self = .v6(host: withUnsafeBytes(of: v6) { Array($0) }, port: UInt16(port))
        } else {
            return nil
        }
    }

    /// Every address `host` resolves to (getaddrinfo; numeric hosts need no lookup), IPv4 first.
    public static func resolve(host: String, port: Int) throws(SystemError) -> [SocketAddress] {
        if let numeric = SocketAddress(host: host, port: port) { return [numeric] }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0 else { throw SystemError("getaddrinfo(\(host)): \(String(cString: gai_strerror(status)))", errno: 0) }
        defer { freeaddrinfo(list) }
        var found: [SocketAddress] = []
        var entry = list
        while let current = entry {
            if let address = current.pointee.ai_addr {
                if Int32(address.pointee.sa_family) == AF_INET {
                    let ipv4 = UnsafeRawPointer(address).load(as: sockaddr_in.self)
                    found.append(.v4(host: withUnsafeBytes(of: ipv4.sin_addr) { Array($0) }, port: UInt16(port)))
                } else if Int32(address.pointee.sa_family) == AF_INET6 {
                    let ipv6 = UnsafeRawPointer(address).load(as: sockaddr_in6.self)
                    found.append(.v6(host: withUnsafeBytes(of: ipv6.sin6_addr) { Array($0) }, port: UInt16(port)))
                }
            }
            entry = current.pointee.ai_next
        }
        var unique: [SocketAddress] = []
        for address in found.sorted(by: { $0.family == AF_INET && $1.family != AF_INET }) where !unique.contains(address) {
            unique.append(address)
        }
        return unique
    }

    /// Parses "host:port", "[v6]:port".
    public init?(_ hostAndPort: String) {
        guard let colon = hostAndPort.lastIndex(of: ":"), let port = Int(hostAndPort[hostAndPort.index(after: colon)...])
        else { return nil }
        self.init(host: String(hostAndPort[..<colon]), port: port)
    }

    public var port: Int {
        switch self {
        case .v4(_, let port), .v6(_, let port): Int(port)
        }
    }

    public var family: Int32 {
        switch self {
        case .v4: AF_INET
        case .v6: AF_INET6
        }
    }

    /// The numeric host ("127.0.0.1", "::1").
    public var host: String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        switch self {
        case .v4(let host, _): _ = host.withUnsafeBytes { inet_ntop(AF_INET, $0.baseAddress, &text, socklen_t(text.count)) }
        case .v6(let host, _): _ = host.withUnsafeBytes { inet_ntop(AF_INET6, $0.baseAddress, &text, socklen_t(text.count)) }
        }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public var description: String {
        switch self {
        case .v4: "\(host):\(port)"
        case .v6: "[\(host)]:\(port)"
        }
    }

    /// Calls `body` with this address as a `sockaddr` and its length.
    func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        switch self {
        case .v4(let host, let port):
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            withUnsafeMutableBytes(of: &address.sin_addr) { $0.copyBytes(from: host) }
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        case .v6(let host, let port):
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &address.sin6_addr) { $0.copyBytes(from: host) }
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
    }

    /// Reads an address with getsockname/getpeername-style `call`.
    static func reading(
        _ name: String, _ call: (UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32
    ) throws(SystemError) -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { call($0, &length) }
        }
        if result != 0 { throw SystemError(name, errno: errno) }
        let family = Int32(storage.ss_family)
        return withUnsafePointer(to: &storage) { pointer -> SocketAddress in
            if family == AF_INET6 {
                let address = UnsafeRawPointer(pointer).load(as: sockaddr_in6.self)
                return .v6(host: withUnsafeBytes(of: address.sin6_addr) { Array($0) }, port: UInt16(bigEndian: address.sin6_port))
            }
            let address = UnsafeRawPointer(pointer).load(as: sockaddr_in.self)
            return .v4(host: withUnsafeBytes(of: address.sin_addr) { Array($0) }, port: UInt16(bigEndian: address.sin_port))
        }
    }
}
