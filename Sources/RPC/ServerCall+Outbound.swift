/// Response headers, messages and status. Context thread only.
extension ServerCall {
    func sendMessage(_ framed: [UInt8], _ continuation: UnsafeContinuation<Result<Void, RPCError>, Never>) {
        if let endedEarly {
            continuation.resume(returning: .failure(endedEarly))
            return
        }
        let action: ServerStreamStateMachine.SendMessageAction
        do throws(ServerStreamStateMachine.Violation) {
            action = try machine.sendMessage()
        } catch {
            continuation.resume(returning: .failure(RPCError(code: .internal, message: "the call has already ended")))
            return
        }
        if action == .sendHeadersAndMessage { sendResponseHeaders() }
        transport.sendData(streamID: streamID, framed)
        if transport.isBlocked(streamID: streamID) {
            precondition(writer == nil, "ServerCall: two concurrent writes to one response stream")
            writer = continuation
        } else {
            continuation.resume(returning: .success(()))
        }
    }

    /// The compression response messages use: what the handler chose, if the client accepts it.
    var responseCompression: CompressionAlgorithm { context?.responseCompression ?? .identity }

    private func sendResponseHeaders() {
        var headers: [(name: String, value: String)] = [(":status", "200"), ("content-type", "application/grpc")]
        if responseCompression != .identity { headers.append(("grpc-encoding", responseCompression.rawValue)) }
        headers.append(("grpc-accept-encoding", CompressionAlgorithm.acceptEncoding))
        if let metadata = context?.initialMetadata { headers += metadata.headerFields }
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
        var trailers: [(name: String, value: String)] = [("grpc-status", String(status.code.rawValue))]
        if !status.message.isEmpty { trailers.append(("grpc-message", PercentEncoding.encode(status.message))) }
        if let details = status.detailsBinary {
            trailers.append(("grpc-status-details-bin", Base64.encode(details, padded: false)))
        }
        trailers += extraHeaders
        trailers += status.metadata.headerFields
        if let metadata = context?.trailingMetadata { trailers += metadata.headerFields }
        switch action {
        case .trailersOnly:
            var headers: [(name: String, value: String)] = [(":status", "200"), ("content-type", "application/grpc")]
            if let metadata = context?.initialMetadata { headers += metadata.headerFields }
            transport.sendHeaders(streamID: streamID, headers + trailers, endStream: true)
        case .trailers:
            transport.sendTrailers(streamID: streamID, trailers)
        }
        if machine.inbound != .ended { transport.resetAfterResponse(streamID: streamID, errorCode: resetCode) }
    }
}
