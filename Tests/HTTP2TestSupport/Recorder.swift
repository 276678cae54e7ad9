import HTTP2

/// Records what a session delivers.
public final class Recorder: HTTP2SessionDelegate {
    public init() {}

    public var headers: [(streamID: Int32, headers: [HTTP2HeaderField], endStream: Bool, oversized: Bool)] = []
    public var data: [Int32: [UInt8]] = [:]
    public var ended: [Int32] = []
    public var closed: [(Int32, HTTP2ErrorCode)] = []
    public var pings: [(UInt64, Bool)] = []
    public var goAways: [(Int32, HTTP2ErrorCode, [UInt8])] = []
    public var writable: [Int32] = []
    /// How often the session said a call queued output.
    public var queuedOutput = 0

    public func http2(_ session: HTTP2Session, didReceiveHeaders headers: [HTTP2HeaderField], streamID: Int32, endStream: Bool, oversized: Bool) {
        self.headers.append((streamID, headers, endStream, oversized))
    }
    public func http2(_ session: HTTP2Session, didReceiveData data: UnsafeRawBufferPointer, streamID: Int32) {
        self.data[streamID, default: []] += data
    }
    public func http2(_ session: HTTP2Session, didReceiveEndStream streamID: Int32) { ended.append(streamID) }
    public func http2(_ session: HTTP2Session, streamClosed streamID: Int32, errorCode: HTTP2ErrorCode) {
        closed.append((streamID, errorCode))
    }
    public func http2(_ session: HTTP2Session, didReceivePing opaque: UInt64, ack: Bool) { pings.append((opaque, ack)) }
    public func http2(_ session: HTTP2Session, didReceiveGoAway lastStreamID: Int32, errorCode: HTTP2ErrorCode, debugData: [UInt8]) {
        goAways.append((lastStreamID, errorCode, debugData))
    }
    public func http2(_ session: HTTP2Session, streamIsWritable streamID: Int32) { writable.append(streamID) }
    public func http2SessionQueuedOutput(_ session: HTTP2Session) { queuedOutput += 1 }
}

