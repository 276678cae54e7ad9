import ClusterTestSupport
import Foundation
import Locks
import Cluster
import Protos
import RPC
import SQLite
import Synchronization
import Testing

/// kill -9 of a node in the middle of a stream of orders, then a restart: every acknowledged order exists exactly
/// once with a consistent state, fills crossed the crash exactly once, and event subscribers see no gap and no
/// order that was not made durable.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct CrashTests {
    @Test func aNodeKilledMidStreamLosesNothingAcknowledged() async throws {
        try await ProcessorCluster.with { cluster in
            let victim = "p2"
            let symbols = ["CRA", "CRB", "CRC", "CRD"]
            let acknowledged = Locked<[String: Tradewire_V1_OrderStatus]>([:])
            // What a live subscriber of the victim saw before it died.
            let seen = Locked<[Tradewire_V1_Event]>([])

            let total = 600
            let killed = Locked(false)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    let (client, channel) = try cluster.processor(victim)
                    defer { channel.close() }
                    _ = try? await client.subscribeEvents(Tradewire_V1_SubscribeEventsRequest(fromSequence: 1)) { batches in
                        for try await batch in batches { seen.withLock { $0 += batch.events } }
                    }
                }
                for worker in 0..<6 {
                    group.addTask {
                        for index in stride(from: worker, to: total, by: 6) {
                            let id = "crash-\(index)"
                            // Buys and sells around one price on four symbols: most orders trade.
                            let command = ProcessorCluster.place(
                                id, symbol: symbols[(index / 2) % symbols.count], side: index % 2 == 0 ? .buy : .sell,
                                price: 1_000 + Int64(index % 5) - 2, quantity: Int64(1 + index % 7))
                            guard let ack = try? await cluster.client.send(command), let order = ack.order else { continue }
                            acknowledged.withLock { $0[id] = order.status }
                        }
                    }
                }
                group.addTask {
                    while acknowledged.withLock({ $0.count }) < total / 3 { try await Task.sleep(for: .milliseconds(2)) }
                    cluster.processes[victim]!.kill9()
                    killed.withLock { $0 = true }
                }
                try await group.waitForAll()
            }
            #expect(killed.withLock { $0 })
            let victimAcks = acknowledged.withLock { $0 }.keys.filter { cluster.client.owner(of: .order($0)).id == victim }.count
            try await cluster.start(victim)

            let acked = acknowledged.withLock { $0 }
            #expect(acked.count > total / 3)
            #expect(victimAcks > 0, "some of the victim's orders were acknowledged before the crash")

            // Every acknowledged order exists, in a state at or after the one acknowledged.
            try await cluster.expectNothingLost(acked)

            // Fills reached both orders exactly once: once the outboxes have drained, each order's filled
            // quantity is the sum of its trades in the books' journals.
            let consistent = try await waitUntil {
                var trades: [String: Int64] = [:]
                for node in cluster.config.nodes {
                    for event in try await cluster.events(node.id) {
                        guard case .trade(let trade) = event.event else { continue }
                        trades[trade.buyOrderID!.value, default: 0] += trade.quantity!.units
                        trades[trade.sellOrderID!.value, default: 0] += trade.quantity!.units
                    }
                }
                var wrong = 0
                for (id, quantity) in trades where try await cluster.order(id).filledQuantity?.units != quantity { wrong += 1 }
                return !trades.isEmpty && wrong == 0
            }
            if !consistent {
                var trades: [String: [String]] = [:]
                for node in cluster.config.nodes {
                    for event in try await cluster.events(node.id) {
                        guard case .trade(let trade) = event.event else { continue }
                        trades[trade.buyOrderID!.value, default: []].append("\(node.id)#\(event.sequence) \(trade.tradeID) \(trade.quantity!.units)")
                        trades[trade.sellOrderID!.value, default: []].append("\(node.id)#\(event.sequence) \(trade.tradeID) \(trade.quantity!.units)")
                    }
                }
                for (id, list) in trades {
                    let order = try await cluster.order(id)
                    let sum = list.reduce(0) { $0 + Int64($1.split(separator: " ").last!)! }
                    if order.filledQuantity?.units != sum {
                        Issue.record("\(id) on \(cluster.client.owner(of: .order(id)).id): filled \(order.filledQuantity?.units ?? -1) status \(order.status), trades \(list)")
                    }
                }
            }
            #expect(consistent, "orders' filled quantities equal their trades after the restart")

            // Each node's events: gap-free from 1; what a subscriber saw before the crash is still there, the same;
            // each acknowledged order's NEW event exactly once, on its owner.
            var news: [String: Int] = [:]
            for node in cluster.config.nodes {
                let events = try await cluster.events(node.id)
                #expect(events.map(\.sequence) == Array(1...UInt64(events.count)), "node \(node.id) has a gap")
                for event in events {
                    if case .order(let order) = event.event, order.report?.execType == .pendingNew {
                        news[order.order!.orderID!.value, default: 0] += 1
                    }
                }
                if node.id == victim {
                    let seenBeforeCrash = seen.withLock { $0 }
                    #expect(!seenBeforeCrash.isEmpty)
                    #expect(Array(events.prefix(seenBeforeCrash.count)) == seenBeforeCrash)
                }
            }
            for id in acked.keys { #expect(news[id] == 1, "\(id) has \(news[id] ?? 0) NEW events") }
        }
    }
}

