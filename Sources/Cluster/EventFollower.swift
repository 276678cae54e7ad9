import CoreMetrics
public import EventLoop
import Locks
import Logging
public import Protos
import RPC
import ServiceStubs
import Transport

/// Reads every processor node's event stream for a consumer (risk, market data): one `SubscribeEvents` call per
/// node, resumed after failures from the consumer's own cursor, each batch decoded as `Batch` (the node's
/// `EventBatch`, or a view of it with only the fields the consumer reads). Delivery is at least once, in order per
/// node; the consumer skips what it has applied (by sequence) and stores its cursor with its state, so nothing is
/// counted twice or lost across restarts of either side.
///
/// Each stream asks for heartbeats (`ClusterConfig.eventHeartbeat`), so a quiet node still speaks: a stream that
/// brings nothing at all for `ClusterConfig.eventStall` while the follower waits on it — a hung peer, a connection
/// that died without a word — is abandoned, and the node is followed again over a new connection. How far behind
/// each node the consumer is (events, and the time its knowledge is current as of) is in ``status()``, the
/// `follower_lag_events` / `follower_lag_seconds` gauges and `follower_stalls` counter (label `node`).
public struct EventFollower<Batch: FollowedEventBatch>: Sendable {
    /// Where to resume a node: the last sequence the consumer applied (0: none).
    public typealias Cursor = @Sendable (_ node: String) async throws -> UInt64
    /// Applies a batch of one node's events; returns once they are applied (and stored, for durable consumers).
    public typealias Deliver = @Sendable (_ node: String, _ batch: Batch) async throws -> Void

    let config: ClusterConfig
    let batchSize: UInt32
    let kinds: [Tradewire_V1_EventKind]
    let linger: Duration
    let fillReportsOnly: Bool
    let orderStatuses: [Tradewire_V1_OrderStatus]
    let group: EventLoopGroup?
    private let progress: FollowerProgress

    /// - Parameters:
    ///   - kinds: the events wanted (empty: all); the nodes leave out the others.
    ///   - linger: how long a node that the consumer has caught up with holds new events back to send them
    ///     together (`SubscribeEventsRequest.linger_ms`, whole milliseconds, at most 1 s; zero: none).
    ///   - fillReportsOnly: order events come with their order, and with their report only when it is a fill's
    ///     (`SubscribeEventsRequest.trade_reports_only`): for a consumer that reads orders and fills' prices.
    ///   - orderStatuses: order events only when the order has one of these statuses after the change (empty: any;
    ///     `SubscribeEventsRequest.order_statuses`): the nodes leave out the changes the consumer would ignore.
    ///   - group: loops for the channels to the nodes (by default each opens its own).
    public init(config: ClusterConfig, batchSize: UInt32 = 512, kinds: [Tradewire_V1_EventKind] = [], linger: Duration = .zero,
                fillReportsOnly: Bool = false, orderStatuses: [Tradewire_V1_OrderStatus] = [], group: EventLoopGroup? = nil)
    {
        precondition(linger >= .zero && linger <= .seconds(1), "a follower's linger is 0–1 s")
        self.config = config
        self.batchSize = batchSize
        self.kinds = kinds
        self.linger = linger
        self.fillReportsOnly = fillReportsOnly
        self.orderStatuses = orderStatuses
        self.group = group
        progress = FollowerProgress(nodes: config.nodes.map(\.id))
    }

    /// Follows every node until cancelled. A node that is down, fails or stalls is retried with a `Backoff`.
    public func run(cursor: @escaping Cursor, deliver: @escaping Deliver) async {
        await withTaskGroup(of: Void.self) { group in
            for node in config.nodes {
                group.addTask { await follow(node, cursor: cursor, deliver: deliver) }
            }
        }
    }

    /// How far the consumer is behind each node, in node order.
    public func status() -> [NodeLag] {
        let now = WallClock.now()
        return config.nodes.map { progress.lag($0.id, now: now) }
    }

    /// Wall-clock nanoseconds up to which the consumer has applied everything `node` committed (nil: not known yet).
    public func currentAsOf(_ node: String) -> Int64? { progress.currentAsOf(node) }

