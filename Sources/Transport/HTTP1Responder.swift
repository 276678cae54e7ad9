import EventLoop
import HTTP1

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
    /// Told the status of the answer once its head is written (``onAnswer(_:)``).
    private var answerObservers: [@Sendable (Int) -> Void] = []
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

    /// Calls `observer` on the connection's loop with the answer's status once its head is written (101 for a
    /// WebSocket upgrade, 500 for a handler that returned without answering); never if the connection closed first.
    /// For a service in front of another (metrics, access logs).
    public func onAnswer(_ observer: @escaping @Sendable (Int) -> Void) {
        onLoop { [self] in answerObservers.append(observer) }
    }

    private func answered(_ status: Int) {
        let observers = answerObservers
        answerObservers = []
        for observer in observers { observer(status) }
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
            answered(response.status)
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
            answered(head.status)
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
                answered(101)
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
