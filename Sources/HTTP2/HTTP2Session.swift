internal import CNGHTTP2

/// One HTTP/2 connection's protocol state, driven by nghttp2 and never touching a socket: feed it the bytes that
/// arrived (``receive(_:)``), collect the bytes to send (``produceOutput(into:limit:)``), and hear about streams
/// through its ``HTTP2SessionDelegate``. Both sides send their own SETTINGS first.
///
/// Not thread-safe: one thread (the connection's loop) owns a session.
public final class HTTP2Session {
    public enum Role: Sendable { case server, client }

    public let role: Role
    public let settings: HTTP2Settings
    public unowned(unsafe) var delegate: HTTP2SessionDelegate
    // Set once in init (after `self` can be handed to nghttp2 as user data), never changed.
    private(set) var session: OpaquePointer!
    var outbound = StreamTable<OutboundStream>()
    /// Finished OutboundStreams, reused by the next streams.
    var outboundPool: [OutboundStream] = []

    // The header block being received. HTTP/2 forbids interleaving frames inside a block, so one suffices.
    var blockStreamID: Int32 = 0
    var blockHeaders: [HTTP2HeaderField] = []
    var blockSize = 0
    var blockOversized = false
    var headerStrings = HeaderStringCache()
    // Scratch space for header lists being submitted (see withNameValues).
    private var scratchBytes: [UInt8] = []
    private var scratchRanges: [(Int, Int, Int, Int)] = []
    private var scratchList: [nghttp2_nv] = []

    /// Streams to reset (with this code) once the frame ending our side of them has been sent.
    var resetAfterEnd: [Int32: HTTP2ErrorCode] = [:]
    /// Streams that drained below half the high watermark during produceOutput; announced after it.
    var writable: [Int32] = []
    /// The peer's first SETTINGS frame has arrived (for a server: the client's preface is complete).
    public internal(set) var peerSettingsReceived = false
    /// HEADERS and DATA frames handed out by ``produceOutput(into:limit:)`` so far (wrapping): what keepalive
    /// enforcement compares, since gRPC servers forgive a ping that follows data written, not data queued.
    public internal(set) var streamFramesSent: UInt64 = 0

    /// - Parameter delegate: kept unowned: the delegate owns the session and outlives it.
    public init(role: Role, settings: HTTP2Settings = HTTP2Settings(), delegate: HTTP2SessionDelegate)
        throws(HTTP2SessionError)
    {
        self.role = role
        self.settings = settings
        self.delegate = delegate
        var callbacks: OpaquePointer?
        nghttp2_session_callbacks_new(&callbacks)
        defer { nghttp2_session_callbacks_del(callbacks) }
        Self.install(callbacks)
        var option: OpaquePointer?
        nghttp2_option_new(&option)
        defer { nghttp2_option_del(option) }
        // Windows reopen as the application consumes data (consume(streamID:bytes:)), not as bytes arrive.
        nghttp2_option_set_no_auto_window_update(option, 1)
        nghttp2_option_set_stream_reset_rate_limit(option, settings.resetRateBurst, settings.resetRatePerSecond)
        nghttp2_option_set_max_continuations(option, settings.maxContinuations)
        nghttp2_option_set_max_outbound_ack(option, 1000)
        nghttp2_option_set_max_settings(option, 32)
        nghttp2_option_set_peer_max_concurrent_streams(option, 100)
        // RFC 9110 §5.5: a field value's surrounding whitespace is not part of it. The receiver trims it
        // (`Metadata`) rather than resetting the stream, as RFC 9113's strict check would.
        nghttp2_option_set_no_rfc9113_leading_and_trailing_ws_validation(option, 1)
        var created: OpaquePointer?
        let unmanaged = Unmanaged.passUnretained(self).toOpaque()
        let result =
            role == .server
            ? nghttp2_session_server_new2(&created, callbacks, unmanaged, option)
            : nghttp2_session_client_new2(&created, callbacks, unmanaged, option)
        guard result == 0, let created else { throw Self.error(result) }
        session = created
        try submitInitialSettings()
    }

    deinit {
        nghttp2_session_del(session)
    }

