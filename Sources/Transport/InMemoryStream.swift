import RPC

/// One call of an ``InMemoryTransport``: its `ClientCall` and `ServerCall`, and what each has sent the other
/// (headers, data, END_STREAM, trailers, a reset after the response) queued in order. A later loop turn delivers
/// the queues, data only as far as the receiver's window allows, so neither side is re-entered from inside its
/// own call. The stream closes when both sides have ended or either reset it; then both calls hear
/// `streamClosed`, as from an HTTP/2 session.
///
/// Loop thread only.
final class InMemoryStream: @unchecked Sendable {
    // @unchecked Sendable: every property is touched on the transport's loop only.
    let id: Int32
    private let transport: InMemoryTransport
    private var client: ClientCall!
    private var server: ServerCall!
    private var clientEnd: ClientEnd!
    private var serverEnd: ServerEnd!
    private var toServer = Direction()
    private var toClient = Direction()
    private var closed = false
    private var pumpScheduled = false

    enum Item {
        case headers([(name: String, value: String)], endStream: Bool)
        case data([UInt8])
        /// END_STREAM without trailers (the request's end).
        case end
        /// The sender resets the stream once everything before it is delivered.
        case reset(UInt32)
    }

    struct Direction {
        var items: [Item] = []
        /// Data bytes queued and not yet delivered.
        var queuedBytes = 0
        /// Data bytes delivered and not yet given back by the receiver (`consume`).
        var unconsumed = 0
        /// The sender was told to wait; it hears `streamWritable` once the queue drains below half the watermark.
        var senderWaits = false
        var ended = false
    }

    init(id: Int32, transport: InMemoryTransport) {
        self.id = id
        self.transport = transport
    }

    /// Creates both calls and hands the request headers to the server.
    func open(method: MethodDescriptor, metadata: Metadata, options: CallOptions) -> ClientCall {
        let context = transport.context
        let now = context.now()
        var deadline = options.timeout.map { now + UInt64($0.nanoseconds) }
        if let absolute = options.deadline { deadline = min(deadline ?? absolute, absolute) }
        var headers: [(name: String, value: String)] = [
            (":method", "POST"), (":scheme", "http"), (":path", method.path), (":authority", "in-memory"),
            ("content-type", "application/grpc"), ("te", "trailers"),
        ]
        if options.compression != .identity { headers.append(("grpc-encoding", options.compression.rawValue)) }
        if let deadline { headers.append(("grpc-timeout", GRPCTimeout.format(nanoseconds: deadline > now ? deadline - now : 0))) }
        headers += metadata.headerFields
        clientEnd = ClientEnd(stream: self)
        serverEnd = ServerEnd(stream: self)
        client = ClientCall(method: method, streamID: id, transport: clientEnd, executionContext: context, options: options, deadline: deadline)
        server = ServerCall(streamID: id, transport: serverEnd, executionContext: context, router: transport.router,
                            limits: transport.limits, peer: "in-memory")
        server.receiveHeaders(headers, endStream: false, oversized: false)
        return client
    }

    // MARK: - What the ends send

    /// The queue of what goes to the server, or to the client.
    private static func queue(toServer: Bool) -> ReferenceWritableKeyPath<InMemoryStream, Direction> {
        toServer ? \.toServer : \.toClient
    }

    func send(_ item: Item, toServer: Bool) {
        guard !closed else { return }
        let queue = Self.queue(toServer: toServer)
        if case .data(let bytes) = item { self[keyPath: queue].queuedBytes += bytes.count }
        self[keyPath: queue].items.append(item)
        schedulePump()
    }

    /// The receiver took `bytes` of what it was given: the sender's window reopens.
    func consumed(_ bytes: Int, byServer: Bool) {
        self[keyPath: Self.queue(toServer: byServer)].unconsumed -= bytes
        schedulePump()
    }

    /// Whether the sender must wait (its queue is past the watermark); if so it hears `streamWritable` later.
    func isBlocked(sentByServer: Bool) -> Bool {
        let queue = Self.queue(toServer: !sentByServer)
        guard self[keyPath: queue].queuedBytes > transport.flow.highWatermark else { return false }
        self[keyPath: queue].senderWaits = true
        return true
    }

    /// RST_STREAM now: nothing queued is delivered. In a later turn, so the caller is not re-entered.
    func reset(_ code: UInt32) {
        transport.context.execute { self.close(code) }
    }

    // MARK: - Delivery

    private func schedulePump() {
        guard !pumpScheduled else { return }
        pumpScheduled = true
        transport.context.execute { self.pump() }
    }