/// A disk that fills under load: each node stops at its first failed commit (exit 70) without committing anything
/// on top of the lost write; moved to healthy storage, every node starts (no "journal has a hole") and every
/// acknowledged order is there in a state at or after the acknowledged one.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct DiskFullTests {
    @Test func nodesWhoseDiskFillsStopAndRestartOnHealthyStorageWithEverythingAcknowledged() async throws {
        try await ProcessorCluster.with(dataSize: "16m") { cluster in
            let symbols = ["DFA", "DFB", "DFC"]
            let acknowledged = Locked<[String: Tradewire_V1_OrderStatus]>([:])
            let failures = Locked(0)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<6 {
                    group.addTask {
                        var index = worker
                        // Until the nodes have stopped: consecutive failures mean nobody is listening any more.
                        while failures.withLock({ $0 }) < 300, index < 200_000 {
                            let id = "full-\(index)"
                            let command = ProcessorCluster.place(
                                id, symbol: symbols[(index / 2) % symbols.count], side: index % 2 == 0 ? .buy : .sell,
                                price: 1_000 + Int64(index % 5) - 2, quantity: Int64(1 + index % 7))
                            if let ack = try? await cluster.client.send(command), let order = ack.order {
                                acknowledged.withLock { $0[id] = order.status }
                            } else {
                                failures.withLock { $0 += 1 }
                            }
                            index += 6
                        }
                    }
                }
                try await group.waitForAll()
            }
            // Every node ends, the full ones with fail-stop's status 70 (one whose peers died first may still run).
            let stopped = try await waitUntil {
                cluster.processes.values.filter { $0.exitStatus() == 70 }.count >= 1
            }
            #expect(stopped, "no node stopped with status 70: \(cluster.processes.mapValues { $0.exitStatus() })")
            for process in cluster.processes.values { process.stop() }
            let acked = acknowledged.withLock { $0 }
            #expect(acked.count > 100, "the disk filled before much was acknowledged")

            try cluster.moveDataToHealthyStorage()
            for node in cluster.config.nodes { try await cluster.start(node.id) }  // throws if recovery refused
            try await cluster.expectNothingLost(acked)
            for node in cluster.config.nodes {
                let events = try await cluster.events(node.id)
                #expect(events.map(\.sequence) == (0..<UInt64(events.count)).map { $0 + 1 }, "node \(node.id) has a gap")
            }
            // The restarted nodes take new orders.
            #expect(try await cluster.client.send(ProcessorCluster.place("after", symbol: "DFA", side: .buy, price: 900, quantity: 1)).order?.status == .accepted)
        }
    }
}

extension DiskFullTests {
    /// Another process holds SQLite's write lock on one node's journal for longer than the node's busy timeout,
    /// under load: the node stops at its first failed commit (exit 70); restarted, it holds everything it
    /// acknowledged, and its journal has no hole.
    @Test func aNodeThatCannotCommitStopsAndRestartsWithEverythingAcknowledged() async throws {
        try await ProcessorCluster.with { cluster in
            let victim = "p2"
            let acknowledged = Locked<[String: Tradewire_V1_OrderStatus]>([:])
            let journalPath = cluster.directory + "/data/\(victim).sqlite"
            let stopLoad = Locked(false)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<6 {
                    group.addTask {
                        var index = worker
                        while !stopLoad.withLock({ $0 }) {
                            let id = "busy-\(index)"
                            let command = ProcessorCluster.place(
                                id, symbol: ["BSA", "BSB"][(index / 2) % 2], side: index % 2 == 0 ? .buy : .sell,
                                price: 1_000 + Int64(index % 3) - 1, quantity: Int64(1 + index % 4))
                            if let ack = try? await cluster.client.send(command), let order = ack.order {
                                acknowledged.withLock { $0[id] = order.status }
                            }
                            index += 6
                        }
                    }
                }
                group.addTask {
                    while acknowledged.withLock({ $0.count }) < 200 { try await Task.sleep(for: .milliseconds(5)) }
                    let blocker = try SQLiteDatabase.open(path: journalPath)
                    try blocker.execute("BEGIN IMMEDIATE")
                    let stopped = try await waitUntil { cluster.processes[victim]!.exitStatus() != nil }
                    #expect(stopped && cluster.processes[victim]!.exitStatus() == 70)
                    try blocker.execute("ROLLBACK")
                    try await Task.sleep(for: .milliseconds(300))  // orders for the other nodes go on meanwhile
                    stopLoad.withLock { $0 = true }
                }
                try await group.waitForAll()
            }
            try await cluster.start(victim)  // throws if recovery found a hole
            for (id, status) in acknowledged.withLock({ $0 }) {
                let order = try await cluster.order(id)
                #expect(status == .rejected ? order.status == .rejected : order.status != .new && order.status != .rejected,
                        "\(id): acknowledged \(status), now \(order.status)")
            }
            let events = try await cluster.events(victim)
            #expect(events.map(\.sequence) == (0..<UInt64(events.count)).map { $0 + 1 })
        }
    }
}

/// A value shared by a test's tasks.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Lock<Value>

    init(_ value: Value) {
        mutex = Lock(value)
    }

    func withLock<T>(_ body: (inout Value) -> T) -> T { mutex.withLock { body(&$0) } }
}

extension ProcessorCluster {
    /// Every acknowledged order exists, in a state at or after the one it was acknowledged in.
    func expectNothingLost(_ acknowledged: [String: Tradewire_V1_OrderStatus]) async throws {
        let later: [Tradewire_V1_OrderStatus: Set<Tradewire_V1_OrderStatus>] = [
            .accepted: [.accepted, .partiallyFilled, .filled, .settled, .cancelled],
            .rejected: [.rejected],
        ]
        for (id, status) in acknowledged {
            let order = try await order(id)
            #expect(later[status]?.contains(order.status) == true, "\(id): acknowledged \(status), now \(order.status)")
        }
    }
}
