import EventLoop
import HTTP2
import RPC

/// One accepted HTTP/2 connection on one loop: reads feed the HTTP/2 session, its events drive the calls, and
/// what the turn produced leaves gathered in one `send` when the loop flushes (at the end of the turn, and early
/// in a long turn); EPOLLOUT is armed only while output is left over.
///
/// Loop thread only, from creation (`open`) to close.
// @unchecked Sendable: confined to `loop`; other threads only hand references to `loop.execute`.
final class ServerConnection: Selectable, TurnFlushable, @unchecked Sendable {
    let fd: Int32
    let loop: EventLoop
    let configuration: ServerConfiguration
    let router: RPCRouter
    let peer: String
    /// Strong: the server's state holds the connection until it closes, and the connection holds the server until
    /// then, so a server released without a shutdown stays alive until its last connection is gone.
    let server: ServerShared
    var session: HTTP2Session!
    var calls = StreamTable<ServerCall>()

    var output = SocketOutput()
    private var flushRequested = false
    private var writeInterest = false
    /// Keepalive strikes, the drain, and whether to close once the output is written.
    var machine: ServerConnectionStateMachine
    private(set) var closed = false
    private var socketClosed = false
    private var lingerTimer: LoopTimer?

    // Connection lifetime.
    var idleTimer: LoopTimer?
    var ageTimer: LoopTimer?
    var graceTimer: LoopTimer?
    private var handshakeTimer: LoopTimer?
    /// The request data this connection's calls hold (`ServerConfiguration.maxRequestBytesPerConnection`).
    let requestMemory: RequestMemory
    /// Handlers running, reset streams' included; while full, new streams are refused and reads pause.
    let handlers: HandlerSlots
    private var readsPaused = false

    // HTTP/1.1 on the gRPC port (only with `configuration.http1`).
    /// The first bytes, until they tell HTTP/2's preface from anything else; nil once decided.
    var sniffed: [UInt8]?
    /// The HTTP/1.1 side, once the first bytes were not HTTP/2's preface.
    var http1: HTTP1Exchange?
    static let shutdownPingOpaque: UInt64 = 0x7472_6164_6577_6972  // "tradewir"

    init(fd: Int32, loop: EventLoop, server: ServerShared, peer: String) {
        self.fd = fd
        self.loop = loop
        self.server = server
        self.configuration = server.configuration
        self.router = server.router
        self.peer = peer
        requestMemory = RequestMemory(limit: server.configuration.maxRequestBytesPerConnection, parent: server.requestMemory)
        handlers = HandlerSlots(limit: Int(server.configuration.http2.maxConcurrentStreams))
        machine = ServerConnectionStateMachine(keepalive: server.configuration.keepalive)
    }

    /// Starts the session (queueing our SETTINGS) and registers for reads. With `http1`, nothing is sent until
    /// the client's first bytes show it speaks HTTP/2 (a gRPC client sends its preface without waiting for ours).
    func open() throws {
        session = try HTTP2Session(role: .server, settings: configuration.http2, delegate: self)
        if configuration.http1 != nil { sniffed = [] }
        try loop.register(fd, self, readable: true, writable: false)
        handlers.onFreed = { [weak self] in self?.resumeReading() }
        armIdleTimer()
        handshakeTimer = loop.schedule(at: Monotonic.now() + configuration.handshakeTimeout.nanoseconds) { [unowned self] in
            // Neither a complete HTTP/2 preface with SETTINGS nor a whole first HTTP/1.1 request arrived in time.
            if sniffed != nil || (http1.map { $0.served == 0 && !$0.closing } ?? !session.peerSettingsReceived) {
                close()
            }
        }
        if let age = configuration.maxConnectionAge {
            ageTimer = loop.schedule(at: Monotonic.now() + age.nanoseconds) { [unowned self] in
                beginGracefulShutdown(grace: configuration.maxConnectionAgeGrace)
            }
        }
        requestFlush()
    }

    // MARK: - Input

    func ready(readable: Bool, writable: Bool) {
        if closed {
            if readable { drainUntilPeerCloses() }
            return
        }
        if writable { flushAtEndOfTurn() }
        if readable { readAvailable() }
    }

