import EventLoop
import HTTP1
import HTTP2

/// HTTP/1.1 on the gRPC port: a connection whose first bytes are not HTTP/2's client preface is read as HTTP/1.1
/// and its requests are answered by `configuration.http1`, one at a time (a pipelined request waits in the parser
/// until the answer before it is out; reads pause while it holds more than ``http1ReadAhead`` bytes), on a
/// keep-alive connection until either side asks to close or it waits ``ServerConfiguration/http1IdleTimeout`` for
/// a request. A request that cannot be read is answered with the service's refusal and the connection closes.
/// Loop thread only.
extension ServerConnection {
    static let http2Preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    /// Bytes of pipelined requests read ahead while one is answered.
    static let http1ReadAhead = 65_536

    /// Bytes read before the connection is known to speak HTTP/2, or once it is known to speak HTTP/1.1.
    func receiveBeforeHTTP2(_ bytes: UnsafeRawBufferPointer) throws {
        if let exchange = http1 {
            if let webSocket = exchange.webSocket { return receiveWebSocket(bytes, webSocket) }
            guard !exchange.closing else { return }  // Answered an error or a close: the rest is dropped.
            exchange.parser.append(bytes)
            serveNextHTTP1()
            return
        }
        sniffed!.append(contentsOf: bytes)
        let preface = Self.http2Preface
        let compared = min(sniffed!.count, preface.count)
        if sniffed![..<compared].elementsEqual(preface[..<compared]) {
            guard compared == preface.count else { return }  // So far the preface: wait for the rest of it.
            let buffered = sniffed!
            sniffed = nil
            try buffered.withUnsafeBytes { try session.receive($0) }
        } else {
            let exchange = HTTP1Exchange(limits: configuration.http1Limits)
            exchange.parser.append(sniffed!)
            sniffed = nil
            http1 = exchange
            serveNextHTTP1()
        }
    }

    /// Starts the next request the parser has whole, unless one is being answered; answers a 100 Continue when a
    /// head asks for one, and a request that cannot be read with the service's refusal.
    func serveNextHTTP1() {
        guard let exchange = http1, let service = configuration.http1 else { return }
        while exchange.current == nil && !exchange.closing && !closed {
            let event: HTTP1Parser.Event?
            do {
                event = try exchange.parser.next()
            } catch {
                exchange.closing = true
                writeHTTP1(service.refusal(error), keepAlive: false, head: false)
                return
            }
            switch event {
            case nil:
                return
            case .continueExpected:
                output.append { $0 += HTTP1ResponseHead.continueResponse }
                requestFlush()
            case .request(let request):
                exchange.served += 1
                idleTimer?.cancel()
                guard request.target.hasPrefix("/") else {
                    exchange.closing = true
                    writeHTTP1(service.refusal(HTTP1Error(400, "the request target is not a path")), keepAlive: false, head: false)
                    return
                }
                let responder = HTTP1Responder(connection: self, isHead: request.method == "HEAD", keepAlive: request.keepAlive)
                exchange.current = responder
                responder.task = Task(executorPreference: loop) {
                    await service.serve(request, responder)
                    responder.handlerReturned()
                }
            }
        }
        if exchange.current != nil && exchange.parser.buffered > Self.http1ReadAhead { pauseReading() }
    }

    /// Queues a whole response (no body for HEAD, 1xx, 204 and 304).
    func writeHTTP1(_ response: HTTP1Response, keepAlive: Bool, head: Bool) {
        output.append { buffer in
            buffer += response.head.encoded(contentLength: response.body.count, keepAlive: keepAlive)
            if !head && response.status >= 200 && response.status != 204 && response.status != 304 { buffer += response.body }
        }
        if !keepAlive { machine.closeWhenFlushed() }
        requestFlush()
    }

    /// The current request's answer is queued: serve the next one, or close once it is written.
    func http1ExchangeEnded(keepAlive: Bool) {
        guard let exchange = http1 else { return }
        exchange.current = nil
        guard keepAlive && !machine.isDraining else {
            exchange.closing = true
            closeWhenFlushed()
            return
        }
        resumeReading()
        armHTTP1IdleTimer()
        serveNextHTTP1()
    }

