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