    private func readAvailable() {
        let buffer = loop.readBuffer
        while !closed {
            let result: IOResult<Int>
            do {
                result = try Socket.read(fd, into: buffer)
            } catch {
                close()
                return
            }
            guard case .processed(let count) = result else { break }
            if count == 0 {
                peerClosed()
                return
            }
            do {
                let bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
                if sniffed == nil && http1 == nil {
                    try session.receive(bytes)
                } else {
                    try receiveBeforeHTTP2(bytes)
                }
            } catch {
                // A broken peer (bad preface, flood, protocol error): nghttp2 queued the GOAWAY; send it and close.
                sendWhatIsQueuedAndClose()
                return
            }
            if handlers.isFull && handlers.running > calls.count {
                pauseReading()
                break
            }
            if count < buffer.count { break }
        }
        requestFlush()
    }

    /// Every handler slot is taken and some by streams already closed (reset while their handlers still run): the
    /// client waits, in the kernel's buffers and then its own flow control, until a handler returns. A client whose
    /// open streams fill every slot is read on: its handlers may need its WINDOW_UPDATEs to finish (new streams are
    /// refused meanwhile), and not reading them stalled the connection for good — a gateway with 1,024 calls open to
    /// a node stopped getting its acknowledgements at 25,000 orders/s.
    func pauseReading() {
        guard !readsPaused else { return }
        readsPaused = true
        try? loop.setInterest(fd, readable: false, writable: writeInterest)
    }

    func resumeReading() {
        guard readsPaused, !closed else { return }
        readsPaused = false
        try? loop.setInterest(fd, readable: true, writable: writeInterest)  // Level-triggered: waiting input reports.
    }

    private func peerClosed() {
        for call in calls.values { call.streamClosed(errorCode: 0x8) }
        close()
    }

    // MARK: - Output

    /// Asks to be flushed once at the end of this loop turn.
    func requestFlush() {
        guard !flushRequested, !closed else { return }
        flushRequested = true
        loop.flushAtEndOfTurn(self)
    }

    func flushAtEndOfTurn() {
        flushRequested = false
        guard !closed, sniffed == nil else { return }
        do {
            try output.flush(to: fd) { buffer in
                // Only HTTP/1.1 answers go out on an HTTP/1.1 connection, never the session's SETTINGS.
                guard http1 == nil else { return }
                try session.produceOutput(into: &buffer, limit: configuration.connectionOutputLimit)
            }
        } catch {
            close()
            return
        }
        setWriteInterest(!output.isWritten)
        if http1 != nil { http1OutputDrained() }
        let wantsIO = http1 != nil || session.wantsRead || session.wantsWrite
        if output.isWritten && machine.isDone(sessionWantsIO: wantsIO) { close() }
    }

    private func setWriteInterest(_ wanted: Bool) {
        guard wanted != writeInterest, !closed else { return }
        writeInterest = wanted
        try? loop.setInterest(fd, readable: !readsPaused, writable: wanted)
    }

    /// Flushes what nghttp2 queued (e.g. a GOAWAY) as far as the socket takes it right now, then closes.
    func sendWhatIsQueuedAndClose() {
        try? output.append { try session.produceOutput(into: &$0, limit: configuration.connectionOutputLimit) }
        output.writeOnce(to: fd)
        close()
    }

    /// Ends the connection: calls are cancelled, our side of the socket is shut down, and the socket is closed
    /// once the client closes its side (or after a second). Closing at once with unread input would make the
    /// kernel answer with RST, which discards what the client has not read yet — the final GOAWAY among it.
    func close() {
        guard !closed else { return }
        closed = true
        idleTimer?.cancel()
        handshakeTimer?.cancel()
        ageTimer?.cancel()
        graceTimer?.cancel()
        for call in calls.values { call.streamClosed(errorCode: 0x8) }
        calls.removeAll()
        http1Closed()
        if writeInterest || readsPaused { try? loop.setInterest(fd, readable: true, writable: false) }
        Socket.shutdownWrite(fd)
        lingerTimer = loop.schedule(at: Monotonic.now() + 1_000_000_000) { [unowned self] in closeSocket() }
    }

    /// Reads and drops what the client still sends until it closes its side.
    private func drainUntilPeerCloses() {
        let buffer = loop.readBuffer
        while true {
            switch try? Socket.read(fd, into: buffer) {
            case .processed(let count)? where count > 0: continue
            case .wouldBlock?: return
            default:
                closeSocket()
                return
            }
        }
    }

    private func closeSocket() {
        guard !socketClosed else { return }
        socketClosed = true
        lingerTimer?.cancel()
        loop.deregister(fd)
        Socket.close(fd)
        server.connectionClosed(self)
    }
}
