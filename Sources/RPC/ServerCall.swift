import Synchronization
import Locks

/// One call on a server: created by the transport when request headers arrive, driven by the transport's
/// events on the connection's thread, and handed to the method's handler, which reads request messages and
/// writes responses through it from its task.
///
/// Threading: all state but `response` (locked: the handler sets it) is confined to `context`'s thread. The transport's methods (`receive…`, `stream…`) are
/// called there. The handler's async methods may be called from any executor: they act at once when on the
/// context's thread (the handler task prefers it) and hop there otherwise.
public final class ServerCall: CallEndpoint, @unchecked Sendable {
    // @unchecked Sendable: every mutable property is read and written on `executionContext`'s thread only.
    public let streamID: Int32
    let executionContext: any RPCExecutionContext
    unowned(unsafe) let transport: ServerCallTransport
    let router: RPCRouter
    let limits: ServerCallLimits
    let peer: String
    /// The connection's request memory (nil: unbounded, for tests of the call alone).
    let memory: RequestMemory?
    /// Bytes this call has counted in `memory`.
    var heldBytes = 0
    /// The connection's running handlers (nil: uncounted, for tests of the call alone).
    let handlers: HandlerSlots?

    var machine = ServerStreamStateMachine()
    var deframer: MessageDeframer?
    /// Set when the headers are accepted, before the handler starts; never changed after.
    var request = RequestHead(method: MethodDescriptor(service: "", method: ""), metadata: Metadata(), deadline: nil)
    let response = Lock(ResponseHead())
    var method: RPCMethod?
    /// What the handler sees of its call.
    public var context: ServerContext { ServerContext(call: self) }

    /// Complete messages the handler has not taken.
    var received = ReceivedMessages()
    /// DATA bytes received and not yet given back to flow control.
    var unconsumedBytes = 0
    var reader: UnsafeContinuation<Result<[UInt8]?, RPCError>, Never>?
    var writer: UnsafeContinuation<Result<Void, RPCError>, Never>?
    /// Why the call ended early (reset, deadline), reported to a handler that reads or writes afterwards.
    var endedEarly: RPCError?
    var task: Task<Void, Never>?
    var deadlineTimer: (any RPCTimer)?
    var ended = false
    /// The routed method's observer until it has been told the call ended, and when the call started.
    var observer: (any CallObserver)?
    var startedAt: UInt64 = 0

    public init(
        streamID: Int32, transport: ServerCallTransport, executionContext: any RPCExecutionContext,
        router: RPCRouter, limits: ServerCallLimits, peer: String, memory: RequestMemory? = nil,
        handlers: HandlerSlots? = nil
    ) {
        self.memory = memory
        self.handlers = handlers
        self.streamID = streamID
        self.transport = transport
        self.executionContext = executionContext
        self.router = router
        self.limits = limits
        self.peer = peer
    }

    // MARK: - Handler side

    /// The next request message, nil after the client's last one. Throws the call's status when it ended early
    /// (cancelled, deadline) or the request stream is broken.
    public func receive() async throws(RPCError) -> [UInt8]? {
        try await receiveMessage()
    }

    /// Sends one framed response message (5 bytes of prefix, then the message), waiting while the stream's
    /// outbound queue is full. Throws the call's status if the call has ended.
    public func send(framed message: [UInt8]) async throws(RPCError) {
        try await sendMessage(message)
    }

    /// The handler returned: ends the call with `status` (OK or an error) — a second status is ignored — and frees
    /// its slot.
    func finish(_ status: RPCError) {
        if executionContext.isCurrent {
            handlerReturned(status)  // No closure to allocate in the usual case.
        } else {
            executionContext.execute { self.handlerReturned(status) }
        }
    }

    private func handlerReturned(_ status: RPCError) {
        sendStatus(status)
        handlers?.release()
    }
}
