/// What a server call needs from its connection: the HTTP/2 stream operations. Implemented by the transport;
/// called on the connection's thread only. Header names are lower case.
public protocol ServerCallTransport: AnyObject {
    func sendHeaders(streamID: Int32, _ headers: [(name: String, value: String)], endStream: Bool)
    func sendData(streamID: Int32, _ bytes: [UInt8])
    func sendTrailers(streamID: Int32, _ trailers: [(name: String, value: String)])
    func resetStream(streamID: Int32, errorCode: UInt32)
    /// Resets the stream once the response's last frame has gone out (so the reset cannot overtake it).
    func resetAfterResponse(streamID: Int32, errorCode: UInt32)
    /// Reopens `bytes` of the stream's receive window.
    func consume(streamID: Int32, bytes: Int)
    /// Whether the stream's outbound queue is past its high watermark.
    func isBlocked(streamID: Int32) -> Bool
    /// The call will make no further calls for this stream.
    func callEnded(streamID: Int32)
}

/// Limits a server applies to each call (gRPC's defaults).
public struct ServerCallLimits: Sendable, Hashable {
    /// Largest request message accepted, after decompression; larger is RESOURCE_EXHAUSTED (4 MiB).
    public var maxReceiveMessageSize = 4 << 20
    /// Complete request messages a handler has not read yet, in bytes, past which window updates stop until it
    /// reads: a slow reader stops the peer.
    public var queuedRequestBytes = 1 << 20

    public init() {}
}
