/// What a session advertises in its SETTINGS frame and enforces on the peer.
public struct HTTP2Settings: Sendable, Hashable {
    /// Streams the peer may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS).
    public var maxConcurrentStreams: UInt32 = 1024
    /// Per-stream receive window (SETTINGS_INITIAL_WINDOW_SIZE). Windows reopen only as the application
    /// consumes data (``HTTP2Session/consume(streamID:bytes:)``), so this bounds what one stream buffers.
    public var initialWindowSize: UInt32 = 1 << 20
    /// Connection receive window: bounds what all streams of a connection buffer together.
    public var connectionWindowSize: UInt32 = 4 << 20
    public var maxFrameSize: UInt32 = 16_384
    /// Largest header list accepted (SETTINGS_MAX_HEADER_LIST_SIZE; RFC 7541 size: name + value + 32 a field).
    public var maxHeaderListSize: UInt32 = 16_384
    /// Largest HPACK dynamic table the peer may use when encoding for us.
    public var headerTableSize: UInt32 = 4096
    /// RST_STREAM frames a server accepts in a burst, then per second; past them nghttp2 ends the connection
    /// (GOAWAY INTERNAL_ERROR). A backstop against rapid reset (CVE-2023-44487) only: the bound that matters is the
    /// server's count of running handlers (`HandlerSlots`), since a reset stream's handler may still run. nghttp2's
    /// own defaults (1000, then 33 a second) are far below what honest clients send when their deadlines pass
    /// under load: a processor cancelling its late risk checks lost its whole connection.
    public var resetRateBurst: UInt64 = 10_000
    public var resetRatePerSecond: UInt64 = 1_000
    /// CONTINUATION-flood protection (CVE-2024-28182): CONTINUATION frames allowed per header block.
    public var maxContinuations: Int = 8
    /// Outgoing queued data per stream above which ``HTTP2SessionDelegate/http2(_:streamIsWritable:)`` is
    /// withheld until it drains below half.
    public var outboundHighWatermark: Int = 256 << 10

    public init() {}
}

/// RFC 9113 §7 error codes, for RST_STREAM and GOAWAY.
public struct HTTP2ErrorCode: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }

    public static let noError = HTTP2ErrorCode(0x0)
    public static let protocolError = HTTP2ErrorCode(0x1)
    public static let internalError = HTTP2ErrorCode(0x2)
    public static let flowControlError = HTTP2ErrorCode(0x3)
    public static let settingsTimeout = HTTP2ErrorCode(0x4)
    public static let streamClosed = HTTP2ErrorCode(0x5)
    public static let frameSizeError = HTTP2ErrorCode(0x6)
    public static let refusedStream = HTTP2ErrorCode(0x7)
    public static let cancel = HTTP2ErrorCode(0x8)
    public static let compressionError = HTTP2ErrorCode(0x9)
    public static let connectError = HTTP2ErrorCode(0xa)
    public static let enhanceYourCalm = HTTP2ErrorCode(0xb)
    public static let inadequateSecurity = HTTP2ErrorCode(0xc)
    public static let http11Required = HTTP2ErrorCode(0xd)

    public var description: String {
        let names = [
            "NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT",
            "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL", "COMPRESSION_ERROR", "CONNECT_ERROR",
            "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED",
        ]
        return Int(rawValue) < names.count ? names[Int(rawValue)] : "0x\(String(rawValue, radix: 16))"
    }
}

/// A header field: HPACK name (lower case) and value. A plain tuple, the same shape the call layer uses, so that
/// headers pass between the layers without conversion.
public typealias HTTP2HeaderField = (name: String, value: String)

/// A connection-level failure of the session: the connection must end (after sending what is queued).
public struct HTTP2SessionError: Error, Hashable, Sendable, CustomStringConvertible {
    /// nghttp2's error code (negative) and message.
    public let code: Int32
    public let message: String
    public var description: String { "HTTP/2 session error \(code): \(message)" }
}
