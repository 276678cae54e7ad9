public import EventLoop
import HashRing
public import RPC
import Synchronization
import Locks

/// A client channel to one or more addresses of a service: connects on demand, reconnects with backoff, and
/// spreads calls by its load-balancing policy. Generated clients take a channel.
public final class Channel: RPCClientTransport, Sendable {
    public let addresses: [SocketAddress]
    public let configuration: ChannelConfiguration
    private let subchannels: [Subchannel]
    private let ring: HashRing<Int>?
    /// The loops the channel's connections live on. A task that prefers a connection's loop
    /// (`Task(executorPreference:)`) drives its calls without hopping threads.
    public let group: EventLoopGroup
    private let ownsGroup: Bool
    private let waiters = Lock(Waiters())
    private let roundRobin = Atomic<Int>(0)

    private struct Waiters {
        /// Counts connectivity changes: a call that picked at generation g and finds it moved on re-picks
        /// instead of waiting for a change that already happened.
        var generation = 0
        var next = 0
        var pending: [Int: CheckedContinuation<Void, Never>] = [:]
        var closed = false
        var loopsStopped = false
    }

    public init(addresses: [SocketAddress], configuration: ChannelConfiguration = ChannelConfiguration(),
                group: EventLoopGroup? = nil) throws
    {
        precondition(!addresses.isEmpty, "a channel needs at least one address")
        self.addresses = addresses
        self.configuration = configuration
        ownsGroup = group == nil
        let group = try group ?? EventLoopGroup(loops: configuration.loops, name: "client")
        self.group = group
        let notify = WaiterNotifier()
        subchannels = addresses.map {
            Subchannel(address: $0, loop: group.next(), configuration: configuration, onChange: { notify.fire() })
        }
        ring = configuration.loadBalancing == .ringHash
            ? HashRing(nodes: Array(addresses.indices), key: { addresses[$0].description }) : nil
        notify.channel = self
    }

    /// A channel to `host:port`, resolving the name (e.g. "localhost") to all its addresses.
    public convenience init(host: String, port: Int, configuration: ChannelConfiguration = ChannelConfiguration(),
                            group: EventLoopGroup? = nil) throws
    {
        try self.init(addresses: try SocketAddress.resolve(host: host, port: port), configuration: configuration, group: group)
    }

    public func startCall(method: MethodDescriptor, metadata: Metadata, options: CallOptions) async throws(RPCError)
        -> ClientCall
    {
        let deadline = Self.deadline(options)
        let metadata = configuration.metadata.isEmpty ? metadata : configuration.metadata.merging(metadata)
        while true {
            if let deadline, Monotonic.now() >= deadline {
                throw RPCError(code: .deadlineExceeded, message: "the deadline passed while waiting for a connection")
            }
            let generation = waiters.withLock { $0.generation }
            switch pick(options) {
            case .use(let subchannel):
                do throws(RPCError) {
                    return try await start(on: subchannel, method: method, metadata: metadata, options: options, deadline: deadline)
                } catch where error.code == .unavailable && !isClosed {
                    continue  // The connection went away between pick and start: pick again.
                }
            case .fail(let error):
                throw error
            case .wait:
                try await waitForChange(after: generation, until: deadline)
                if Task.isCancelled {
                    throw RPCError(code: .cancelled, message: "the call was cancelled while waiting for a connection")
                }
            }
        }
    }

    /// The loop of the channel's first address: a task that prefers it drives that connection's calls without
    /// hopping threads.
    public var preferredExecutor: (any TaskExecutor)? { subchannels[0].loop }