    private func submitInitialSettings() throws(HTTP2SessionError) {
        var entries = [
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue), value: settings.maxConcurrentStreams),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue), value: settings.initialWindowSize),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_FRAME_SIZE.rawValue), value: settings.maxFrameSize),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue), value: settings.maxHeaderListSize),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_HEADER_TABLE_SIZE.rawValue), value: settings.headerTableSize),
        ]
        if role == .client {
            entries.append(nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_ENABLE_PUSH.rawValue), value: 0))
        }
        var result = nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &entries, entries.count)
        guard result == 0 else { throw Self.error(result) }
        let extra = Int32(clamping: Int64(settings.connectionWindowSize) - 65_535)
        if extra > 0 {
            result = nghttp2_submit_window_update(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, extra)
            guard result == 0 else { throw Self.error(result) }
        }
    }

    // MARK: - Input and output

    /// Feeds bytes that arrived from the peer. Delegate callbacks happen during this call. Throws for a
    /// connection-ending error (bad preface, flood, protocol violation); nghttp2 has then queued a GOAWAY when
    /// one is due, so produce output once more before closing.
    public func receive(_ bytes: UnsafeRawBufferPointer) throws(HTTP2SessionError) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        let result = nghttp2_session_mem_recv(session, base.assumingMemoryBound(to: UInt8.self), bytes.count)
        if result < 0 { throw Self.error(Int32(result)) }
    }

    /// Appends frames to send to `buffer` until nghttp2 has nothing more or `buffer` holds at least `limit`
    /// bytes (the rest stays queued in nghttp2 and in the streams' queues: backpressure).
    public func produceOutput(into buffer: inout [UInt8], limit: Int) throws(HTTP2SessionError) {
        defer { announceWritable() }
        while buffer.count < limit {
            var data: UnsafePointer<UInt8>?
            let count = nghttp2_session_mem_send(session, &data)
            if count < 0 { throw Self.error(Int32(count)) }
            guard count > 0, let data else { return }
            buffer.append(contentsOf: UnsafeBufferPointer(start: data, count: count))
        }
    }

    /// Tells the delegate which streams drained, outside nghttp2's callbacks so that it may queue more.
    private func announceWritable() {
        guard !writable.isEmpty else { return }
        let streams = writable
        writable.removeAll(keepingCapacity: true)
        for streamID in streams { delegate.http2(self, streamIsWritable: streamID) }
    }

    /// Whether the session still expects input; false after GOAWAY exchanges or a fatal error.
    public var wantsRead: Bool { nghttp2_session_want_read(session) != 0 }

    /// Whether the session has frames to send (that flow control allows).
    public var wantsWrite: Bool { nghttp2_session_want_write(session) != 0 }

    // MARK: - Streams

    /// Sends response headers (server). With `endStream`, the headers end the stream (gRPC Trailers-Only).
    public func submitResponse(streamID: Int32, headers: [HTTP2HeaderField], endStream: Bool)
        throws(HTTP2SessionError)
    {
        let result = withNameValues(headers) { list, count in
            if endStream { return nghttp2_submit_response(session, streamID, list, count, nil) }
            var provider = dataProvider()
            return nghttp2_submit_response(session, streamID, list, count, &provider)
        }
        if !endStream { outbound[streamID] = makeOutbound() }
        if result != 0 { throw Self.error(result) }
        delegate.http2SessionQueuedOutput(self)
    }

    /// Opens a stream with request headers (client); the body follows through ``enqueue(streamID:_:)``.
    /// Returns the new stream's ID.
    public func submitRequest(headers: [HTTP2HeaderField], endStream: Bool) throws(HTTP2SessionError) -> Int32 {
        let streamID = withNameValues(headers) { list, count in
            if endStream { return nghttp2_submit_request(session, nil, list, count, nil, nil) }
            var provider = dataProvider()
            return nghttp2_submit_request(session, nil, list, count, &provider, nil)
        }
        if streamID < 0 { throw Self.error(streamID) }
        if !endStream { outbound[streamID] = makeOutbound() }
        delegate.http2SessionQueuedOutput(self)
        return streamID
    }

    /// Queues body bytes on a stream opened with a body.
    public func enqueue(streamID: Int32, _ bytes: [UInt8]) {
        guard let stream = outbound[streamID], !stream.ended else { return }
        stream.append(bytes)
        if stream.queuedBytes > settings.outboundHighWatermark { stream.blocked = true }
        resumeIfDeferred(streamID, stream)
        delegate.http2SessionQueuedOutput(self)
    }

    /// Ends a stream's body: END_STREAM after the queued data, or `trailers` with END_STREAM.
    public func finish(streamID: Int32, trailers: [HTTP2HeaderField]?) {
        guard let stream = outbound[streamID], !stream.ended else { return }
        stream.ended = true
        stream.trailers = trailers
        resumeIfDeferred(streamID, stream)
        delegate.http2SessionQueuedOutput(self)
    }

    /// Bytes queued on a stream and not yet handed to nghttp2.
    public func queuedBytes(streamID: Int32) -> Int { outbound[streamID]?.queuedBytes ?? 0 }

    /// Whether the stream's queue is past the high watermark (a writer should wait for `streamIsWritable`).
    public func isBlocked(streamID: Int32) -> Bool { outbound[streamID]?.blocked ?? false }

    /// Reopens `bytes` of the stream's and the connection's receive windows: call as data is consumed.
    public func consume(streamID: Int32, bytes: Int) {
        guard bytes > 0 else { return }
        if nghttp2_session_consume(session, streamID, bytes) != 0 {
            // The stream is gone: the connection window still needs the bytes back.
            nghttp2_session_consume_connection(session, bytes)
        }
        delegate.http2SessionQueuedOutput(self)
    }

    /// Resets a stream (RST_STREAM).
    public func reset(streamID: Int32, errorCode: HTTP2ErrorCode) {
        _ = nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, errorCode.rawValue)
        recycle(streamID)
        delegate.http2SessionQueuedOutput(self)
    }

    func makeOutbound() -> OutboundStream {
        outboundPool.popLast() ?? OutboundStream()
    }

    /// Returns a closed stream's queue to the pool (at most 64 kept).
    func recycle(_ streamID: Int32) {
        guard let stream = outbound.removeValue(forKey: streamID) else { return }
        stream.reset()
        if outboundPool.count < 64 { outboundPool.append(stream) }
    }

    /// Resets the stream with `errorCode` right after the frame that ends our side of it (response trailers or
    /// Trailers-Only headers) has been sent. An immediate RST_STREAM would overtake queued DATA and trailers:
    /// nghttp2 sends it ahead of them.
    public func resetAfterEnd(streamID: Int32, errorCode: HTTP2ErrorCode) {
        resetAfterEnd[streamID] = errorCode
    }

    private func resumeIfDeferred(_ streamID: Int32, _ stream: OutboundStream) {
        guard stream.deferred else { return }
        stream.deferred = false
        _ = nghttp2_session_resume_data(session, streamID)
    }

    // MARK: - Connection

    /// Trailers after a stream's data: called from the data provider once the data is gone.
    func submitTrailers(streamID: Int32, _ trailers: [HTTP2HeaderField]) {
        _ = withNameValues(trailers) { list, count in nghttp2_submit_trailer(session, streamID, list, count) }
    }

    /// Sends a PING carrying `opaque`.
    public func ping(opaque: UInt64) {
        var data = opaque.bigEndian
        withUnsafeBytes(of: &data) {
            _ = nghttp2_submit_ping(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), $0.baseAddress?.assumingMemoryBound(to: UInt8.self))
        }
        delegate.http2SessionQueuedOutput(self)
    }

    /// The first step of a graceful shutdown (server): GOAWAY with the largest stream ID, so clients stop
    /// opening streams while in-flight ones continue.
    public func submitShutdownNotice() {
        _ = nghttp2_submit_shutdown_notice(session)
        delegate.http2SessionQueuedOutput(self)
    }

    /// GOAWAY naming the last stream this side processed (or will), with an error code and debug text.
    public func goAway(errorCode: HTTP2ErrorCode, debug: String = "", lastStreamID: Int32? = nil) {
        let last = lastStreamID ?? nghttp2_session_get_last_proc_stream_id(session)
        var text = Array(debug.utf8)
        _ = nghttp2_submit_goaway(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), last, errorCode.rawValue, &text, text.count)
        delegate.http2SessionQueuedOutput(self)
    }

    /// The largest stream ID the peer opened and this side processed.
    public var lastProcessedStreamID: Int32 { nghttp2_session_get_last_proc_stream_id(session) }

    /// The peer's SETTINGS_MAX_CONCURRENT_STREAMS (client side: how many streams it may open).
    public var peerMaxConcurrentStreams: UInt32 {
        nghttp2_session_get_remote_settings(session, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS)
    }

    /// Streams this session may still open (client).
    public var canOpenStream: Bool {
        nghttp2_session_check_request_allowed(session) != 0
    }

    // MARK: - Helpers

    static func error(_ code: Int32) -> HTTP2SessionError {
        HTTP2SessionError(code: code, message: String(cString: nghttp2_strerror(code)))
    }

    /// Calls `body` with nghttp2 name/value pairs for `headers`; the pointers are valid during the call (nghttp2
    /// copies them). The bytes and pairs are built in scratch buffers the session reuses, so that sending
    /// headers allocates nothing once they have grown.
    private func withNameValues<R>(_ headers: [HTTP2HeaderField], _ body: (UnsafePointer<nghttp2_nv>, Int) -> R) -> R {
        scratchBytes.removeAll(keepingCapacity: true)
        scratchRanges.removeAll(keepingCapacity: true)
        for header in headers {
            let nameStart = scratchBytes.count
            scratchBytes.append(contentsOf: header.name.utf8)
            let valueStart = scratchBytes.count
            scratchBytes.append(contentsOf: header.value.utf8)
            scratchRanges.append((nameStart, valueStart - nameStart, valueStart, scratchBytes.count - valueStart))
        }
        scratchList.removeAll(keepingCapacity: true)
        return scratchBytes.withUnsafeMutableBufferPointer { bytes in
            let base = bytes.baseAddress ?? UnsafeMutablePointer<UInt8>(bitPattern: 1)!
            for (nameStart, nameCount, valueStart, valueCount) in scratchRanges {
                scratchList.append(
                    nghttp2_nv(
                        name: base + nameStart, value: base + valueStart, namelen: nameCount, valuelen: valueCount,
                        flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue)))
            }
            return scratchList.withUnsafeBufferPointer { body($0.baseAddress!, $0.count) }
        }
    }
}
