internal import CNGHTTP2

// nghttp2's callbacks, as C function pointers. `userData` is the HTTP2Session (unretained: the session owns the
// nghttp2 session, so it is alive whenever nghttp2 calls back).

extension HTTP2Session {
    static func install(_ callbacks: OpaquePointer?) {
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, onBeginHeaders)
        nghttp2_session_callbacks_set_on_header_callback(callbacks, onHeader)
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, onFrameReceived)
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, onDataChunk)
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, onStreamClose)
        nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, onFrameSent)
        nghttp2_session_callbacks_set_on_frame_not_send_callback(callbacks, onFrameNotSent)
    }

    /// The data provider every stream with a body uses: reads from the stream's OutboundStream.
    func dataProvider() -> nghttp2_data_provider {
        nghttp2_data_provider(source: nghttp2_data_source(ptr: nil), read_callback: readOutbound)
    }

    /// Runs `body` with the session behind `userData`, borrowed: no retain and release per callback.
    @inline(__always)
    static func with<Result>(_ userData: UnsafeMutableRawPointer?, _ body: (HTTP2Session) -> Result) -> Result {
        Unmanaged<HTTP2Session>.fromOpaque(userData!)._withUnsafeGuaranteedRef(body)
    }
}

private let endStreamFlag = UInt8(NGHTTP2_FLAG_END_STREAM.rawValue)
private let dataType = UInt8(NGHTTP2_DATA.rawValue)
private let headersType = UInt8(NGHTTP2_HEADERS.rawValue)

private let onBeginHeaders: nghttp2_on_begin_headers_callback = { _, frame, userData in
    HTTP2Session.with(userData) { session -> Int32 in
        session.blockStreamID = frame!.pointee.hd.stream_id
        session.blockHeaders.removeAll(keepingCapacity: true)
        session.blockSize = 0
        session.blockOversized = false
        return 0
    }
}

private let onHeader: nghttp2_on_header_callback = { _, frame, name, nameLength, value, valueLength, _, userData in
    HTTP2Session.with(userData) { session -> Int32 in
        // RFC 7541 §4.1 counts 32 bytes of overhead a field. Past the limit the rest is dropped and the block is
        // marked oversized, so the stream can be answered (RESOURCE_EXHAUSTED) rather than the connection dropped.
        session.blockSize += nameLength + valueLength + 32
        if session.blockSize > Int(session.settings.maxHeaderListSize) {
            session.blockOversized = true
            return 0
        }
        let nameText = session.headerStrings.string(name, nameLength)
        let valueText = session.headerStrings.string(value, valueLength)
        session.blockHeaders.append((nameText, valueText))
        return 0
    }
}

private let onFrameReceived: nghttp2_on_frame_recv_callback = { _, frame, userData in
    HTTP2Session.with(userData) { session -> Int32 in
        let header = frame!.pointee.hd
        let endStream = header.flags & endStreamFlag != 0
        switch UInt32(header.type) {
        case NGHTTP2_HEADERS.rawValue:
            guard header.stream_id == session.blockStreamID else { return 0 }
            let headers = session.blockHeaders
            session.blockHeaders.removeAll(keepingCapacity: true)
            session.delegate.http2(
                session, didReceiveHeaders: headers, streamID: header.stream_id, endStream: endStream,
                oversized: session.blockOversized)
        case NGHTTP2_DATA.rawValue:
            if endStream { session.delegate.http2(session, didReceiveEndStream: header.stream_id) }
        case NGHTTP2_PING.rawValue:
            let opaque = withUnsafeBytes(of: frame!.pointee.ping.opaque_data) { $0.loadUnaligned(as: UInt64.self) }
            let ack = header.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) != 0
            session.delegate.http2(session, didReceivePing: UInt64(bigEndian: opaque), ack: ack)
        case NGHTTP2_GOAWAY.rawValue:
            let goaway = frame!.pointee.goaway
            let debug = goaway.opaque_data.map { Array(UnsafeBufferPointer(start: $0, count: goaway.opaque_data_len)) } ?? []
            session.delegate.http2(
                session, didReceiveGoAway: goaway.last_stream_id, errorCode: HTTP2ErrorCode(goaway.error_code),
                debugData: debug)
        case NGHTTP2_SETTINGS.rawValue:
            session.peerSettingsReceived = true
        default:
            break
        }
        return 0
    }
}

private let onDataChunk: nghttp2_on_data_chunk_recv_callback = { _, _, streamID, data, length, userData in
    HTTP2Session.with(userData) { session -> Int32 in
        session.delegate.http2(session, didReceiveData: UnsafeRawBufferPointer(start: data, count: length), streamID: streamID)
        return 0
    }
}

private let onFrameSent: nghttp2_on_frame_send_callback = { nghttp2, frame, userData in
    let header = frame!.pointee.hd
    return HTTP2Session.with(userData) { session -> Int32 in
        if header.type == dataType || header.type == headersType { session.streamFramesSent &+= 1 }
        guard header.flags & endStreamFlag != 0 else { return 0 }
        if let code = session.resetAfterEnd.removeValue(forKey: header.stream_id) {
            _ = nghttp2_submit_rst_stream(nghttp2, UInt8(NGHTTP2_FLAG_NONE.rawValue), header.stream_id, code.rawValue)
        }
        return 0
    }
}

/// A frame nghttp2 could not send. For HEADERS (response headers or trailers too large to encode, say), the
/// stream is reset with INTERNAL_ERROR, so the peer hears that the response failed instead of waiting for it
/// until its deadline.
private let onFrameNotSent: nghttp2_on_frame_not_send_callback = { nghttp2, frame, _, _ in
    let header = frame!.pointee.hd
    guard header.type == UInt8(NGHTTP2_HEADERS.rawValue), header.stream_id > 0 else { return 0 }
    _ = nghttp2_submit_rst_stream(nghttp2, UInt8(NGHTTP2_FLAG_NONE.rawValue), header.stream_id, HTTP2ErrorCode.internalError.rawValue)
    return 0
}

private let onStreamClose: nghttp2_on_stream_close_callback = { _, streamID, errorCode, userData in
    HTTP2Session.with(userData) { session -> Int32 in
        session.recycle(streamID)
        session.resetAfterEnd[streamID] = nil
        session.delegate.http2(session, streamClosed: streamID, errorCode: HTTP2ErrorCode(errorCode))
        return 0
    }
}

private let readOutbound: nghttp2_data_source_read_callback = { nghttp2, streamID, buffer, length, flags, _, userData in
    HTTP2Session.with(userData) { session -> Int in
        guard let stream = session.outbound[streamID] else {
            return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue)  // resets the stream: nothing left to send it
        }
        let count = stream.read(into: buffer!, capacity: length)
        if stream.blocked && stream.queuedBytes < session.settings.outboundHighWatermark / 2 {
            stream.blocked = false
            session.writable.append(streamID)
        }
        if stream.isEmpty {
            if stream.ended {
                flags!.pointee |= UInt32(NGHTTP2_DATA_FLAG_EOF.rawValue)
                if let trailers = stream.trailers {
                    flags!.pointee |= UInt32(NGHTTP2_DATA_FLAG_NO_END_STREAM.rawValue)
                    session.submitTrailers(streamID: streamID, trailers)
                }
            } else if count == 0 {
                stream.deferred = true
                return Int(NGHTTP2_ERR_DEFERRED.rawValue)
            }
        }
        return count
    }
}
