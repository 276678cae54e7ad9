import EventLoop
import HTTP2
import RPC

/// The HTTP/2 session's events routed to client calls, and the calls' stream operations.
extension ClientConnection: HTTP2SessionDelegate, ClientCallTransport {
    func http2(_ session: HTTP2Session, didReceiveHeaders headers: [HTTP2HeaderField], streamID: Int32,
               endStream: Bool, oversized: Bool)
    {
        guard let call = calls[streamID] else { return }
        if oversized {
            call.connectionFailed(RPCError(code: .resourceExhausted, message: "response header list exceeds the limit"))
            session.reset(streamID: streamID, errorCode: .cancel)
            return
        }
        call.receiveHeaders(headers, endStream: endStream)
    }

    func http2(_ session: HTTP2Session, didReceiveData data: UnsafeRawBufferPointer, streamID: Int32) {
        if let call = calls[streamID] {
            call.receiveData(data)
        } else {
            session.consume(streamID: streamID, bytes: data.count)
        }
        requestFlush()
    }

    func http2(_ session: HTTP2Session, didReceiveEndStream streamID: Int32) {
        calls[streamID]?.receiveEnd()
    }

    func http2(_ session: HTTP2Session, streamClosed streamID: Int32, errorCode: HTTP2ErrorCode) {
        calls[streamID]?.streamClosed(errorCode: errorCode.rawValue)
        calls[streamID] = nil
        if machine.flushesToClose(hasCalls: !calls.isEmpty) {
            requestFlush()  // which closes (see flushAtEndOfTurn)
        } else {
            startWaitingCallsLater()
        }
    }

    func http2(_ session: HTTP2Session, didReceivePing opaque: UInt64, ack: Bool) {}

    func http2(_ session: HTTP2Session, didReceiveGoAway lastStreamID: Int32, errorCode: HTTP2ErrorCode, debugData: [UInt8]) {
        // Streams the server never processed fail as UNAVAILABLE (safe to retry); the rest may finish.
        for (streamID, call) in calls where streamID > lastStreamID {
            call.connectionFailed(RPCError(code: .unavailable, message: "the server is going away (GOAWAY \(errorCode))"))
            calls[streamID] = nil
        }
        let tooManyPings = errorCode == .enhanceYourCalm && String(decoding: debugData, as: UTF8.self) == "too_many_pings"
        switch machine.goAwayReceived(tooManyPings: tooManyPings) {
        case .fail:
            fail(RPCError(code: .unavailable, message: "the server closed the connection: too_many_pings"))
        case .drain(let announce):
            if announce { onStateChange?(self, .draining, nil) }
            requestFlush()
        }
    }

    func http2(_ session: HTTP2Session, streamIsWritable streamID: Int32) {
        calls[streamID]?.streamWritable()
    }

    func http2SessionQueuedOutput(_ session: HTTP2Session) {
        requestFlush()
    }

    // MARK: - ClientCallTransport

    func sendData(streamID: Int32, _ bytes: [UInt8]) {
        session.enqueue(streamID: streamID, bytes)
    }

    func finishRequest(streamID: Int32) {
        session.finish(streamID: streamID, trailers: nil)
    }

    func resetStream(streamID: Int32, errorCode: UInt32) {
        session.reset(streamID: streamID, errorCode: HTTP2ErrorCode(errorCode))
    }

    func consume(streamID: Int32, bytes: Int) {
        session.consume(streamID: streamID, bytes: bytes)
    }

    func isBlocked(streamID: Int32) -> Bool {
        session.isBlocked(streamID: streamID)
    }
}
