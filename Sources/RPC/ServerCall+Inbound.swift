/// What the transport reports about the stream, and the request messages it carries. Context thread only.
extension ServerCall {
    /// Request headers (or, later, request trailers). Validates them and starts the handler, or answers at once.
    public func receiveHeaders(_ headers: [(name: String, value: String)], endStream: Bool, oversized: Bool) {
        let first = machine.inbound == .awaitingHeaders
        do throws(ServerStreamStateMachine.Violation) {
            try machine.receiveHeaders(endStream: endStream)
        } catch {
            violated(error)
            return
        }
        guard first else {
            requestEnded()
            return
        }
        let fields = RequestFields(headers)
        let routed = route(fields, oversized: oversized)
        if case .success(let method) = routed { beginObserving(method) }
        switch routed.flatMap({ validate(headers, fields, for: $0) }) {
        case .failure(let rejection):
            reject(rejection)
        case .success(let accepted):
            start(accepted)
            if endStream { requestEnded() }
        }
    }

    /// Bytes of a DATA frame.
    public func receiveData(_ bytes: UnsafeRawBufferPointer) {
        do throws(ServerStreamStateMachine.Violation) {
            try machine.receiveData()
        } catch {
            violated(error)
            return
        }
        unconsumedBytes += bytes.count
        guard deframer != nil, !ended else {
            giveBackWindow()
            return
        }
        do throws(MessageDeframer.Failure) {
            try deframer!.append(bytes) { message in
                received.append(message)
            }
        } catch {
            failRequest(error.status(of: "request"))
            return
        }
        guard countHeldBytes() else {
            let limit = memory.map { "\($0.limit)" } ?? "its limit"
            failRequest(RPCError(code: .resourceExhausted,
                message: "the server holds too much unread request data (this connection's limit is \(limit) bytes): the call was ended"))
            return
        }
        giveBackWindow()
        deliverToReader()
    }

    /// Brings the connection's request memory up to date with what this call holds (partial and unread messages);
    /// false when more would not fit.
    private func countHeldBytes() -> Bool {
        guard let memory else { return true }
        let now = ended ? 0 : (deframer?.bufferedBytes ?? 0) + received.bytes
        if now > heldBytes {
            guard memory.take(now - heldBytes) else { return false }
        } else if now < heldBytes {
            memory.give(heldBytes - now)
        }
        heldBytes = now
        return true
    }

    /// The client half-closed.
    public func receiveEnd() {
        do throws(ServerStreamStateMachine.Violation) {
            try machine.receiveEnd()
        } catch {
            violated(error)
            return
        }
        requestEnded()
    }

    /// The HTTP/2 stream closed: normally after the status went out, or reset by the client (`errorCode` > 0).
    public func streamClosed(errorCode: UInt32) {
        deadlineTimer?.cancel()
        if !machine.isClosed {
            machine.reset()
            observeEnd(.cancelled)
            endEarly(RPCError(code: .cancelled, message: "the client cancelled the call (RST_STREAM \(errorCode))"))
        }
        if !ended {
            ended = true
            giveBackWindow()  // Held-back bytes still count against the connection's window.
            transport.callEnded(streamID: streamID)
        }
        _ = countHeldBytes()
    }

    /// The stream's outbound queue drained: a waiting writer may continue.
    public func streamWritable() {
        resumeWriter()
    }

    /// The server is stopping and the grace period is over: cancel the handler and reset the stream.
    public func cancelForShutdown() {
        guard !machine.isClosed else { return }
        endEarly(RPCError(code: .unavailable, message: "the server is shutting down"))
        observeEnd(.unavailable)
        machine.reset()
        transport.resetStream(streamID: streamID, errorCode: 0x8)  // CANCEL
        if !ended {
            ended = true
            transport.callEnded(streamID: streamID)
        }
        _ = countHeldBytes()
    }

    // MARK: - Messages for the handler

    func takeMessage() -> [UInt8]? {
        guard let message = received.takeFirst() else { return nil }
        _ = countHeldBytes()
        giveBackWindow()
        return message
    }

    func waitForMessage(_ continuation: UnsafeContinuation<Result<[UInt8]?, RPCError>, Never>) {
        if let message = takeMessage() {
            continuation.resume(returning: .success(message))
        } else if let endedEarly {
            continuation.resume(returning: .failure(endedEarly))
        } else if machine.inbound == .ended {
            continuation.resume(returning: .success(nil))
        } else {
            precondition(reader == nil, "ServerCall: two concurrent reads of one request stream")
            reader = continuation
        }
    }

    private func deliverToReader() {
        guard let reader, let message = takeMessage() else { return }
        self.reader = nil
        reader.resume(returning: .success(message))
    }

    private func requestEnded() {
        if let deframer, deframer.hasPartialMessage {
            failRequest(RPCError(code: .internal, message: "the request stream ended inside a message"))
            return
        }
        guard let reader, received.isEmpty else { return }
        self.reader = nil
        reader.resume(returning: endedEarly.map { .failure($0) } ?? .success(nil))
    }

    /// Gives received bytes back to flow control, unless the handler has fallen behind: then the window stays
    /// shut until it reads, and the peer stops.
    private func giveBackWindow() {
        guard unconsumedBytes > 0, received.bytes <= limits.queuedRequestBytes || ended else { return }
        transport.consume(streamID: streamID, bytes: unconsumedBytes)
        unconsumedBytes = 0
    }

    // MARK: - Ending early

    /// The request stream is unusable: end the call with `status` and stop the handler.
    private func failRequest(_ status: RPCError) {
        deframer = nil  // Whatever else arrives is dropped, not buffered.
        // NO_ERROR (RFC 9113 §8.1): the response is complete, stop sending the rest. With CANCEL, grpcio reports
        // the reset (CANCELLED) instead of the status it received just before it.
        sendStatus(status, resetCode: 0)
        endEarly(status)
    }

    /// See `ServerContext.abort`. Context thread only.
    func abort(_ status: RPCError) {
        let blocked = endedEarly == nil && transport.isBlocked(streamID: streamID)
        sendStatus(status)
        if blocked {
            machine.reset()
            transport.resetStream(streamID: streamID, errorCode: 0xb)  // ENHANCE_YOUR_CALM
        }
        endEarly(status)
    }

    /// Wakes a waiting reader and writer with `status` and cancels the handler.
    func endEarly(_ status: RPCError) {
        if endedEarly == nil { endedEarly = status }
        if let reader {
            self.reader = nil
            reader.resume(returning: .failure(status))
        }
        if let writer {
            self.writer = nil
            writer.resume(returning: .failure(status))
        }
        task?.cancel()
    }

    private func violated(_ violation: ServerStreamStateMachine.Violation) {
        switch violation {
        case .peerProtocolError(let text):
            endEarly(RPCError(code: .internal, message: "protocol error: \(text)"))
            machine.reset()
            transport.resetStream(streamID: streamID, errorCode: 0x1)  // PROTOCOL_ERROR
        case .ourBug(let text):
            assertionFailure("ServerCall: \(text)")
            machine.reset()
            transport.resetStream(streamID: streamID, errorCode: 0x2)  // INTERNAL_ERROR
        case .silentDrop:
            break
        }
    }
}
