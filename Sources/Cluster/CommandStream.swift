public import Protos
public import RPC
import ServiceStubs
import EventLoop
import Synchronization
import Locks

/// The client side of a node's long-lived `Commands` stream: callers hand in commands one at a time from any
/// thread; a writer task sends whatever has queued as one batch, and a reader pairs acknowledgements with their
/// commands by `command_id`. The stream opens on first use and reopens on the next command after it failed; a
/// failure fails every command without an acknowledgement (the caller decides whether to resend: place is
/// idempotent, node-to-node commands are deduplicated by their source sequence).
///
/// `maxInFlight` bounds the commands sent and not yet acknowledged; ``send(_:)`` waits for room (backpressure),
/// ``send(_:completion:)`` is for callers that bound themselves.
public final class CommandStream: Sendable {
    public typealias Completion = @Sendable (Result<Tradewire_V1_Ack, RPCError>) -> Void

    private let client: Tradewire_V1_Processor.Client
    /// The stream's writer and reader run on the connection's loop (``RPCClientTransport/preferredExecutor``).
    private let executor: (any TaskExecutor)?
    private let metadata: Metadata
    public let maxInFlight: Int
    private let state = Lock(State())

    fileprivate struct State {
        var nextID: UInt64 = 1
        var queue: [Tradewire_V1_Command] = []
        var pending: [UInt64: Completion] = [:]
        /// When each command was handed in (Monotonic), oldest first; answered ones leave from the front.
        var handedIn: [(id: UInt64, at: UInt64)] = []
        var handedInHead = 0
        var writer: UnsafeContinuation<Void, Never>?
        var room: [UnsafeContinuation<Void, Never>] = []
        var running = false
        var closed = false
    }

    public init(transport: any RPCClientTransport, metadata: Metadata = [:], maxInFlight: Int = 8192) {
        client = Tradewire_V1_Processor.Client(transport)
        executor = transport.preferredExecutor
        self.metadata = metadata
        self.maxInFlight = maxInFlight
    }

    /// Commands sent or queued and not yet answered.
    public var inFlight: Int { state.withLock { $0.pending.count } }

    /// Nanoseconds the oldest unanswered command has waited (0 when none waits): how far behind the node is.
    public var oldestWait: UInt64 {
        state.withLock { state in
            state.dropAnswered()
            guard state.handedInHead < state.handedIn.count else { return 0 }
            return Monotonic.now() &- state.handedIn[state.handedInHead].at
        }
    }

    /// Sends `command` (its `command_id` is set here); `completion` gets its acknowledgement or the stream's
    /// failure, on an arbitrary thread.
    public func send(_ command: Tradewire_V1_Command, completion: @escaping Completion) {
        let queued = state.withLock { state -> (start: Bool, writer: UnsafeContinuation<Void, Never>?)? in
            guard !state.closed else { return nil }
            var command = command
            command.commandID = state.nextID
            state.nextID += 1
            state.pending[command.commandID] = completion
            state.handedIn.append((command.commandID, Monotonic.now()))
            state.queue.append(command)
            defer { state.writer = nil; state.running = true }
            return (!state.running, state.writer)
        }
        guard let queued else {
            completion(.failure(RPCError(code: .unavailable, message: "the command stream is closed")))
            return
        }
        queued.writer?.resume()
        if queued.start { Task(executorPreference: executor) { await self.run() } }
    }

    /// Sends `command` once fewer than `maxInFlight` are outstanding, and returns its acknowledgement.
    public func send(_ command: Tradewire_V1_Command) async throws(RPCError) -> Tradewire_V1_Ack {
        while state.withLock({ $0.pending.count >= maxInFlight && !$0.closed }) {
            await withUnsafeContinuation { continuation in
                let wait = state.withLock { state -> Bool in
                    guard state.pending.count >= maxInFlight && !state.closed else { return false }
                    state.room.append(continuation)
                    return true
                }
                if !wait { continuation.resume() }
            }
        }
        let result = await withUnsafeContinuation { continuation in
            send(command) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }

    /// Fails what is outstanding and refuses new commands.
    public func close() {
        let (pending, writer, room) = state.withLock { state in
            state.closed = true
            defer { state.pending = [:]; state.handedIn = []; state.handedInHead = 0; state.queue = []; state.writer = nil; state.room = [] }
            return (state.pending, state.writer, state.room)
        }
        writer?.resume()
        room.forEach { $0.resume() }
        for completion in pending.values { completion(.failure(RPCError(code: .unavailable, message: "the command stream is closed"))) }
    }

    private func run() async {
        var failure = RPCError(code: .unavailable, message: "the node ended the command stream")
        do {
            try await client.commands(metadata: metadata) { writer, responses in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        while let batch = await self.nextBatch() {
                            try await writer.write(Tradewire_V1_CommandBatch(commands: batch))
                        }
                    }
                    for try await batch in responses { self.complete(batch.acks) }
                    group.cancelAll()
                }
            }
        } catch let error as RPCError {
            failure = error
        } catch {
            failure = RPCError(code: .unavailable, message: "\(error)")
        }
        let (pending, room) = state.withLock { state in
            defer {
                state.pending = [:]
                state.handedIn = []
                state.handedInHead = 0
                state.queue = []
                state.room = []
                state.running = false
            }
            return (state.pending, state.room)
        }
        room.forEach { $0.resume() }
        for completion in pending.values { completion(.failure(failure)) }
    }

    private func complete(_ acks: [Tradewire_V1_Ack]) {
        let (completions, room) = state.withLock { state in
            let completions = acks.map { state.pending.removeValue(forKey: $0.commandID) }
            state.dropAnswered()
            let free = maxInFlight - state.pending.count
            let room = Array(state.room.prefix(max(0, free)))
            state.room.removeFirst(room.count)
            return (completions, room)
        }
        for (ack, completion) in zip(acks, completions) { completion?(.success(ack)) }
        room.forEach { $0.resume() }
    }

    /// What has queued, as one batch; waits while nothing has; nil once closed or cancelled.
    private func nextBatch() async -> [Tradewire_V1_Command]? {
        while true {
            let batch = state.withLock { state -> [Tradewire_V1_Command]? in
                defer { state.queue = [] }
                return state.queue.isEmpty ? nil : state.queue
            }
            if let batch { return batch }
            if Task.isCancelled || state.withLock({ $0.closed }) { return nil }
            await withTaskCancellationHandler {
                await withUnsafeContinuation { continuation in
                    let ready = state.withLock { state -> Bool in
                        guard state.queue.isEmpty && !state.closed && !Task.isCancelled else { return true }
                        state.writer = continuation
                        return false
                    }
                    if ready { continuation.resume() }
                }
            } onCancel: {
                state.withLock { state in defer { state.writer = nil }; return state.writer }?.resume()
            }
        }
    }
}

extension CommandStream.State {
    /// Forgets the hand-in times of answered commands at the front, and compacts now and then.
    fileprivate mutating func dropAnswered() {
        while handedInHead < handedIn.count && pending[handedIn[handedInHead].id] == nil { handedInHead += 1 }
        if handedInHead > 1024 && handedInHead * 2 > handedIn.count {
            handedIn.removeFirst(handedInHead)
            handedInHead = 0
        }
    }
}
