internal import ProtoCodec

/// The transport's events for a client call, and the call's own bookkeeping. Context thread only.
extension ClientCall {
    /// Response headers, or trailers (`endStream`), or both at once (Trailers-Only).
    public func receiveHeaders(_ headers: [(name: String, value: String)], endStream: Bool) {
        guard status == nil else { return }
        if !responseHeadersReceived {
            responseHeadersReceived = true
            if let failure = checkResponseHeaders(headers) {
                end(failure, reset: !endStream, source: .transport)
                return
            }
            if !endStream {
                initialMetadata = (try? Metadata(headers: headers)) ?? Metadata()
                let waiters = headerWaiters
                headerWaiters.removeAll()
                waiters.forEach { $0.resume(returning: initialMetadata!) }
                return
            }
        }
        guard endStream else {
            end(RPCError(code: .internal, message: "the server sent headers in the middle of the response"), reset: true,
                source: .transport)
            return
        }
        end(Self.status(fromTrailers: headers), reset: false, source: .server)
    }

    public func receiveData(_ bytes: UnsafeRawBufferPointer) {
        unconsumedBytes += bytes.count
        defer { giveBackWindow() }
        guard status == nil else { return }
        guard deframer != nil else {
            end(RPCError(code: .internal, message: "the server sent data before response headers"), reset: true,
                source: .transport)
            return
        }
        do throws(MessageDeframer.Failure) {
            try deframer!.append(bytes) { message in
                received.append(message)
            }
        } catch {
            end(error.status(of: "response"), reset: true, source: .transport)
            return
        }
        if let reader, let message = takeMessage() {
            self.reader = nil
            reader.resume(returning: .success(message))
        }
    }

    /// END_STREAM on a DATA frame: the server ended without trailers.
    public func receiveEnd() {
        end(RPCError(code: .internal, message: "the server ended the stream without a grpc-status"), reset: false,
            source: .transport)
    }

    /// The stream closed: reset (`errorCode` > 0) or after the trailers.
    public func streamClosed(errorCode: UInt32) {
        if status == nil {
            let code = StatusMapping.status(forResetCode: errorCode)
            end(RPCError(code: code, message: "the stream was reset with HTTP/2 error code \(errorCode)"), reset: false,
                source: .transport)
        }
        release()
    }

    /// The connection failed or closed under the call.
    public func connectionFailed(_ failure: RPCError) {
        end(failure, reset: false, source: .transport)
        release()
    }

    public func streamWritable() {
        resumeWriter()
    }

    // MARK: - Internals

    func sendNow(_ message: [UInt8]) -> SendOutcome {
        if let status {
            return .failed(status.code == .ok ? RPCError(code: .internal, message: "the call already ended") : status)
        }
        guard !requestClosed else {
            return .failed(RPCError(code: .internal, message: "the request stream is closed"))
        }
        transport.sendData(streamID: streamID, message)
        guard transport.isBlocked(streamID: streamID) else { return .sent }
        precondition(writer == nil, "ClientCall: two concurrent writes to one request stream")
        return .mustWait
    }

    func takeMessage() -> [UInt8]? {
        guard let message = received.takeFirst() else { return nil }
        giveBackWindow()
        return message
    }

    /// Gives received bytes back to flow control while the caller keeps up (or the call is over).
    private func giveBackWindow() {
        guard unconsumedBytes > 0, received.bytes <= Self.queuedResponseLimit || status != nil else { return }
        transport.consume(streamID: streamID, bytes: unconsumedBytes)
        unconsumedBytes = 0
    }

    func waitForMessage(_ continuation: UnsafeContinuation<Result<[UInt8]?, RPCError>, Never>) {
        if let message = takeMessage() {
            continuation.resume(returning: .success(message))
        } else if let status {
            continuation.resume(returning: status.code == .ok ? .success(nil) : .failure(status))
        } else {
            reader = continuation
        }
    }

    /// Fixes the final status (first one wins) and where it came from, wakes everyone waiting, optionally resets
    /// the stream.
    func end(_ final: RPCError, reset: Bool, source: StatusSource) {
        guard status == nil else { return }
        status = final
        statusSource = source
        trailingMetadata = final.metadata
        deadlineTimer?.cancel()
        giveBackWindow()  // Held-back bytes still count against the connection's window.
        if reset { transport.resetStream(streamID: streamID, errorCode: 0x8) }
        if let reader {
            self.reader = nil
            if let message = takeMessage() {
                reader.resume(returning: .success(message))
            } else {
                reader.resume(returning: final.code == .ok ? .success(nil) : .failure(final))
            }
        }
        if let writer {
            self.writer = nil
            writer.resume(returning: .failure(final.code == .ok ? RPCError(code: .internal, message: "the call already ended") : final))
        }
        let headers = headerWaiters
        headerWaiters.removeAll()
        headers.forEach { $0.resume(returning: initialMetadata ?? Metadata()) }
        let waiters = statusWaiters
        statusWaiters.removeAll()
        waiters.forEach { $0.resume(returning: final) }
    }

    func release() {
        guard !released else { return }
        released = true
        onRelease?()
        onRelease = nil
    }

    /// nil when the response headers start a gRPC response; else the status to fail with.
    private func checkResponseHeaders(_ headers: [(name: String, value: String)]) -> RPCError? {
        var httpStatus = 0
        var contentType = ""
        var encoding = CompressionAlgorithm.identity
        for header in headers {
            switch header.name {
            case ":status": httpStatus = Int(header.value) ?? 0
            case "content-type": contentType = header.value
            case "grpc-encoding":
                guard let known = CompressionAlgorithm(rawValue: header.value) else {
                    return RPCError(code: .internal, message: "the server used unsupported grpc-encoding \(header.value)")
                }
                encoding = known
            default: break
            }
        }
        guard httpStatus == 200 else {
            return RPCError(
                code: StatusMapping.status(forHTTPStatus: httpStatus),
                message: "the server answered HTTP \(httpStatus) instead of 200")
        }
        guard contentType.hasPrefix("application/grpc") else {
            return RPCError(code: .unknown, message: "the server answered content-type \"\(contentType)\", not application/grpc")
        }
        deframer = MessageDeframer(limit: maxReceiveMessageSize, encoding: encoding)
        return nil
    }

    static func status(fromTrailers headers: [(name: String, value: String)]) -> RPCError {
        var code: RPCError.Code?
        var message = ""
        var details: [UInt8]?
        for header in headers {
            switch header.name {
            case "grpc-status":
                code = Int(header.value).flatMap(RPCError.Code.init(rawValue:)) ?? .unknown
            case "grpc-message": message = PercentEncoding.decode(header.value)
            case "grpc-status-details-bin": details = Base64.decode(header.value)
            default: break
            }
        }
        guard let code else { return RPCError(code: .internal, message: "the server's trailers carry no grpc-status") }
        let metadata = (try? Metadata(headers: headers)) ?? Metadata()
        return RPCError(code: code, message: message, metadata: metadata, detailsBinary: details)
    }
}
