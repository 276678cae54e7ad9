import CSystemShims

#if canImport(Glibc)
import Glibc
#endif

// Every system call the runtime makes, one namespace per facility. Each wrapper retries EINTR, returns
// `.wouldBlock` on EAGAIN where the call can block, and throws a SystemError carrying errno otherwise.

/// Runs `body` until it stops failing with EINTR; returns its result, or throws for any other error.
@inline(__always)
func retryingInterrupts(_ call: String, _ body: () -> Int) throws(SystemError) -> Int {
    while true {
        let result = body()
        if result >= 0 { return result }
        let code = tw_errno()
        if code != EINTR { throw SystemError(call, errno: code) }
    }
}

/// As retryingInterrupts, but EAGAIN/EWOULDBLOCK is `.wouldBlock` rather than an error.
@inline(__always)
func nonBlocking(_ call: String, _ body: () -> Int) throws(SystemError) -> IOResult<Int> {
    while true {
        let result = body()
        if result >= 0 { return .processed(result) }
        let code = tw_errno()
        if code == EINTR { continue }
        if code == EAGAIN || code == EWOULDBLOCK { return .wouldBlock }
        throw SystemError(call, errno: code)
    }
}

enum Epoll {
    static let readable = UInt32(EPOLLIN.rawValue)
    static let writable = UInt32(EPOLLOUT.rawValue)
    static let hangup = UInt32(EPOLLHUP.rawValue) | UInt32(EPOLLRDHUP.rawValue)
    static let error = UInt32(EPOLLERR.rawValue)

    static func create() throws(SystemError) -> Int32 {
        Int32(try retryingInterrupts("epoll_create1") { Int(tw_epoll_create()) })
    }

    static func add(_ epoll: Int32, fd: Int32, events: UInt32) throws(SystemError) {
        _ = try retryingInterrupts("epoll_ctl(ADD)") {
            Int(tw_epoll_ctl(epoll, EPOLL_CTL_ADD, fd, events | UInt32(EPOLLRDHUP.rawValue), UInt64(fd)))
        }
    }

    static func modify(_ epoll: Int32, fd: Int32, events: UInt32) throws(SystemError) {
        _ = try retryingInterrupts("epoll_ctl(MOD)") {
            Int(tw_epoll_ctl(epoll, EPOLL_CTL_MOD, fd, events | UInt32(EPOLLRDHUP.rawValue), UInt64(fd)))
        }
    }

    static func remove(_ epoll: Int32, fd: Int32) throws(SystemError) {
        _ = try retryingInterrupts("epoll_ctl(DEL)") { Int(tw_epoll_ctl(epoll, EPOLL_CTL_DEL, fd, 0, 0)) }
    }

    /// Waits up to `timeoutMilliseconds` (-1: forever); fills `events`/`data` and returns how many. An
    /// interrupted wait returns 0 rather than retrying, so that the loop re-checks its timers.
    static func wait(
        _ epoll: Int32, events: UnsafeMutablePointer<UInt32>, data: UnsafeMutablePointer<UInt64>, capacity: Int,
        timeoutNanoseconds: Int64
    ) throws(SystemError) -> Int {
        let count = tw_epoll_wait(epoll, events, data, Int32(capacity), timeoutNanoseconds)
        if count >= 0 { return Int(count) }
        let code = tw_errno()
        if code == EINTR { return 0 }
        throw SystemError("epoll_wait", errno: code)
    }
}

enum EventFD {
    static func create() throws(SystemError) -> Int32 {
        Int32(try retryingInterrupts("eventfd") { Int(tw_eventfd()) })
    }

    /// Adds 1 to the counter, waking a loop blocked in epoll_wait. A full counter (EAGAIN) already wakes it.
    static func signal(_ fd: Int32) throws(SystemError) {
        var one: UInt64 = 1
        _ = try nonBlocking("write(eventfd)") { withUnsafeBytes(of: &one) { write(fd, $0.baseAddress, 8) } }
    }

    /// Resets the counter to 0.
    static func drain(_ fd: Int32) throws(SystemError) {
        var value: UInt64 = 0
        _ = try nonBlocking("read(eventfd)") { withUnsafeMutableBytes(of: &value) { read(fd, $0.baseAddress, 8) } }
    }
}

/// TCP sockets, always non-blocking and close-on-exec.
public enum Socket {
    public static func tcp(family: Int32) throws(SystemError) -> Int32 {
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        return Int32(try retryingInterrupts("socket") { Int(socket(family, type, 0)) })
    }

    public static func setOption(_ fd: Int32, level: Int32, name: Int32, value: Int32) throws(SystemError) {
        var value = value
        _ = try retryingInterrupts("setsockopt") {
            Int(setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size)))
        }
    }

    public static func bind(_ fd: Int32, to address: SocketAddress) throws(SystemError) {
        _ = try retryingInterrupts("bind") {
            Int(address.withSockAddr { Glibc.bind(fd, $0, $1) })
        }
    }

    public static func listen(_ fd: Int32, backlog: Int32) throws(SystemError) {
        _ = try retryingInterrupts("listen") { Int(Glibc.listen(fd, backlog)) }
    }

    /// Accepts one connection as a non-blocking, close-on-exec socket.
    public static func accept(_ fd: Int32) throws(SystemError) -> IOResult<Int32> {
        let flags = Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        switch try nonBlocking("accept4", { Int(tw_accept4(fd, nil, nil, flags)) }) {
        case .processed(let client): return .processed(Int32(client))
        case .wouldBlock: return .wouldBlock
        }
    }

    /// Starts connecting; `.wouldBlock` means in progress (EINPROGRESS): wait for writable, then check error().
    public static func connect(_ fd: Int32, to address: SocketAddress) throws(SystemError) -> IOResult<Void> {
        while true {
            let result = address.withSockAddr { Glibc.connect(fd, $0, $1) }
            if result == 0 { return .processed(()) }
            let code = tw_errno()
            if code == EINTR { continue }
            if code == EINPROGRESS { return .wouldBlock }
            throw SystemError("connect", errno: code)
        }
    }

    /// The socket's pending error (SO_ERROR), 0 when none: how a non-blocking connect reports its outcome.
    public static func pendingError(_ fd: Int32) -> Int32 {
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 ? error : tw_errno()
    }

    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> IOResult<Int> {
        try nonBlocking("read") { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }

    /// Sends without raising SIGPIPE on a closed peer (EPIPE is thrown instead).
    public static func send(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) throws(SystemError) -> IOResult<Int> {
        try nonBlocking("send") { Glibc.send(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL)) }
    }

    public static func shutdownWrite(_ fd: Int32) {
        _ = Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    public static func close(_ fd: Int32) {
        _ = Glibc.close(fd)  // EINTR on Linux still closes the descriptor: never retry close.
    }

    public static func localAddress(_ fd: Int32) throws(SystemError) -> SocketAddress {
        try SocketAddress.reading("getsockname") { getsockname(fd, $0, $1) }
    }

    public static func peerAddress(_ fd: Int32) throws(SystemError) -> SocketAddress {
        try SocketAddress.reading("getpeername") { getpeername(fd, $0, $1) }
    }
}

/// Standard error, written with one write(2) per line (no buffering to lose when the process exits next).
public enum StandardError {
    public static func write(_ line: String) {
        let text = line.hasSuffix("\n") ? line : line + "\n"
        _ = text.withCString { Glibc.write(2, $0, strlen($0)) }
    }
}