    /// Closes a connection that waits `http1IdleTimeout` for its next request (a partial head included).
    func armHTTP1IdleTimer() {
        idleTimer?.cancel()
        let served = http1?.served ?? 0
        idleTimer = loop.schedule(at: Monotonic.now() + configuration.http1IdleTimeout.nanoseconds) { [weak self] in
            guard let self, let exchange = http1, exchange.current == nil, exchange.served == served else { return }
            close()
        }
    }

    /// A graceful shutdown: an idle HTTP/1.1 connection closes now, a busy one after its answer.
    func drainHTTP1() {
        guard let exchange = http1 else { return }
        if let webSocket = exchange.webSocket { return webSocket.close(code: 1001, reason: "the server is shutting down") }
        if exchange.current == nil { closeWhenFlushed() }
    }

    /// After a flush: a streamed answer waiting for room may write again.
    func http1OutputDrained() {
        http1?.webSocket?.outputDrained()
        guard let responder = http1?.current, output.unsent < configuration.connectionOutputLimit else { return }
        responder.resumeWriter(true)
    }

    /// The connection closed: the handler's task is cancelled and a waiting writer told.
    func http1Closed() {
        http1?.webSocket?.end()
        guard let responder = http1?.current else { return }
        responder.connectionClosed()
    }
}

/// The HTTP/1.1 side of a connection: its parser and the request being answered. Loop thread only.
final class HTTP1Exchange {
    var parser: HTTP1Parser
    var current: HTTP1Responder?
    /// No more requests are read: an error was answered, or the connection closes after the answer.
    var closing = false
    /// Requests started (the idle timer's generation).
    var served = 0
    /// The WebSocket the current request was upgraded to: the connection speaks only it from then on.
    var webSocket: WebSocketSession?

    init(limits: HTTP1Limits) { parser = HTTP1Parser(limits: limits) }
}

/// How an ``HTTP1Service`` answers one request: whole (``respond(_:)``), or streamed in chunks (``startStream(_:)``,
/// ``write(_:)``, ``finish()``) — newline-delimited JSON, say. A handler that returns without answering gets a 500;
/// one that returns mid-stream has its stream finished. Any thread: the calls hop to the connection's loop, in
/// order.
public final class HTTP1Responder: @unchecked Sendable {
    // @unchecked Sendable: the state below is touched on the connection's loop only.
    private let loop: EventLoop
    private weak var connection: ServerConnection?
    private let isHead: Bool
    /// Whether the request asked for the connection to stay open after the answer (it closes anyway while the
    /// server drains).
    private let keepAlive: Bool
    private var state = State.waiting
    /// Fields every answer to this request carries (CORS), added before it begins.
    private var extraHeaders: [(name: String, value: String)] = []
    private var writer: CheckedContinuation<Bool, Never>?
    var task: Task<Void, Never>?

    private enum State {
        case waiting, streaming, webSocket, done
    }

    init(connection: ServerConnection, isHead: Bool, keepAlive: Bool) {
        loop = connection.loop
        self.connection = connection
        self.isHead = isHead
        self.keepAlive = keepAlive
    }

    private func onLoop(_ body: @escaping @Sendable () -> Void) {
        if loop.inEventLoop { body() } else { loop.execute(body) }
    }

    /// Adds a field to whatever answer this request gets (a service in front of another, say for CORS).
    public func addHeader(_ name: String, _ value: String) {
        onLoop { [self] in extraHeaders.append((name, value)) }
    }

    /// Answers with `response`; later calls are ignored.
    public func respond(_ response: HTTP1Response) {
        onLoop { [self] in
            guard state == .waiting, let connection else { return }
            state = .done
            var response = response
            response.head.headers += extraHeaders
            let keepAlive = keepAlive && !connection.machine.isDraining
            connection.writeHTTP1(response, keepAlive: keepAlive, head: isHead)
            connection.http1ExchangeEnded(keepAlive: keepAlive)
        }
    }

    /// Sends `head` with a chunked body to follow (``write(_:)``, then ``finish()``).
    public func startStream(_ head: HTTP1ResponseHead) {
        onLoop { [self] in
            guard state == .waiting, let connection else { return }
            state = .streaming
            let keepAlive = keepAlive && !connection.machine.isDraining
            var head = head
            head.headers += extraHeaders
            connection.output.append { $0 += head.encoded(contentLength: nil, keepAlive: keepAlive) }
            connection.requestFlush()
        }
    }

