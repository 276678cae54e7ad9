import EventLoop
import HTTP2
import RPC

#if canImport(Glibc)
import Glibc
#endif

/// One client HTTP/2 connection on one loop: connects without blocking, then carries calls. Output is gathered
/// and written when the loop flushes, as on the server.
///
/// Loop thread only, except the immutable properties.
// @unchecked Sendable: confined to `loop`; other threads only hand references to `loop.execute`.
final class ClientConnection: Selectable, TurnFlushable, @unchecked Sendable {
    typealias State = ClientConnectionStateMachine.State

    let address: SocketAddress
    let loop: EventLoop
    let settings: HTTP2Settings
    private(set) var fd: Int32 = -1
    /// Its life as a value (``ClientConnectionStateMachine``); the HTTP/2 extension reports GOAWAY and closed
    /// streams to it.
    var machine = ClientConnectionStateMachine()
    var state: State { machine.state }
    var session: HTTP2Session!
    var calls: [Int32: ClientCall] = [:]
    /// Calls waiting for a stream (the server's MAX_CONCURRENT_STREAMS is reached).
    private var waitingStarts: [() -> Void] = []
    /// Told of every state change (the subchannel), on the loop.
    var onStateChange: ((ClientConnection, State, RPCError?) -> Void)?

    private var output = SocketOutput()
    private var flushRequested = false
    private var writeInterest = false
    private var connectTimer: LoopTimer?
    static let outputLimit = 256 << 10

    /// The request headers every call sends, :path and per-call fields aside (built once: formatting the
    /// address for :authority on every call was measurable).
    private let commonRequestHeaders: [(String, String)]

    init(address: SocketAddress, loop: EventLoop, settings: HTTP2Settings) {
        self.address = address
        self.loop = loop
        self.settings = settings
        commonRequestHeaders = [
            (":method", "POST"), (":scheme", "http"), (":authority", address.description),
            ("content-type", "application/grpc"), ("te", "trailers"), ("user-agent", "tradewire/0.1"),
            ("grpc-accept-encoding", "identity,gzip"),
        ]
    }

    /// Starts connecting; the outcome arrives through `onStateChange`.
    func connect(timeout: Duration) {
        do {
            fd = try Socket.tcp(family: address.family)
            try? Socket.setOption(fd, level: Int32(IPPROTO_TCP), name: TCP_NODELAY, value: 1)
            switch try Socket.connect(fd, to: address) {
            case .processed:
                try loop.register(fd, self, readable: true, writable: false)
                connected()
            case .wouldBlock:
                try loop.register(fd, self, readable: false, writable: true)
                writeInterest = true
                connectTimer = loop.schedule(at: Monotonic.now() + timeout.nanoseconds) { [unowned self] in
                    fail(RPCError(code: .unavailable, message: "connecting to \(address) timed out"))
                }
            }
        } catch {
            fail(RPCError(code: .unavailable, message: "connecting to \(address): \(error)"))
        }
    }

    private func connected() {
        connectTimer?.cancel()
        guard machine.connected() else { return }
        do {
            session = try HTTP2Session(role: .client, settings: settings, delegate: self)
        } catch {
            fail(RPCError(code: .internal, message: "HTTP/2 session: \(error)"))
            return
        }
        setInterest(writable: false)
        requestFlush()
        onStateChange?(self, .ready, nil)
    }

    // MARK: - Calls

    /// Opens a stream for a call and hands the call to `completion` (or the failure); waits for a free stream
    /// when the server's limit is reached. Loop thread only.
    func startCall(
        method: MethodDescriptor, metadata: Metadata, options: CallOptions, deadline: UInt64?,
        completion: @escaping (Result<ClientCall, RPCError>) -> Void
    ) {
        guard machine.acceptsCalls else {
            completion(.failure(RPCError(code: .unavailable, message: "the connection to \(address) is not ready")))
            return
        }
        guard session.canOpenStream else {
            waitingStarts.append { [unowned self] in
                startCall(method: method, metadata: metadata, options: options, deadline: deadline, completion: completion)
            }
            return
        }
        var headers = [(":path", method.path)]
        headers.reserveCapacity(commonRequestHeaders.count + 3 + metadata.count)
        headers += commonRequestHeaders
        if options.compression != .identity { headers.append(("grpc-encoding", options.compression.rawValue)) }
        if let deadline {
            let now = Monotonic.now()
            headers.append(("grpc-timeout", GRPCTimeout.format(nanoseconds: deadline > now ? deadline - now : 0)))
        }
        if !metadata.isEmpty { headers += metadata.headerFields }
        let streamID: Int32
        do {
            streamID = try session.submitRequest(headers: headers, endStream: false)
        } catch {
            completion(.failure(RPCError(code: .unavailable, message: "opening a stream: \(error)")))
            return
        }
        let call = ClientCall(
            method: method, streamID: streamID, transport: self, executionContext: loop, options: options,
            deadline: deadline)
        calls[streamID] = call
        completion(.success(call))
    }

