/// Checking request headers and starting the handler. Context thread only.
extension ServerCall {
    struct Accepted {
        let method: RPCMethod
        let metadata: Metadata
        let deadline: UInt64?
        let encoding: CompressionAlgorithm
        let acceptsGzip: Bool
    }

    /// How a request is refused before any handler runs.
    enum Rejection: Error {
        /// An HTTP error (not a gRPC request at all): `:status` and a gRPC status for clients that read it.
        case http(status: Int, RPCError)
        /// A gRPC error, sent as Trailers-Only.
        case grpc(RPCError, extraHeaders: [(name: String, value: String)] = [])
    }

    /// The request headers the checks read.
    struct RequestFields {
        var path = ""
        var method = ""
        var contentType = ""
        var timeout: String?
        var encoding: String?
        var acceptEncoding = ""

        init(_ headers: [(name: String, value: String)]) {
            for header in headers {
                switch header.name {
                case ":path": path = header.value
                case ":method": method = header.value
                case "content-type": contentType = header.value
                case "grpc-timeout": timeout = header.value
                case "grpc-encoding": encoding = header.value
                case "grpc-accept-encoding": acceptEncoding = header.value
                default: break
                }
            }
        }
    }

    /// The checks of gRPC's PROTOCOL-HTTP2.md up to finding the method, in the order a server makes them.
    func route(_ fields: RequestFields, oversized: Bool) -> Result<RPCMethod, Rejection> {
        if oversized {
            return .failure(.grpc(RPCError(code: .resourceExhausted, message: "request header list exceeds the limit")))
        }
        guard fields.method == "POST" else {
            return .failure(.http(status: 405, RPCError(code: .internal, message: "method \(Echo.quote(fields.method)) is not POST")))
        }
        guard fields.contentType.hasPrefix("application/grpc") else {
            return .failure(
                .http(status: 415, RPCError(code: .internal, message: "content-type \(Echo.quote(fields.contentType)) is not application/grpc")))
        }
        guard let handler = router.method(forPath: fields.path) else {
            return .failure(.grpc(unimplemented(path: fields.path)))
        }
        return .success(handler)
    }

    /// Tells the method's observer the call started (it hears how it ended from `observeEnd`).
    func beginObserving(_ method: RPCMethod) {
        guard let methodObserver = method.observer else { return }
        observer = methodObserver
        startedAt = executionContext.now()
        methodObserver.started()
    }

    /// The rest of the checks, for a request routed to `handler`: encoding, deadline, metadata, admission.
    func validate(_ headers: [(name: String, value: String)], _ fields: RequestFields, for handler: RPCMethod)
        -> Result<Accepted, Rejection>
    {
        let encoding = fields.encoding
        let timeout = fields.timeout
        var compression = CompressionAlgorithm.identity
        if let encoding, encoding != "identity" {
            guard let known = CompressionAlgorithm(rawValue: encoding) else {
                return .failure(
                    .grpc(
                        RPCError(code: .unimplemented, message: "grpc-encoding \(Echo.quote(encoding)) is not supported"),
                        extraHeaders: [("grpc-accept-encoding", CompressionAlgorithm.acceptEncoding)]))
            }
            compression = known
        }
        var deadline: UInt64?
        if let timeout {
            guard let nanoseconds = GRPCTimeout.parse(timeout) else {
                return .failure(.grpc(RPCError(code: .internal, message: "malformed grpc-timeout \(Echo.quote(timeout))")))
            }
            let (sum, overflow) = executionContext.now().addingReportingOverflow(nanoseconds)
            deadline = overflow ? nil : sum
        }
        let metadata: Metadata
        do throws(RPCError) {
            metadata = try Metadata(headers: headers)
        } catch {
            return .failure(.grpc(error))
        }
        if let refusal = router.admission?(handler.descriptor, metadata) { return .failure(.grpc(refusal)) }
        let acceptsGzip = fields.acceptEncoding.split(separator: ",").contains { $0.trimmingSpaces == "gzip" }
        return .success(Accepted(
            method: handler, metadata: metadata, deadline: deadline, encoding: compression, acceptsGzip: acceptsGzip))
    }

    private func unimplemented(path: String) -> RPCError {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        if parts.count == 2, !router.hasService(String(parts[0])) {
            return RPCError(code: .unimplemented, message: "unknown service \(Echo.quote(parts[0]))")
        }
        return RPCError(code: .unimplemented, message: "unknown method \(Echo.quote(path))")
    }

    func reject(_ rejection: Rejection) {
        switch rejection {
        case .http(let status, let error):
            machine.reset()
            transport.sendHeaders(
                streamID: streamID,
                [(":status", String(status)), ("content-type", "application/grpc"),
                 ("grpc-status", String(error.code.rawValue)), ("grpc-message", PercentEncoding.encode(error.message))],
                endStream: true)
        case .grpc(let error, let extra):
            deframer = nil
            sendStatus(error, extraHeaders: extra)
        }
        endEarly(rejection.status)
    }

    /// Starts the handler's task on the context's executor, and the deadline timer.
    func start(_ accepted: Accepted) {
        method = accepted.method
        deframer = MessageDeframer(limit: limits.maxReceiveMessageSize, encoding: accepted.encoding)
        request = RequestHead(method: accepted.method.descriptor, metadata: accepted.metadata, deadline: accepted.deadline)
        if accepted.acceptsGzip && accepted.encoding != .identity {
            // Answer in the encoding the request used, as gRPC servers do by default.
            response.withLock { $0.compression = accepted.encoding }
        }
        if let deadline = accepted.deadline {
            deadlineTimer = executionContext.scheduleTimer(at: deadline) { [self] in
                let expired = RPCError(code: .deadlineExceeded, message: "the deadline passed before the handler finished")
                sendStatus(expired, resetCode: 0x8)
                endEarly(expired)
            }
        }
        let run = accepted.method.run
        handlers?.acquire()
        task = Task(executorPreference: executionContext.taskExecutor) { [self] in
            do {
                try await run(self)
                finish(RPCError(code: .ok, message: ""))
            } catch {
                finish(RPCError(from: error))
            }
        }
    }
}

extension ServerCall.Rejection {
    var status: RPCError {
        switch self {
        case .http(_, let error), .grpc(let error, _): error
        }
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var text = self
        while text.first == " " { text.removeFirst() }
        while text.last == " " { text.removeLast() }
        return text
    }
}
