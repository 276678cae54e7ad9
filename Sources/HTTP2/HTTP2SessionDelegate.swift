/// Receives what an ``HTTP2Session`` decodes. Called synchronously from inside ``HTTP2Session/receive(_:)`` (or,
/// for writability, ``HTTP2Session/produceOutput(into:limit:)``), on the session's thread.
///
/// A delegate may call the session's `submit*`, `enqueue*`, `consume` and `reset` methods from these callbacks;
/// it must not call `receive` or `produceOutput` (nghttp2 is not re-entrant) and must not drop the session.
public protocol HTTP2SessionDelegate: AnyObject {
    /// A complete header block: request headers (server), response headers (client) or trailers.
    /// `oversized`: the block passed SETTINGS_MAX_HEADER_LIST_SIZE and `headers` holds only what fitted.
    func http2(_ session: HTTP2Session, didReceiveHeaders headers: [HTTP2HeaderField], streamID: Int32,
               endStream: Bool, oversized: Bool)

    /// Bytes of a DATA frame. `data` is only valid during the call.
    func http2(_ session: HTTP2Session, didReceiveData data: UnsafeRawBufferPointer, streamID: Int32)

    /// The peer half-closed the stream (END_STREAM on DATA or on HEADERS already delivered).
    func http2(_ session: HTTP2Session, didReceiveEndStream streamID: Int32)

    /// The stream is closed: `errorCode` is NO_ERROR after a normal end, else the RST_STREAM code (either side).
    func http2(_ session: HTTP2Session, streamClosed streamID: Int32, errorCode: HTTP2ErrorCode)

    /// A PING arrived (`ack` false; nghttp2 answers it) or the answer to ours did (`ack` true).
    func http2(_ session: HTTP2Session, didReceivePing opaque: UInt64, ack: Bool)

    /// The peer sent GOAWAY: streams above `lastStreamID` were not processed.
    func http2(_ session: HTTP2Session, didReceiveGoAway lastStreamID: Int32, errorCode: HTTP2ErrorCode,
               debugData: [UInt8])

    /// The stream's queued outbound data fell below half the high watermark after having passed it.
    func http2(_ session: HTTP2Session, streamIsWritable streamID: Int32)

    /// A call made on the session may have queued frames (data, headers, a reset, a WINDOW_UPDATE for consumed
    /// bytes, a PING, a GOAWAY): they leave only when ``HTTP2Session/produceOutput(into:limit:)`` runs, so the
    /// delegate arranges for that (a connection asks its loop for an end-of-turn flush). Said after every such call,
    /// so that no caller can queue a frame and forget to send it — a WINDOW_UPDATE queued by a client that caught
    /// up with its responses once stayed unsent, and the server waited for it until the call's deadline.
    func http2SessionQueuedOutput(_ session: HTTP2Session)
}