    /// Starts calls that waited for a stream, once nghttp2 has counted the closed one (after this callback).
    func startWaitingCallsLater() {
        guard !waitingStarts.isEmpty else { return }
        loop.execute { [self] in
            while !waitingStarts.isEmpty && machine.acceptsCalls && session.canOpenStream {
                waitingStarts.removeFirst()()
            }
        }
    }

    var activeCalls: Int { calls.count + waitingStarts.count }

    // MARK: - I/O

    func ready(readable: Bool, writable: Bool) {
        if state == .connecting {
            guard writable || readable else { return }
            let error = Socket.pendingError(fd)
            if error != 0 {
                fail(RPCError(code: .unavailable, message: "connecting to \(address): \(SystemError("connect", errno: error))"))
            } else {
                connected()
            }
            return
        }
        if writable { flushAtEndOfTurn() }
        if readable { readAvailable() }
    }

    private func readAvailable() {
        let buffer = loop.readBuffer
        while state != .closed {
            let result: IOResult<Int>
            do {
                result = try Socket.read(fd, into: buffer)
            } catch {
                fail(RPCError(code: .unavailable, message: "reading from \(address): \(error)"))
                return
            }
            guard case .processed(let count) = result else { break }
            if count == 0 {
                fail(RPCError(code: .unavailable, message: "the server at \(address) closed the connection"))
                return
            }
            do {
                try session.receive(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            } catch {
                fail(RPCError(code: .internal, message: "HTTP/2 error from \(address): \(error)"))
                return
            }
            if count < buffer.count { break }
        }
        requestFlush()
    }

    func requestFlush() {
        guard !flushRequested, machine.isOpen else { return }
        flushRequested = true
        loop.flushAtEndOfTurn(self)
    }

    func flushAtEndOfTurn() {
        flushRequested = false
        guard machine.isOpen else { return }
        guard writeOutput() else { return }
        if machine.closesAfterFlush(hasCalls: !calls.isEmpty, outputWritten: output.isWritten) { close() }
    }

    /// Writes what the session has to send, as far as the socket takes it; false if the connection failed.
    private func writeOutput() -> Bool {
        do {
            try output.flush(to: fd) { try session.produceOutput(into: &$0, limit: Self.outputLimit) }
        } catch {
            fail(RPCError(code: .unavailable, message: "writing to \(address): \(error)"))
            return false
        }
        setInterest(writable: !output.isWritten)
        return true
    }

    private func setInterest(writable: Bool) {
        guard writable != writeInterest, fd >= 0 else { return }
        writeInterest = writable
        try? loop.setInterest(fd, readable: true, writable: writable)
    }

    // MARK: - Ending

    /// Fails every call with `failure` and closes.
    func fail(_ failure: RPCError) {
        guard machine.closing() else { return }
        let calls = Array(self.calls.values)
        self.calls.removeAll()
        let waiting = waitingStarts
        waitingStarts.removeAll()
        releaseSocket()
        for call in calls { call.connectionFailed(failure) }
        // Waiting starts see the closed state and fail with UNAVAILABLE.
        for start in waiting { start() }
        onStateChange?(self, .closed, failure)
    }

    /// Closes gracefully: no new calls; closes once the current ones end. Not from inside a session callback
    /// (see ``closeFromCallback()``).
    func close() {
        switch machine.closeRequested(hasCalls: !calls.isEmpty) {
        case .closeNow:
            if session != nil {
                session.goAway(errorCode: .noError)
                _ = writeOutput()
            }
            guard machine.closing() else { return }  // writeOutput may have failed the connection
            releaseSocket()
            onStateChange?(self, .closed, nil)
        case .drain:
            onStateChange?(self, .draining, nil)
        case .nothing:
            break
        }
    }

    /// ``close()`` from inside a session callback, where writing would re-enter nghttp2 and the output buffer it
    /// may be filling (a stream closing during `produceOutput`): the connection drains, and the flush closes it
    /// once no call is left.
    func closeFromCallback() {
        if machine.closeFromCallback() { onStateChange?(self, .draining, nil) }
        requestFlush()
    }

    private func releaseSocket() {
        connectTimer?.cancel()
        if fd >= 0 {
            loop.deregister(fd)
            Socket.close(fd)
            fd = -1
        }
    }
}