    private func pump() {
        pumpScheduled = false
        while !closed && (deliverNext(toServer: true) || deliverNext(toServer: false)) {}
        guard !closed else { return }
        wakeWaitingSender(ofServer: false)
        wakeWaitingSender(ofServer: true)
        if toServer.ended && toClient.ended { close(0) }
    }

    /// Delivers the next item one way, if the window lets it; whether something was delivered. The queue is
    /// updated before the receiver hears of the item (which may send, or close the stream).
    private func deliverNext(toServer: Bool) -> Bool {
        let queue = Self.queue(toServer: toServer)
        guard let item = self[keyPath: queue].items.first else { return false }
        switch item {
        case .data(let bytes):
            let room = transport.flow.window - self[keyPath: queue].unconsumed
            guard room > 0 else { return false }
            let count = min(room, bytes.count)
            if count == bytes.count {
                self[keyPath: queue].items.removeFirst()
            } else {
                self[keyPath: queue].items[0] = .data(Array(bytes[count...]))
            }
            self[keyPath: queue].queuedBytes -= count
            self[keyPath: queue].unconsumed += count
            let chunk = count == bytes.count ? bytes : Array(bytes[..<count])
            chunk.withUnsafeBytes { toServer ? server.receiveData($0) : client.receiveData($0) }
        case .headers(let headers, let endStream):
            self[keyPath: queue].items.removeFirst()
            self[keyPath: queue].ended = endStream
            if toServer { server.receiveHeaders(headers, endStream: endStream, oversized: false) } else { client.receiveHeaders(headers, endStream: endStream) }
        case .end:
            self[keyPath: queue].items.removeFirst()
            self[keyPath: queue].ended = true
            if toServer { server.receiveEnd() } else { client.receiveEnd() }
        case .reset(let code):
            close(code)
        }
        return true
    }

    /// A sender told to wait hears `streamWritable` once its queue has drained below half the watermark.
    private func wakeWaitingSender(ofServer: Bool) {
        let queue = Self.queue(toServer: !ofServer)
        guard self[keyPath: queue].senderWaits, self[keyPath: queue].queuedBytes <= transport.flow.highWatermark / 2 else { return }
        self[keyPath: queue].senderWaits = false
        if ofServer { server.streamWritable() } else { client.streamWritable() }
    }

    /// Both calls hear the stream close (`code` 0: after both ends, else a reset); the transport forgets it.
    private func close(_ code: UInt32) {
        guard !closed else { return }
        closed = true
        toServer = Direction()
        toClient = Direction()
        client.streamClosed(errorCode: code)
        server.streamClosed(errorCode: code)
        transport.forget(id)
    }
}

/// The client call's view of its stream.
private final class ClientEnd: ClientCallTransport {
    unowned let stream: InMemoryStream

    init(stream: InMemoryStream) { self.stream = stream }

    func sendData(streamID: Int32, _ bytes: [UInt8]) { stream.send(.data(bytes), toServer: true) }
    func finishRequest(streamID: Int32) { stream.send(.end, toServer: true) }
    func resetStream(streamID: Int32, errorCode: UInt32) { stream.reset(errorCode) }
    func consume(streamID: Int32, bytes: Int) { stream.consumed(bytes, byServer: false) }
    func isBlocked(streamID: Int32) -> Bool { stream.isBlocked(sentByServer: false) }
}

/// The server call's view of its stream.
private final class ServerEnd: ServerCallTransport {
    unowned let stream: InMemoryStream

    init(stream: InMemoryStream) { self.stream = stream }

    func sendHeaders(streamID: Int32, _ headers: [(name: String, value: String)], endStream: Bool) {
        stream.send(.headers(headers, endStream: endStream), toServer: false)
    }
    func sendData(streamID: Int32, _ bytes: [UInt8]) { stream.send(.data(bytes), toServer: false) }
    func sendTrailers(streamID: Int32, _ trailers: [(name: String, value: String)]) {
        stream.send(.headers(trailers, endStream: true), toServer: false)
    }
    func resetStream(streamID: Int32, errorCode: UInt32) { stream.reset(errorCode) }
    func resetAfterResponse(streamID: Int32, errorCode: UInt32) { stream.send(.reset(errorCode), toServer: false) }
    func consume(streamID: Int32, bytes: Int) { stream.consumed(bytes, byServer: true) }
    func isBlocked(streamID: Int32) -> Bool { stream.isBlocked(sentByServer: true) }
    func callEnded(streamID: Int32) {}
}
