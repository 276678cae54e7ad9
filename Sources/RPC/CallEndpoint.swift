/// What server and client calls share: state confined to one context thread, a queue of received messages
/// with at most one waiting reader, and a send path with at most one writer waiting for flow control.
///
/// The async methods here take the fast path when the caller already runs on the context's thread (tasks that
/// prefer the loop do): a queued message or an accepted send returns without suspending and without
/// allocating a closure, which is most of the cost of a streaming message.
protocol CallEndpoint: AnyObject, Sendable {
    var executionContext: any RPCExecutionContext { get }
    var reader: UnsafeContinuation<Result<[UInt8]?, RPCError>, Never>? { get set }
    var writer: UnsafeContinuation<Result<Void, RPCError>, Never>? { get set }

    /// The next queued message, if any. Context thread only.
    func takeMessage() -> [UInt8]?
    /// Answers `continuation` now (a message, the end, a failure) or parks it in `reader`. Context thread only.
    func waitForMessage(_ continuation: UnsafeContinuation<Result<[UInt8]?, RPCError>, Never>)
    /// Queues one framed message on the stream. Context thread only.
    func sendNow(_ framed: [UInt8]) -> SendOutcome
}

enum SendOutcome {
    case sent
    case failed(RPCError)
    /// Queued, but the stream is past its watermark: the writer waits for `streamWritable`.
    case mustWait
}

extension CallEndpoint {
    /// The next message, nil at the end of the stream; throws the call's failure.
    func receiveMessage() async throws(RPCError) -> [UInt8]? {
        let context = executionContext
        if context.isCurrent, let message = takeMessage() { return message }
        let result = await withUnsafeContinuation { continuation in
            if context.isCurrent {
                waitForMessage(continuation)
            } else {
                context.execute { self.waitForMessage(continuation) }
            }
        }
        return try result.get()
    }

    /// Sends one framed message, waiting while flow control holds the stream.
    func sendMessage(_ framed: [UInt8]) async throws(RPCError) {
        let context = executionContext
        if context.isCurrent {
            switch sendNow(framed) {
            case .sent: return
            case .failed(let error): throw error
            case .mustWait: try await withUnsafeContinuation { writer = $0 }.get()
            }
            return
        }
        let result = await withUnsafeContinuation { (continuation: UnsafeContinuation<Result<Void, RPCError>, Never>) in
            context.execute {
                switch self.sendNow(framed) {
                case .sent: continuation.resume(returning: .success(()))
                case .failed(let error): continuation.resume(returning: .failure(error))
                case .mustWait: self.writer = continuation
                }
            }
        }
        try result.get()
    }

    /// Lets a writer waiting for flow control continue. Context thread only.
    func resumeWriter() {
        guard let writer else { return }
        self.writer = nil
        writer.resume(returning: .success(()))
    }
}
