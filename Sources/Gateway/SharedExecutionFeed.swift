import Cluster
import Locks
import Protos

/// Every node's execution reports followed once for the whole gateway, live, and handed to the OrderEntry sessions
/// of each report's account: a node streams its order events once per gateway, not once per session. Reports are
/// read through a view of the node's batches (`EventBatchReportView`): each stays encoded, and only the fields it is
/// routed by are decoded (``ForwardedReport``).
///
/// A session hears the reports the feed delivers while it is registered: those of events committed after the feed
/// reached them, which includes every order the session places after ``wait(readyWithin:)`` (and possibly a few
/// reports of the account's earlier orders still on their way).
final class SharedExecutionFeed: Sendable {
    typealias Listener = @Sendable (ForwardedReport) -> Void

    private let feed: ExecutionFeed
    private let nodes: Int
    private let terms: OrderTerms?
    private let state = Lock(State())

    private struct State {
        /// By account, in registration order: the feed takes an account's array under the lock (a reference, not a
        /// copy per report) and calls it outside.
        var listeners: [String: [(id: UInt64, listener: Listener)]] = [:]
        var accounts: [UInt64: String] = [:]
        var nextID: UInt64 = 0
        var readyNodes = Set<String>()
        var waiting: [UInt64: UnsafeContinuation<Void, Never>] = [:]
    }

    /// - Parameter terms: kept current with every report.
    init(cluster: ClusterClient, terms: OrderTerms? = nil) {
        feed = ExecutionFeed(cluster: cluster, account: "")
        nodes = cluster.nodes.count
        self.terms = terms
    }

    /// Follows every node from its head until cancelled.
    func run() async {
        await feed.run(Tradewire_V1_EventBatchReportView.self, from: [:], live: true, ready: { node, _ in self.arrived(node) }) {
            _, _, report in
            self.terms?.update(report.routing)
            let listeners = self.state.withLock { $0.listeners[report.routing.account] } ?? []
            for (_, listener) in listeners { listener(report) }
        }
    }

    /// Registers `listener` for `account`'s reports until ``remove(_:)``.
    func add(account: String, _ listener: @escaping Listener) -> UInt64 {
        state.withLock { state in
            state.nextID += 1
            state.listeners[account, default: []].append((state.nextID, listener))
            state.accounts[state.nextID] = account
            return state.nextID
        }
    }

    func remove(_ id: UInt64) {
        state.withLock { state in
            guard let account = state.accounts.removeValue(forKey: id) else { return }
            state.listeners[account]?.removeAll { $0.id == id }
            if state.listeners[account]?.isEmpty == true { state.listeners[account] = nil }
        }
    }

    /// Returns once the feed follows every node, or after `timeout` (a node that is down).
    func wait(readyWithin timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                let id = self.state.withLock { state in
                    state.nextID += 1
                    return state.nextID
                }
                await withTaskCancellationHandler {
                    await withUnsafeContinuation { continuation in
                        let ready = self.state.withLock { state -> Bool in
                            guard state.readyNodes.count < self.nodes && !Task.isCancelled else { return true }
                            state.waiting[id] = continuation
                            return false
                        }
                        if ready { continuation.resume() }
                    }
                } onCancel: {
                    self.state.withLock { $0.waiting.removeValue(forKey: id) }?.resume()
                }
            }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }

    private func arrived(_ node: String) {
        let waiting = state.withLock { state -> [UnsafeContinuation<Void, Never>] in
            state.readyNodes.insert(node)
            guard state.readyNodes.count >= nodes else { return [] }
            defer { state.waiting = [:] }
            return Array(state.waiting.values)
        }
        waiting.forEach { $0.resume() }
    }
}
