public import Protos
public import RPC
import Synchronization
import Transport

/// Sends commands to the processor cluster the way a gateway does: each to the node that owns its key on the
/// ring (one long-lived command stream per node), stamped with the ring's epoch. A node that answers NotOwner
/// names the owner: the client takes a newer ring from `refresh` when the answer's epoch is newer than its own,
/// and resends to the owner (at most a few hops, so two disagreeing nodes cannot bounce a command forever).
public final class ClusterClient: Sendable {
    private let state: Mutex<State>
    private let refresh: @Sendable () -> ClusterConfig?
    private let maxInFlightPerNode: Int
    /// Makes the channels (with the mesh credential).
    private let config: ClusterConfig

    private struct State {
        var ring: ClusterRing
        var streams: [String: CommandStream] = [:]
        var channels: [Channel] = []
    }

    public init(config: ClusterConfig, maxInFlightPerNode: Int = 8192, refresh: @escaping @Sendable () -> ClusterConfig? = { nil }) {
        state = Mutex(State(ring: ClusterRing(config)))
        self.refresh = refresh
        self.maxInFlightPerNode = maxInFlightPerNode
        self.config = config
    }

    public var epoch: UInt64 { state.withLock { $0.ring.epoch } }

    /// The node that owns `key` in this client's ring.
    public func owner(of key: String) -> ClusterNode { state.withLock { $0.ring.owner(of: key) } }

    /// Sends `command` to the owner of its key and returns the owner's acknowledgement.
    public func send(_ command: Tradewire_V1_Command) async throws(RPCError) -> Tradewire_V1_Ack {
        guard let key = NodeCore.routingKey(command) else {
            throw RPCError(code: .invalidArgument, message: "the command names no order id or symbol")
        }
        var target = owner(of: key)
        for _ in 0..<4 {
            var command = command
            command.ringEpoch = epoch
            let ack = try await stream(to: target).send(command)
            guard case .notOwner(let notOwner) = ack.result else { return ack }
            if notOwner.ringEpoch > epoch, let newer = refresh(), newer.epoch >= notOwner.ringEpoch {
                state.withLock { $0.ring = ClusterRing(newer) }
            }
            target = ClusterNode(id: notOwner.ownerNodeID, address: notOwner.ownerAddress)
        }
        throw RPCError(code: .unavailable, message: "the nodes disagree about who owns \(key); the cluster files differ")
    }

    /// The command stream to `node`, opened on first use.
    public func stream(to node: ClusterNode) throws(RPCError) -> CommandStream {
        if let stream = state.withLock({ $0.streams[node.id] }) { return stream }
        let channel: Channel
        do { channel = try config.channel(node.address) } catch {
            throw RPCError(code: .unavailable, message: "cannot reach node \(node.id) at \(node.address): \(error)")
        }
        let stream = CommandStream(transport: channel, maxInFlight: maxInFlightPerNode)
        let (winner, extra) = state.withLock { state -> (CommandStream, Channel?) in
            if let existing = state.streams[node.id] { return (existing, channel) }
            state.streams[node.id] = stream
            state.channels.append(channel)
            return (stream, nil)
        }
        extra?.close()
        return winner
    }

    public func close() async {
        let (streams, channels) = state.withLock { state in
            defer { state.streams = [:]; state.channels = [] }
            return (Array(state.streams.values), state.channels)
        }
        streams.forEach { $0.close() }
        for channel in channels { await channel.shutdown() }
    }
}
