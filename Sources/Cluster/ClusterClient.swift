public import EventLoop
public import Protos
public import RPC
import ServiceStubs
import Synchronization
public import Transport
import Locks

/// Sends commands to the processor cluster the way a gateway does: each to the node that owns its key on the
/// ring (one long-lived command stream per node), stamped with the ring's epoch. A node that answers NotOwner
/// names the owner: the client takes a newer ring from `refresh` when the answer's epoch is newer than its own,
/// and resends to the owner (at most a few hops, so two disagreeing nodes cannot bounce a command forever).
public final class ClusterClient: Sendable {
    private let state: Lock<State>
    private let refresh: @Sendable () -> ClusterConfig?
    private let maxInFlightPerNode: Int
    /// With `shed`, new work (places, replaces) for a node whose oldest unanswered command has waited this long is
    /// refused at once: past saturation the queue stays this short instead of growing into seconds.
    private let shedAfter: UInt64
    /// Makes the channels (with the mesh credential).
    private let config: ClusterConfig
    private let group: EventLoopGroup?

    private struct State {
        var ring: ClusterRing
        var streams: [String: CommandStream] = [:]
        var channels: [String: Channel] = [:]
        var feedChannels: [String: Channel] = [:]
        /// The refusals `shedding` throws, made once per node and reason: past saturation a third or more of the
        /// requests are refused, and each refusal's google.rpc.Status with its RetryInfo was built and encoded anew
        /// (3% of the gateway's samples at OrderEntry saturation). At most two per node of a ring (≤ 256 nodes).
        var refusals: [Refusal: RPCError] = [:]
    }

    private struct Refusal: Hashable {
        let node: String
        let full: Bool
    }

    /// - Parameters:
    ///   - shedAfter: see ``send(_:shed:)``; by default the cluster's risk timeout, at least 100 ms. A node whose
    ///     oldest command has waited that long takes as long as risk may to answer, and a place sent to it now would
    ///     likely be acknowledged and then rejected RISK_UNAVAILABLE: shedding it at the gateway instead is the
    ///     cheaper refusal, and keeps accepted work accepted (at saturation with twice the risk timeout, 250 ms, the
    ///     nodes rejected ~385 acknowledged places per 8-second OrderEntry run; with the risk timeout none, and more
    ///     work was accepted per second).
    ///   - group: loops for the channels to the nodes (by default each opens its own).
    public init(config: ClusterConfig, maxInFlightPerNode: Int = 8192, shedAfter: Duration? = nil,
                group: EventLoopGroup? = nil, refresh: @escaping @Sendable () -> ClusterConfig? = { nil })
    {
        self.shedAfter = UInt64((shedAfter ?? max(.milliseconds(100), config.riskTimeout)).nanoseconds)
        self.group = group
        state = Lock(State(ring: ClusterRing(config)))
        self.refresh = refresh
        self.maxInFlightPerNode = maxInFlightPerNode
        self.config = config
    }

    public var epoch: UInt64 { state.withLock { $0.ring.epoch } }

    /// The node that owns `key` in this client's ring.
    public func owner(of key: RingKey) -> ClusterNode { state.withLock { $0.ring.owner(of: key) } }

    /// Every node of this client's ring.
    public var nodes: [ClusterNode] { state.withLock { $0.ring.ring.nodes } }

    /// Sends `command` to the owner of its key and returns the owner's acknowledgement. With `shed`, a node that
    /// already has `maxInFlightPerNode` commands unanswered refuses at once with RESOURCE_EXHAUSTED (and a retry
    /// hint) instead of waiting for room; so does a place or replace for a node whose oldest unanswered command has
    /// waited `shedAfter` (cancels still go: they take work away).
    public func send(_ command: Tradewire_V1_Command, shed: Bool = false) async throws(RPCError) -> Tradewire_V1_Ack {
        if shed {
            return try await withUnsafeContinuation { continuation in sendOrShed(command) { continuation.resume(returning: $0) } }.get()
        }
        guard let key = RingKey(routing: command) else {
            throw RPCError(code: .invalidArgument, message: RingKey.unroutable)
        }
        var target = owner(of: key)
        for _ in 0..<Self.ownerAttempts {
            var command = command
            command.ringEpoch = epoch
            let ack = try await stream(to: target).send(command)
            guard case .notOwner(let notOwner) = ack.result else { return ack }
            target = newOwner(notOwner)
        }
        throw Self.noAgreedOwner(key)
    }

    /// `send(_:shed: true)` for callers that must not wait (no task, no continuation): `completion` gets the
    /// owner's acknowledgement or the refusal, at once on this thread when refused before sending, else on the
    /// thread of the command stream's loop.
    public func sendOrShed(_ command: Tradewire_V1_Command, completion: @escaping @Sendable (Result<Tradewire_V1_Ack, RPCError>) -> Void) {
        guard let key = RingKey(routing: command) else {
            return completion(.failure(RPCError(code: .invalidArgument, message: RingKey.unroutable)))
        }
        sendOrShed(command, to: owner(of: key), attempt: 1, key: key, completion: completion)
    }

