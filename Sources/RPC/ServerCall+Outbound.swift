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
    /// response, as RFC 9113 §8.1 suggests; CANCEL after an error), sent once the status has gone out.
    func sendStatus(_ status: RPCError, extraHeaders: [(name: String, value: String)] = [], resetCode: UInt32 = 0) {
        let action: ServerStreamStateMachine.SendStatusAction
        do throws(ServerStreamStateMachine.Violation) {
            action = try machine.sendStatus()
        } catch {
            return  // The status already went out (or the stream was reset): a second one is dropped.
        }
        deadlineTimer?.cancel()
        observeEnd(status.code)
        var trailers: [(name: String, value: String)] = [("grpc-status", String(status.code.rawValue))]
        if !status.message.isEmpty { trailers.append(("grpc-message", PercentEncoding.encode(status.message))) }
        if let details = status.detailsBinary {
            trailers.append(("grpc-status-details-bin", Base64.encode(details, padded: false)))
        }
        trailers += extraHeaders
        if !status.metadata.isEmpty { trailers += status.metadata.headerFields }
        let (initialMetadata, trailingMetadata) = response.withLock { ($0.initialMetadata, $0.trailingMetadata) }
        if !trailingMetadata.isEmpty { trailers += trailingMetadata.headerFields }
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

    /// Tells the method's observer, once, how the call ended.
    func observeEnd(_ code: RPCError.Code) {
        guard let observer else { return }
        self.observer = nil
        observer.ended(code, nanoseconds: executionContext.now() &- startedAt)
    }
}
