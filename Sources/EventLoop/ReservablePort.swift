import Synchronization

#if canImport(Glibc)
import Glibc
#endif

extension Socket {
    private static let portsHandedOut = Atomic<Int>(0)

    /// A TCP port on 127.0.0.1 that nothing uses now, for a server to bind later: a cluster file names its
    /// ports before its processes start.
    ///
    /// A port the kernel picks for a bind to port 0 comes from its ephemeral range, where any other socket
    /// bound to port 0 (another server asking for any port, every outgoing connection) may get it again before
    /// our server binds it. These ports come from below that range (10000 up to its start), which only explicit
    /// binds use. Successive calls in one process return different ports, from a starting point that depends on
    /// the process id so that processes side by side rarely try the same ones; each is checked by binding it as a
    /// server would (SO_REUSEADDR), and a busy one is skipped.
    public static func reservablePort() throws(SystemError) -> Int {
        let low = 10_000
        let span = ephemeralRangeStart() - low
        guard span >= 1000 else { return try kernelPickedPort() }
        let start = Int(getpid()) &* 7919 % span
        for _ in 0..<span {
            let port = low + (start + portsHandedOut.wrappingAdd(1, ordering: .relaxed).oldValue) % span
            if isFree(port) { return port }
        }
        throw SystemError("bind", errno: EADDRINUSE)
    }

    /// The first port of the kernel's ephemeral range (net.ipv4.ip_local_port_range; 32768 by default).
    private static func ephemeralRangeStart() -> Int {
        let fd = Glibc.open("/proc/sys/net/ipv4/ip_local_port_range", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return 32768 }
        defer { Glibc.close(fd) }
        var bytes = [UInt8](repeating: 0, count: 64)
        let count = Glibc.read(fd, &bytes, bytes.count)
        let text = String(decoding: bytes.prefix(max(0, count)), as: UTF8.self)
        return text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first.flatMap { Int($0) } ?? 32768
    }

    private static func isFree(_ port: Int) -> Bool {
        guard let fd = try? tcp(family: AF_INET) else { return false }
        defer { close(fd) }
        guard (try? setOption(fd, level: SOL_SOCKET, name: SO_REUSEADDR, value: 1)) != nil else { return false }
        return (try? bind(fd, to: SocketAddress(host: "127.0.0.1", port: port)!)) != nil
    }

    /// Where the ephemeral range leaves no room below it: a port the kernel picks now.
    private static func kernelPickedPort() throws(SystemError) -> Int {
        let fd = try tcp(family: AF_INET)
        defer { close(fd) }
        try bind(fd, to: SocketAddress(host: "127.0.0.1", port: 0)!)
        return try localAddress(fd).port
    }
}
