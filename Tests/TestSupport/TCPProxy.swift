import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A TCP proxy on 127.0.0.1 for fault tests: each accepted connection is forwarded to `127.0.0.1:target`.
/// `freeze()` stops moving bytes on the connections open at that moment — they stay open and silent, like a peer
/// that hangs or a connection that died without a word — while connections made later are forwarded as usual.
/// One thread polls every socket; `stop()` ends it and closes everything.
public final class TCPProxy: @unchecked Sendable {
    // @unchecked Sendable: `pairs` and `listener` belong to the proxy's thread; the rest is behind `control`.
    public let port: Int
    private let target: Int
    private let listener: Int32
    private var pairs: [(client: Int32, server: Int32, generation: Int)] = []
    private let control = Mutex((frozenBelow: 0, generation: 0, stopping: false))
    private let finished = Mutex(false)

    public init(target: Int) throws {
        self.target = target
        let (fd, port) = try Peers.boundSocket()
        guard listen(fd, 64) == 0 else {
            close(fd)
            throw Peers.Missing(description: "the proxy could not listen")
        }
        listener = fd
        self.port = port
        let thread = Thread { [self] in run() }
        thread.start()
    }

    /// Stops forwarding on every connection open now; they stay open.
    public func freeze() {
        control.withLock { $0.frozenBelow = $0.generation + 1 }
    }

    /// Ends the proxy's thread and closes every socket.
    public func stop() {
        control.withLock { $0.stopping = true }
        while !finished.withLock({ $0 }) { usleep(1000) }
    }

    private func run() {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let (frozenBelow, stopping) = control.withLock { ($0.frozenBelow, $0.stopping) }
            if stopping { break }
            let live = pairs.filter { $0.generation >= frozenBelow }
            var fds = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
            for pair in live {
                fds.append(pollfd(fd: pair.client, events: Int16(POLLIN), revents: 0))
                fds.append(pollfd(fd: pair.server, events: Int16(POLLIN), revents: 0))
            }
            guard poll(&fds, nfds_t(fds.count), 20) > 0 else { continue }
            if fds[0].revents & Int16(POLLIN) != 0 { accept() }
            var closed: Set<Int32> = []
            for (index, pair) in live.enumerated() {
                for (from, to, entry) in [(pair.client, pair.server, fds[1 + 2 * index]), (pair.server, pair.client, fds[2 + 2 * index])]
                where entry.revents != 0 {
                    let count = read(from, &buffer, buffer.count)
                    if count <= 0 || !write(all: buffer[0..<count], to: to) { closed.insert(pair.client) }
                }
            }
            for pair in pairs where closed.contains(pair.client) {
                close(pair.client)
                close(pair.server)
            }
            pairs.removeAll { closed.contains($0.client) }
        }
        for pair in pairs {
            close(pair.client)
            close(pair.server)
        }
        close(listener)
        finished.withLock { $0 = true }
    }

    private func accept() {
        let client = Glibc.accept(listener, nil, nil)
        guard client >= 0 else { return }
        let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(target).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(client)
            close(server)
            return
        }
        let generation = control.withLock { state -> Int in
            state.generation += 1
            return state.generation
        }
        pairs.append((client, server, generation))
    }

    private func write(all bytes: ArraySlice<UInt8>, to fd: Int32) -> Bool {
        var offset = bytes.startIndex
        while offset < bytes.endIndex {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            guard written > 0 else { return false }
            offset += written
        }
        return true
    }
}