    /// Sends one chunk of a streamed body, waiting while the connection has more than its output limit unsent;
    /// false once the client is gone or the answer is over (stop producing).
    public func write(_ bytes: [UInt8]) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            onLoop { [self] in
                guard state == .streaming, let connection, !connection.closed else { return continuation.resume(returning: false) }
                if !bytes.isEmpty && !isHead {
                    connection.output.append { $0 += HTTP1ResponseHead.chunk(bytes) }
                    connection.requestFlush()
                }
                if connection.output.unsent < connection.configuration.connectionOutputLimit {
                    continuation.resume(returning: true)
                } else {
                    writer = continuation
                }
            }
        }
    }

    /// Accepts `request`, a WebSocket opening handshake (``WebSocket/handshakeProblem(_:)`` must be nil): answers
    /// 101 and hands back the session; the connection speaks only WebSocket from then on, until the session or the
    /// handler ends it (returning from the handler closes it with 1000). Nil if the client is gone or an answer was
    /// already begun.
    public func upgradeToWebSocket(_ request: HTTP1Request, maxMessageBytes: Int = 65_536) async -> WebSocketSession? {
        precondition(WebSocket.handshakeProblem(request) == nil, "not a WebSocket handshake")
        let accept = WebSocket.acceptKey(for: request.header("sec-websocket-key")!)
        return await withCheckedContinuation { (continuation: CheckedContinuation<WebSocketSession?, Never>) in
            onLoop { [self] in
                guard state == .waiting, let connection, !connection.closed, let exchange = connection.http1 else {
                    return continuation.resume(returning: nil)
                }
                state = .webSocket
                let head = HTTP1ResponseHead(status: 101, headers: [("upgrade", "websocket"), ("connection", "Upgrade"), ("sec-websocket-accept", accept)])
                connection.output.append { $0 += head.encoded(contentLength: 0, keepAlive: true) }
                connection.requestFlush()
                let session = WebSocketSession(connection: connection, maxMessageBytes: maxMessageBytes)
                exchange.webSocket = session
                connection.resumeReading()
                let early = exchange.parser.takeBuffered()  // Frames sent right behind the handshake.
                continuation.resume(returning: session)
                if !early.isEmpty {
                    early.withUnsafeBytes { session.parser.append($0) }
                    session.parse()
                }
            }
        }
    }

    /// Ends a streamed body (or answers 500 if nothing was sent).
    public func finish() {
        onLoop { [self] in
            switch state {
            case .webSocket:
                state = .done
                connection?.http1?.webSocket?.close()
            case .waiting:
                respondInternalError()
            case .streaming:
                state = .done
                resumeWriter(false)
                guard let connection else { return }
                if !isHead { connection.output.append { $0 += HTTP1ResponseHead.lastChunk } }
                connection.requestFlush()
                connection.http1ExchangeEnded(keepAlive: keepAlive)
            case .done:
                break
            }
        }
    }

    func handlerReturned() {
        onLoop { [self] in
            task = nil
            finish()
        }
    }

    private func respondInternalError() {
        respond(HTTP1Response(status: 500, text: "the handler returned without an answer\n"))
    }

    func resumeWriter(_ open: Bool) {
        guard let writer else { return }
        self.writer = nil
        writer.resume(returning: open)
    }

    func connectionClosed() {
        state = .done
        resumeWriter(false)
        task?.cancel()
    }
}

/// Answers HTTP/1.1 requests on a gRPC server's port (``ServerConfiguration/http1``).
public protocol HTTP1Service: Sendable {
    /// Answers `request` through `responder`. Runs in a task that prefers the connection's loop; cancelled when
    /// the connection closes.
    func serve(_ request: HTTP1Request, _ responder: HTTP1Responder) async

    /// The answer to bytes that are not a request this server reads (malformed, over a bound); the connection
    /// closes after it.
    func refusal(_ error: HTTP1Error) -> HTTP1Response
}

extension HTTP1Service {
    public func refusal(_ error: HTTP1Error) -> HTTP1Response {
        HTTP1Response(status: error.status, text: error.message + "\n")
    }
}
