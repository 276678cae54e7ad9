public import Protos
import ServiceStubs
import Transport

/// Reads every processor node's event stream for a consumer (risk, market data): one `SubscribeEvents` call per
/// node, resumed after failures from the consumer's own cursor. Delivery is at least once, in order per node;
/// the consumer skips what it has applied (by sequence) and stores its cursor with its state, so nothing is
/// counted twice or lost across restarts of either side.
public struct EventFollower: Sendable {
    /// Where to resume a node: the last sequence the consumer applied (0: none).
    public typealias Cursor = @Sendable (_ node: String) async throws -> UInt64
    /// Applies a batch of one node's events; returns once they are applied (and stored, for durable consumers).
    public typealias Deliver = @Sendable (_ node: String, _ batch: Tradewire_V1_EventBatch) async throws -> Void

    let config: ClusterConfig
    let batchSize: UInt32

    public init(config: ClusterConfig, batchSize: UInt32 = 512) {
        self.config = config
        self.batchSize = batchSize
    }

    /// Follows every node until cancelled. A node that is down or fails is retried with a `Backoff`.
    public func run(cursor: @escaping Cursor, deliver: @escaping Deliver) async {
        await withTaskGroup(of: Void.self) { group in
            for node in config.nodes {
                group.addTask { await follow(node, cursor: cursor, deliver: deliver) }
            }
        }
    }

    private func follow(_ node: ClusterNode, cursor: Cursor, deliver: Deliver) async {
        guard let channel = try? config.channel(node.address) else { return }
        let client = Tradewire_V1_Processor.Client(channel)
        var backoff = Backoff()
        while !Task.isCancelled {
            do {
                let from = try await cursor(node.id) + 1
                try await client.subscribeEvents(Tradewire_V1_SubscribeEventsRequest(fromSequence: from, maxBatchSize: batchSize)) { batches in
                    for try await batch in batches where !batch.events.isEmpty {
                        try await deliver(node.id, batch)
                        backoff.reset()
                    }
                }
            } catch {
                // Down, restarting, or the consumer failed to apply: resume from the stored cursor.
            }
            await backoff.wait()
        }
        await channel.shutdown()
    }
}
