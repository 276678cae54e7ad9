/// The order of a server call's events, as a value: request headers first, then messages until the client's
/// end, while the response goes headers, messages, status (or status alone: Trailers-Only). What breaks the order
/// is sorted three ways on ``Violation``.
struct ServerStreamStateMachine {
    enum Inbound: Equatable {
        /// No request headers yet.
        case awaitingHeaders
        /// Headers accepted; messages may arrive.
        case open
        /// The client half-closed.
        case ended
    }

    enum Outbound: Equatable {
        /// Nothing sent.
        case idle
        /// Response headers sent; messages may follow.
        case headersSent
        /// The status is sent (or the stream was reset): nothing more goes out.
        case closed
    }

    /// Why an event was refused.
    enum Violation: Error, Equatable {
        /// The peer broke the protocol: answer with RST_STREAM(PROTOCOL_ERROR).
        case peerProtocolError(String)
        /// Our own code sent out of order (a bug): assert in debug, drop the stream.
        case ourBug(String)
        /// Legitimately ignored: e.g. a handler writing after the call ended (deadline, client cancel).
        case silentDrop
    }

    private(set) var inbound = Inbound.awaitingHeaders
    private(set) var outbound = Outbound.idle

    var isClosed: Bool { outbound == .closed }

    mutating func receiveHeaders(endStream: Bool) throws(Violation) {
        switch inbound {
        case .awaitingHeaders:
            inbound = endStream ? .ended : .open
        case .open:
            // Trailers from a client: allowed by HTTP/2, carry nothing for gRPC; they must end the stream.
            guard endStream else { throw .peerProtocolError("headers in the middle of a request stream") }
            inbound = .ended
        case .ended:
            throw .peerProtocolError("headers after the end of the request stream")
        }
    }

    mutating func receiveData() throws(Violation) {
        switch inbound {
        case .awaitingHeaders: throw .peerProtocolError("data before request headers")
        case .open: break
        case .ended: throw .peerProtocolError("data after the end of the request stream")
        }
    }

    mutating func receiveEnd() throws(Violation) {
        switch inbound {
        case .awaitingHeaders: throw .peerProtocolError("end of stream before request headers")
        case .open, .ended: inbound = .ended
        }
    }

    enum SendMessageAction: Equatable {
        /// Send response headers, then the message.
        case sendHeadersAndMessage
        case sendMessage
    }

    mutating func sendMessage() throws(Violation) -> SendMessageAction {
        switch outbound {
        case .idle:
            outbound = .headersSent
            return .sendHeadersAndMessage
        case .headersSent:
            return .sendMessage
        case .closed:
            throw .silentDrop
        }
    }

    enum SendStatusAction: Equatable {
        /// No headers went out: the status travels in the headers (Trailers-Only).
        case trailersOnly
        case trailers
    }

    mutating func sendStatus() throws(Violation) -> SendStatusAction {
        switch outbound {
        case .idle:
            outbound = .closed
            return .trailersOnly
        case .headersSent:
            outbound = .closed
            return .trailers
        case .closed:
            throw .silentDrop
        }
    }

    /// The stream was reset (by either side) or the connection went away.
    mutating func reset() {
        outbound = .closed
        inbound = .ended
    }
}