    private func follow(_ node: ClusterNode, cursor: @escaping Cursor, deliver: @escaping Deliver) async {
        let logger = Logger(label: "tradewire.follower")
        var backoff = Backoff.mesh
        while !Task.isCancelled {
            // A new channel each time: after a stall the old connection cannot be trusted.
            guard let channel = try? config.channel(node.address, group: group) else { return }
            let before = progress.applied(node.id)
            do {
                // On the connection's loop: batches keep coming while the process's shared threads are busy.
                try await withTaskExecutorPreference(channel.preferredExecutor) {
                    try await subscribe(node, channel, cursor: cursor, deliver: deliver)
                }
            } catch let stall as Stalled {
                progress.stalled(node.id)
                logger.warning("the event stream stalled; following the node again over a new connection",
                               metadata: ["node": "\(node.id)", "silent_ms": "\(stall.silence / 1_000_000)"])
            } catch {
                progress.failed(node.id, error)  // Down, restarting, or the consumer failed to apply.
            }
            channel.close()
            if progress.applied(node.id) > before { backoff.reset() }
            await backoff.wait()
        }
    }

    /// One subscription, from the consumer's cursor, until it fails, ends or stalls (`Stalled`).
    private func subscribe(
        _ node: ClusterNode, _ channel: Channel, cursor: @escaping Cursor, deliver: @escaping Deliver
    ) async throws
    {
        let stored = try await cursor(node.id)
        progress.resume(node.id, after: stored)
        let from = stored + 1
        let request = Tradewire_V1_SubscribeEventsRequest(
            fromSequence: from, maxBatchSize: batchSize, heartbeatMs: UInt32(config.eventHeartbeat.nanoseconds / 1_000_000), kinds: kinds,
            lingerMs: UInt32(linger.nanoseconds / 1_000_000), tradeReportsOnly: fillReportsOnly, orderStatuses: orderStatuses)
        let id = node.id
        let watch = StallWatch(limit: UInt64(config.eventStall.nanoseconds))
        let progress = progress
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                watch.waiting()
                let method = Tradewire_V1_Processor.Method.subscribeEvents
                try await channel.serverStreaming(method, request, responseType: Batch.self) { batches in
                    for try await batch in batches {
                        watch.heard()
                        if batch.lastEvent != nil { try await deliver(id, batch) }
                        progress.record(id, applied: batch)
                        watch.waiting()
                    }
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    try await Task.sleep(for: .nanoseconds(Int64(watch.limit / 4)))
                    progress.publish(id)
                    if let silence = watch.silence() { throw Stalled(silence: silence) }
                }
            }
            try await group.next()  // The subscription ended (the node closed it) or one of the two threw.
            group.cancelAll()
        }
    }

    struct Stalled: Error {
        /// Nanoseconds the stream had been silent.
        let silence: UInt64
    }
}

/// How far a consumer is behind one node.
public struct NodeLag: Sendable, Hashable, CustomStringConvertible {
    public var node: String
    /// The last sequence applied, and the newest the node has said it committed.
    public var applied: UInt64
    public var head: UInt64
    /// Nanoseconds since the consumer's knowledge of the node was last current (nil: never).
    public var behind: Int64?
    /// Stalled streams abandoned so far.
    public var stalls: Int
    /// Why the last subscription failed, while the node is not being followed (nil: following).
    public var problem: String?

    public var description: String {
        let lag = head > applied ? "\(head - applied) events behind" : "caught up"
        let age = behind.map { "current as of \(Self.seconds($0)) s ago" } ?? "never current"
        let stalled = stalls > 0 ? ", \(stalls) stalled stream\(stalls == 1 ? "" : "s") replaced" : ""
        let failing = problem.map { ", not following: \($0)" } ?? ""
        return "node \(node): applied \(applied) of \(head) (\(lag)), \(age)\(stalled)\(failing)"
    }

    static func seconds(_ nanoseconds: Int64) -> String {
        let tenths = max(nanoseconds, 0) / 100_000_000
        return "\(tenths / 10).\(tenths % 10)"
    }
}

/// When a subscription began waiting for the stream (nil: it is delivering). Written by the subscription's task,
/// read by its watchdog.
private final class StallWatch: Sendable {
    let limit: UInt64
    private let since = Lock<UInt64?>(nil)

    init(limit: UInt64) { self.limit = limit }

    func waiting() { since.withLock { $0 = Monotonic.now() } }
    func heard() { since.withLock { $0 = nil } }

    /// How long the stream has been silent, once that passes the limit.
    func silence() -> UInt64? {
        guard let start = since.withLock({ $0 }) else { return nil }
        let silent = Monotonic.now() &- start
        return silent > limit ? silent : nil
    }
}

