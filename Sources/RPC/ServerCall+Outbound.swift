internal import ProtoCodec

/// Response headers, messages and status. Context thread only.
extension ServerCall {
    /// Queues a framed response message (headers first if none went out yet).
    func sendNow(_ framed: [UInt8]) -> SendOutcome {
        if let endedEarly { return .failed(endedEarly) }
        let action: ServerStreamStateMachine.SendMessageAction
        do throws(ServerStreamStateMachine.Violation) {
            action = try machine.sendMessage()
        } catch {
            return .failed(RPCError(code: .internal, message: "the call has already ended"))
        }
        if action == .sendHeadersAndMessage { sendResponseHeaders() }
        transport.sendData(streamID: streamID, framed)
        guard transport.isBlocked(streamID: streamID) else { return .sent }
        precondition(writer == nil, "ServerCall: two concurrent writes to one response stream")
        return .mustWait
    }

    private func sendResponseHeaders() {
        let (compression, metadata) = response.withLock { ($0.compression, $0.initialMetadata) }
        var headers: [(name: String, value: String)] = [(":status", "200"), ("content-type", "application/grpc")]
        if compression != .identity { headers.append(("grpc-encoding", compression.rawValue)) }
        headers.append(("grpc-accept-encoding", CompressionAlgorithm.acceptEncoding))
        if !metadata.isEmpty { headers += metadata.headerFields }
        transport.sendHeaders(streamID: streamID, headers, endStream: false)
    }

    /// Ends the response with `status`: in trailers, or alone in the headers when nothing was sent (Trailers-Only).
    ///
    /// A client still sending is then told to stop with RST_STREAM(`resetCode`: NO_ERROR after a complete
    /// response — an error status is one — as RFC 9113 §8.1 suggests; CANCEL when the deadline cut the call
    /// short), sent once the status has gone out.
    func sendStatus(_ status: RPCError, extraHeaders: [(name: String, value: String)] = [], resetCode: UInt32 = 0) {
        let action: ServerStreamStateMachine.SendStatusAction
        do throws(ServerStreamStateMachine.Violation) {
            action = try machine.sendStatus()
        } catch {
            return  // The status already went out (or the stream was reset): a second one is dropped.
        }
        deadlineTimer?.cancel()
        observeEnd(status.code)
        let (initialMetadata, trailingMetadata) = response.withLock { ($0.initialMetadata, $0.trailingMetadata) }
        let trailers = Self.trailers(status, extra: extraHeaders + status.metadata.headerFields + trailingMetadata.headerFields)
        switch action {
        case .trailersOnly:
            var headers: [(name: String, value: String)] = [(":status", "200"), ("content-type", "application/grpc")]
            if !initialMetadata.isEmpty { headers += initialMetadata.headerFields }
            transport.sendHeaders(streamID: streamID, headers + trailers, endStream: true)
        case .trailers:
            transport.sendTrailers(streamID: streamID, trailers)
        }
        if machine.inbound != .ended { transport.resetAfterResponse(streamID: streamID, errorCode: resetCode) }
    }

    /// Peers bound the header lists they accept (gRPC's default is 8 KiB; past 16–64 KiB the status never arrives):
    /// a status's trailers stay within this many bytes.
    static let maxTrailerBytes = 8192
    /// The longest grpc-message sent, in bytes before percent-encoding.
    static let maxStatusMessageBytes = 1024

    /// The trailers that carry `status`, within ``maxTrailerBytes``: a long message is cut (and says so), and
    /// details or metadata that would not fit are left out (the message says which).
    static func trailers(_ status: RPCError, extra: [(name: String, value: String)]) -> [(name: String, value: String)] {
        var message = status.message
        let length = message.utf8.count
        if length > maxStatusMessageBytes {
            // The longest prefix of whole scalars within the budget, in one pass over the bytes kept.
            let bytes = Array(message.utf8.prefix(maxStatusMessageBytes - 40 + 1))
            var end = bytes.count - 1
            while end > 0 && bytes[end] & 0xc0 == 0x80 { end -= 1 }  // not inside a multi-byte scalar
            message = String(decoding: bytes[..<end], as: UTF8.self) + "… (\(length) bytes, cut)"
        }
        let code = ("grpc-status", String(status.code.rawValue))
        var optional: [(name: String, value: String)] = []
        if let details = status.detailsBinary { optional.append(("grpc-status-details-bin", Base64.encode(details, padded: false))) }
        optional += extra
        var size = 64 + message.utf8.count * 3
        var kept: [(name: String, value: String)] = []
        var omitted = false
        for field in optional {
            let fieldSize = field.name.utf8.count + field.value.utf8.count + 32
            if size + fieldSize > maxTrailerBytes {
                omitted = true
                continue
            }
            size += fieldSize
            kept.append(field)
        }
        if omitted { message += message.isEmpty ? "(trailing details omitted: too large)" : " (trailing details omitted: too large)" }
        var trailers = [code]
        if !message.isEmpty { trailers.append(("grpc-message", PercentEncoding.encode(message))) }
        return trailers + kept
    }

    /// Tells the method's observer, once, how the call ended.
    func observeEnd(_ code: RPCError.Code) {
        guard let observer else { return }
        self.observer = nil
        observer.ended(code, nanoseconds: executionContext.now() &- startedAt)
    }
}