    /// Closes every connection; calls in flight fail with UNAVAILABLE.
    public func close() {
        let pending = waiters.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.closed = true
            defer { state.pending.removeAll() }
            return Array(state.pending.values)
        }
        pending.forEach { $0.resume() }
        subchannels.forEach { $0.close() }
    }

    /// Closes the channel and, when it created its loops, stops them.
    public func shutdown() async {
        close()
        guard ownsGroup, waiters.withLock({ state in defer { state.loopsStopped = true }; return !state.loopsStopped }) else { return }
        await Self.stop(group)
    }

    /// Released without ``shutdown()``: closes, and stops loops of its own from a task, since the last reference
    /// may be dropped on one of those loops, which cannot join its own thread.
    deinit {
        close()
        guard ownsGroup, !waiters.withLock({ $0.loopsStopped }) else { return }
        let group = group
        Task.detached { await Self.stop(group) }
    }

    /// Lets the subchannels' close jobs run, then stops the loops.
    private static func stop(_ group: EventLoopGroup) async {
        for loop in group.loops { _ = try? await loop.submit {} }
        group.shutdown()
    }

    private var isClosed: Bool { waiters.withLock { $0.closed } }

    // MARK: - Picking

    private enum Pick {
        case use(Subchannel)
        case wait
        case fail(RPCError)
    }

    private func pick(_ options: CallOptions) -> Pick {
        if isClosed { return .fail(RPCError(code: .unavailable, message: "the channel is closed")) }
        // The common case, a pick-first channel whose first backend is ready, without the general path's
        // snapshot of every backend's state.
        if configuration.loadBalancing == .pickFirst, subchannels[0].connectivity == .ready { return .use(subchannels[0]) }
        let states = subchannels.map(\.connectivity)
        switch configuration.loadBalancing {
        case .pickFirst:
            if let index = states.firstIndex(of: .ready) { return .use(subchannels[index]) }
            if states.contains(.connecting) { return .wait }
            if let index = states.firstIndex(of: .idle) {
                subchannels[index].connectIfIdle()
                return .wait
            }
        case .roundRobin:
            let ready = states.indices.filter { states[$0] == .ready }
            for (index, state) in states.enumerated() where state == .idle { subchannels[index].connectIfIdle() }
            if !ready.isEmpty {
                return .use(subchannels[ready[roundRobin.add(1, ordering: .relaxed).oldValue % ready.count]])
            }
            if states.contains(where: { $0 == .idle || $0 == .connecting }) { return .wait }
        case .ringHash:
            let hash = options.hashKey.map { HashRing<Int>.hash($0) } ?? UInt64.random(in: .min ... .max)
            for index in ring!.successors(for: hash) {
                switch states[index] {
                case .ready: return .use(subchannels[index])
                case .idle:
                    subchannels[index].connectIfIdle()
                    return .wait
                case .connecting: return .wait
                case .transientFailure: continue  // Fail over to the next node on the ring.
                }
            }
        }
        if options.waitForReady { return .wait }
        let last = states.compactMap { state -> RPCError? in
            if case .transientFailure(let error) = state { return error }
            return nil
        }.first
        return .fail(last ?? RPCError(code: .unavailable, message: "no backend is available"))
    }

    private func start(on subchannel: Subchannel, method: MethodDescriptor, metadata: Metadata, options: CallOptions,
                       deadline: UInt64?) async throws(RPCError) -> ClientCall
    {
        let result = await withUnsafeContinuation { (continuation: UnsafeContinuation<Result<ClientCall, RPCError>, Never>) in
            let begin: @Sendable () -> Void = {
                subchannel.startCall(method: method, metadata: metadata, options: options, deadline: deadline) {
                    continuation.resume(returning: $0)
                }
            }
            if subchannel.loop.inEventLoop { begin() } else { subchannel.loop.execute(begin) }
        }
        return try result.get()
    }

    // MARK: - Waiting for a connection

    /// Waits until a subchannel's connectivity changes after `generation`, the channel closes, or `deadline`
    /// passes.
    /// A cancelled task stops waiting: its cancellation wakes every waiter (the others re-pick and wait again).
    private func waitForChange(after generation: Int, until deadline: UInt64?) async throws(RPCError) {
        await withTaskCancellationHandler {
            await waitForChangeOrClose(after: generation, until: deadline)
        } onCancel: {
            wakeWaiters()
        }
        if let deadline, Monotonic.now() >= deadline {
            throw RPCError(code: .deadlineExceeded, message: "the deadline passed while waiting for a connection")
        }
    }

    private func waitForChangeOrClose(after generation: Int, until deadline: UInt64?) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let id = waiters.withLock { state -> Int? in
                guard !state.closed, state.generation == generation else { return nil }
                defer { state.next += 1 }
                state.pending[state.next] = continuation
                return state.next
            }
            guard let id else {
                continuation.resume()
                return
            }
            if let deadline {
                let loop = group.loops[0]
                loop.execute { [self] in loop.schedule(at: deadline) { self.wake(id) } }
            }
        }
    }

    private func wake(_ id: Int) {
        waiters.withLock { $0.pending.removeValue(forKey: id) }?.resume()
    }

    fileprivate func wakeWaiters() {
        let pending = waiters.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.generation += 1
            defer { state.pending.removeAll() }
            return Array(state.pending.values)
        }
        pending.forEach { $0.resume() }
    }

    static func deadline(_ options: CallOptions) -> UInt64? {
        let fromTimeout = options.timeout.map { Monotonic.now() + $0.nanoseconds }
        switch (fromTimeout, options.deadline) {
        case (let a?, let b?): return min(a, b)
        case (let a?, nil): return a
        case (nil, let b?): return b
        case (nil, nil): return nil
        }
    }
}

/// Lets subchannels (created before the channel finishes initialising) reach it to wake waiting calls.
private final class WaiterNotifier: @unchecked Sendable {
    // @unchecked Sendable: `channel` is set once, in Channel.init, before any subchannel can fire.
    weak var channel: Channel?
    func fire() { channel?.wakeWaiters() }
}
