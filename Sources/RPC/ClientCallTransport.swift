/// What a client call needs from its connection. Implemented by the transport; called on the connection's
/// thread only.
public protocol ClientCallTransport: AnyObject {
    func sendData(streamID: Int32, _ bytes: [UInt8])
    /// Ends the request stream (END_STREAM after the queued data).
    func finishRequest(streamID: Int32)
    func resetStream(streamID: Int32, errorCode: UInt32)
    func consume(streamID: Int32, bytes: Int)
    func isBlocked(streamID: Int32) -> Bool
}

/// How HTTP/2 and HTTP outcomes map to gRPC status on a client (gRPC's http-grpc-status-mapping.md and
/// grpc-go's http2ErrConvTab).
public enum StatusMapping {
    /// The status for a response whose `:status` is not 200.
    public static func status(forHTTPStatus status: Int) -> RPCError.Code {
        switch status {
        case 400: .internal
        case 401: .unauthenticated
        case 403: .permissionDenied
        case 404: .unimplemented
        case 429, 502, 503, 504: .unavailable
        default: .unknown
        }
    }

    /// The status for a stream reset with an HTTP/2 error code before a status arrived.
    public static func status(forResetCode code: UInt32) -> RPCError.Code {
        switch code {
        case 0x7: .unavailable  // REFUSED_STREAM: not processed, safe to retry
        case 0x8: .cancelled  // CANCEL
        case 0xb: .resourceExhausted  // ENHANCE_YOUR_CALM
        case 0xc: .permissionDenied  // INADEQUATE_SECURITY
        default: .internal  // NO_ERROR without trailers, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR…
        }
    }
}