    private func sendOrShed(_ command: Tradewire_V1_Command, to target: ClusterNode, attempt: Int, key: RingKey,
                            completion: @escaping @Sendable (Result<Tradewire_V1_Ack, RPCError>) -> Void)
    {
        var command = command
        command.ringEpoch = epoch
        let stream: CommandStream
        do throws(RPCError) {
            stream = try self.stream(to: target)
            try shedding(command, to: target, stream)
        } catch {
            return completion(.failure(error))
        }
        stream.send(command) { [command] result in
            guard case .success(let ack) = result, case .notOwner(let notOwner) = ack.result else { return completion(result) }
            guard attempt < Self.ownerAttempts else { return completion(.failure(Self.noAgreedOwner(key))) }
            self.sendOrShed(command, to: self.newOwner(notOwner), attempt: attempt + 1, key: key, completion: completion)
        }
    }

    /// How many owners a command is offered to before the client gives up (a ring that changed under it).
    static let ownerAttempts = 4

    /// The node a NotOwner answer names, after taking a newer ring if it names one.
    private func newOwner(_ notOwner: Tradewire_V1_NotOwner) -> ClusterNode {
        refreshRing(atLeast: notOwner.ringEpoch)
        return ClusterNode(id: notOwner.ownerNodeID, address: notOwner.ownerAddress)
    }

    private static func noAgreedOwner(_ key: RingKey) -> RPCError {
        RPCError(code: .unavailable, message: "the nodes disagree about who owns \(key); the cluster files differ")
    }

    private func shedding(_ command: Tradewire_V1_Command, to node: ClusterNode, _ stream: CommandStream) throws(RPCError) {
        let newWork = switch command.command {
        case .place, .replace: true
        default: false
        }
        if stream.inFlight >= maxInFlightPerNode {
            throw refusal(Refusal(node: node.id, full: true))
        } else if newWork, stream.oldestWait >= shedAfter {
            throw refusal(Refusal(node: node.id, full: false))
        }
    }

    private func refusal(_ refusal: Refusal) -> RPCError {
        if let made = state.withLock({ $0.refusals[refusal] }) { return made }
        let (behind, retryMilliseconds): (String, Int32) = refusal.full
            ? ("has \(maxInFlightPerNode) commands in flight", 10) : ("is \(shedAfter / 1_000_000) ms or more behind", 100)
        let error = RPCError.withDetails(
            code: .resourceExhausted, message: "node \(refusal.node) \(behind): the order was not sent; retry shortly",
            Google_Rpc_RetryInfo(retryDelay: Google_Protobuf_Duration(seconds: 0, nanos: retryMilliseconds * 1_000_000)))
        state.withLock { state in
            if state.refusals.count < 2 * ClusterConfig.maxNodes { state.refusals[refusal] = error }
        }
        return error
    }

    /// Takes the newer ring from `refresh` when a node has named an epoch newer than this client's.
    public func refreshRing(atLeast epoch: UInt64) {
        guard epoch > self.epoch, let newer = refresh(), newer.epoch >= epoch else { return }
        state.withLock { $0.ring = ClusterRing(newer) }
    }

    /// The command stream to `node`, opened on first use.
    public func stream(to node: ClusterNode) throws(RPCError) -> CommandStream {
        if let stream = state.withLock({ $0.streams[node.id] }) { return stream }
        let stream = CommandStream(transport: try channel(to: node), maxInFlight: maxInFlightPerNode)
        return state.withLock { state in
            if let existing = state.streams[node.id] { return existing }
            state.streams[node.id] = stream
            return stream
        }
    }

    /// The channel to `node` (with the mesh credential), opened on first use; its command stream and unary calls
    /// share it.
    public func channel(to node: ClusterNode) throws(RPCError) -> Channel {
        try channel(to: node, in: \.channels)
    }

    /// A second channel to `node` for long-lived event subscriptions (execution feeds): they get their own
    /// connection, so that however many a gateway holds (bounded by its stream quotas), they never take the
    /// streams and the window that commands and reads depend on.
    public func feedChannel(to node: ClusterNode) throws(RPCError) -> Channel {
        try channel(to: node, in: \.feedChannels)
    }

    private func channel(to node: ClusterNode, in table: WritableKeyPath<State, [String: Channel]> & Sendable) throws(RPCError)
        -> Channel
    {
        if let channel = state.withLock({ $0[keyPath: table][node.id] }) { return channel }
        let channel: Channel
        do { channel = try config.channel(node.address, group: group) } catch {
            throw RPCError(code: .unavailable, message: "cannot reach node \(node.id) at \(node.address): \(error)")
        }
        let (winner, extra) = state.withLock { state -> (Channel, Channel?) in
            if let existing = state[keyPath: table][node.id] { return (existing, channel) }
            state[keyPath: table][node.id] = channel
            return (channel, nil)
        }
        extra?.close()
        return winner
    }

    public func close() async {
        let (streams, channels) = state.withLock { state in
            defer { state.streams = [:]; state.channels = [:]; state.feedChannels = [:] }
            return (Array(state.streams.values), Array(state.channels.values) + Array(state.feedChannels.values))
        }
        streams.forEach { $0.close() }
        for channel in channels { await channel.shutdown() }
    }
}
