import EventLoop

#if canImport(Glibc)
import Glibc
#endif

/// A listening socket on one loop; hands each accepted socket to the server, which picks its loop.
// @unchecked Sendable: confined to `loop`; other threads only hand references to `loop.execute`.
final class Listener: Selectable, @unchecked Sendable {
    let fd: Int32
    let address: SocketAddress
    let loop: EventLoop
    /// Strong, like a connection's: the server's state drops its listeners when it stops.
    let server: ServerShared

    /// Binds and listens (synchronously, so that a bind failure is the caller's error).
    init(address: SocketAddress, backlog: Int32, loop: EventLoop, server: ServerShared) throws(SystemError) {
        let fd = try Socket.tcp(family: address.family)
        do {
            try Socket.setOption(fd, level: SOL_SOCKET, name: SO_REUSEADDR, value: 1)
            if address.family == AF_INET6 { try Socket.setOption(fd, level: Int32(IPPROTO_IPV6), name: IPV6_V6ONLY, value: 1) }
            try Socket.bind(fd, to: address)
            try Socket.listen(fd, backlog: backlog)
            self.address = try Socket.localAddress(fd)
        } catch {
            Socket.close(fd)
            throw error
        }
        self.fd = fd
        self.loop = loop
        self.server = server
    }

    func ready(readable: Bool, writable: Bool) {
        while true {
            do {
                guard case .processed(let client) = try Socket.accept(fd) else { return }
                server.accepted(client)
            } catch {
                // EMFILE and friends: stop for this turn; the next readiness retries.
                return
            }
        }
    }

    /// Stops listening. Loop thread only.
    func close() {
        loop.deregister(fd)
        Socket.close(fd)
    }
}
