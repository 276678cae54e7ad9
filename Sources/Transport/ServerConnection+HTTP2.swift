import EventLoop
import HTTP2
import RPC

/// The HTTP/2 session's events, routed to calls; the calls' stream operations, done on the session.
extension ServerConnection: HTTP2SessionDelegate, ServerCallTransport {
    func http2(_ session: HTTP2Session, didReceiveHeaders headers: [HTTP2HeaderField], streamID: Int32,
               endStream: Bool, oversized: Bool)
    {
        let fields = headers
        if let call = calls[streamID] {
            call.receiveHeaders(fields, endStream: endStream, oversized: oversized)
            return
        }
        if !machine.acceptsStreams || handlers.isFull {
            // Nothing of the stream was processed: a gRPC client may send it again (on another connection).
            session.reset(streamID: streamID, errorCode: .refusedStream)
            return
        }
        let call = ServerCall(
            streamID: streamID, transport: self, executionContext: loop, router: router,
            limits: configuration.calls, peer: peer, memory: requestMemory, handlers: handlers)
        calls[streamID] = call
        idleTimer?.cancel()
        call.receiveHeaders(fields, endStream: endStream, oversized: oversized)
    }

    func http2(_ session: HTTP2Session, didReceiveData data: UnsafeRawBufferPointer, streamID: Int32) {
        if let call = calls[streamID] {
            call.receiveData(data)
        } else {
            session.consume(streamID: streamID, bytes: data.count)  // Keep the connection window open.
        }
    }

    func http2(_ session: HTTP2Session, didReceiveEndStream streamID: Int32) {
        calls[streamID]?.receiveEnd()
    }

    func http2(_ session: HTTP2Session, streamClosed streamID: Int32, errorCode: HTTP2ErrorCode) {
        calls[streamID]?.streamClosed(errorCode: errorCode.rawValue)
        calls[streamID] = nil
        callsChanged()
    }

    func http2(_ session: HTTP2Session, didReceivePing opaque: UInt64, ack: Bool) {
        if ack {
            if opaque == Self.shutdownPingOpaque { sendFinalGoAway() }
        } else {
            enforceKeepalive()
        }
    }

    func http2(_ session: HTTP2Session, didReceiveGoAway lastStreamID: Int32, errorCode: HTTP2ErrorCode, debugData: [UInt8]) {
        // The client is leaving: let its calls finish; the session stops wanting reads once they have.
    }

    func http2(_ session: HTTP2Session, streamIsWritable streamID: Int32) {
        calls[streamID]?.streamWritable()
    }

    func http2SessionQueuedOutput(_ session: HTTP2Session) {
        requestFlush()
    }

    // MARK: - ServerCallTransport

    func sendHeaders(streamID: Int32, _ headers: [(name: String, value: String)], endStream: Bool) {
        try? session.submitResponse(streamID: streamID, headers: headers, endStream: endStream)
    }

    func sendData(streamID: Int32, _ bytes: [UInt8]) {
        session.enqueue(streamID: streamID, bytes)
    }

    func sendTrailers(streamID: Int32, _ trailers: [(name: String, value: String)]) {
        session.finish(streamID: streamID, trailers: trailers)
    }

    func resetStream(streamID: Int32, errorCode: UInt32) {
        session.reset(streamID: streamID, errorCode: HTTP2ErrorCode(errorCode))
    }

    func resetAfterResponse(streamID: Int32, errorCode: UInt32) {
        session.resetAfterEnd(streamID: streamID, errorCode: HTTP2ErrorCode(errorCode))
    }

    func consume(streamID: Int32, bytes: Int) {
        session.consume(streamID: streamID, bytes: bytes)
    }

    func isBlocked(streamID: Int32) -> Bool {
        session.isBlocked(streamID: streamID)
    }

    func callEnded(streamID: Int32) {
        // The stream entry goes when nghttp2 reports the stream closed; nothing to do before that.
    }
}