/// Per node: what the consumer applied, what the node said it has, since when the consumer's knowledge is
/// current; published as gauges.
private final class FollowerProgress: Sendable {
    struct Node {
        var applied: UInt64 = 0
        var head: UInt64 = 0
        var currentAsOf: Int64?
        var stalls = 0
        var problem: String?
        let lagEvents: Gauge
        let lagSeconds: Gauge
        let stallCount: Counter
    }

    private let nodes: Lock<[String: Node]>

    init(nodes ids: [String]) {
        nodes = Lock(Dictionary(uniqueKeysWithValues: ids.map { id in
            (id, Node(lagEvents: Gauge(label: "follower_lag_events", dimensions: [("node", id)]),
                      lagSeconds: Gauge(label: "follower_lag_seconds", dimensions: [("node", id)]),
                      stallCount: Counter(label: "follower_stalls", dimensions: [("node", id)])))
        }))
    }

    func applied(_ id: String) -> UInt64 { nodes.withLock { $0[id]?.applied ?? 0 } }

    func currentAsOf(_ id: String) -> Int64? { nodes.withLock { $0[id]?.currentAsOf } }

    /// The consumer has everything up to `sequence` (its stored cursor, after a restart).
    func resume(_ id: String, after sequence: UInt64) {
        nodes.withLock { nodes in
            if let applied = nodes[id]?.applied, applied < sequence { nodes[id]?.applied = sequence }
        }
    }

    /// `batch` is applied: everything up to its last event, and — when that reaches the head it names — everything
    /// the node had committed when it sent the batch.
    func record(_ id: String, applied batch: some FollowedEventBatch) {
        nodes.withLock { nodes in
            guard var node = nodes[id] else { return }
            node.problem = nil
            if let last = batch.lastEvent {
                node.applied = max(node.applied, last.sequence)
                node.currentAsOf = max(node.currentAsOf ?? .min, last.committedAt)
            }
            // What the node's filters left out counts as applied: there was nothing in it for this consumer.
            node.applied = max(node.applied, batch.throughSequence)
            node.head = max(node.head, batch.headSequence)
            if node.applied >= batch.headSequence && batch.sentAtUnixNanos > 0 {
                node.currentAsOf = max(node.currentAsOf ?? .min, batch.sentAtUnixNanos)
            }
            nodes[id] = node
        }
        publish(id)
    }

    func stalled(_ id: String) {
        nodes.withLock { nodes in
            nodes[id]?.stalls += 1
            nodes[id]?.problem = "the stream stalled"
            nodes[id]?.stallCount.increment()
        }
    }

    func failed(_ id: String, _ error: any Error) {
        nodes.withLock { $0[id]?.problem = "\(RPCError(from: error))" }
    }

    func lag(_ id: String, now: Int64) -> NodeLag {
        nodes.withLock { nodes in
            let node = nodes[id]
            return NodeLag(
                node: id, applied: node?.applied ?? 0, head: node?.head ?? 0,
                behind: node?.currentAsOf.map { now &- $0 }, stalls: node?.stalls ?? 0, problem: node?.problem)
        }
    }

    /// Sets the node's gauges from its progress now.
    func publish(_ id: String) {
        let now = WallClock.now()
        nodes.withLock { nodes in
            guard let node = nodes[id] else { return }
            node.lagEvents.record(Int64(clamping: node.head &- min(node.applied, node.head)))
            if let asOf = node.currentAsOf { node.lagSeconds.record(Double(now &- asOf) / 1e9) }
        }
    }
}

/// What ``EventFollower`` reads of a node's `EventBatch`, whichever message decodes it: the batch itself, or a
/// consumer's view of it (the same field numbers; only the fields the consumer reads).
public protocol FollowedEventBatch: ProtoMessage {
    var headSequence: UInt64 { get }
    var sentAtUnixNanos: Int64 { get }
    var throughSequence: UInt64 { get }
    /// The last event's sequence and commit time; nil when the batch has none (a heartbeat, or all left out).
    var lastEvent: (sequence: UInt64, committedAt: Int64)? { get }
}

extension Tradewire_V1_EventBatch: FollowedEventBatch {
    public var lastEvent: (sequence: UInt64, committedAt: Int64)? { events.last.map { ($0.sequence, $0.committedAtUnixNanos) } }
}

extension Tradewire_V1_EventBatchRiskView: FollowedEventBatch {
    public var lastEvent: (sequence: UInt64, committedAt: Int64)? { events.last.map { ($0.sequence, $0.committedAtUnixNanos) } }
}
