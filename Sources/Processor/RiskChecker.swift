import Cluster
import EventLoop
import Locks
import Protos
import RPC
import ServiceStubs

/// A node's risk checks on one long-lived `Risk.CheckStream`: the node hands in what one turn produced as one
/// batch and hears back once per batch, when every check in it is decided. Whatever goes wrong becomes a
/// rejection that says what happened; an order (or a replace) is never accepted without risk's yes.
///
/// - Each batch has the cluster's risk timeout as its deadline: checks risk has not answered by then are decided
///   RISK_UNAVAILABLE ("did not answer within …"); a late answer is dropped (risk's unconfirmed reservation then
///   expires by itself).
/// - The stream opens on first use on the risk channel's loop and reopens with the next batch after it failed;
///   a failure decides every check still open as RISK_UNAVAILABLE with the stream's status.
/// - At most `maxInFlight` checks are open at once; checks past it are decided RISK_UNAVAILABLE at once rather
///   than queued behind a risk service that is not keeping up.
final class RiskChecker: Sendable {
    typealias Decision = RiskDecision
    typealias Completion = @Sendable ([Decision]) -> Void

    /// The most checks one CheckStream batch holds (risk's bound); a larger turn goes as several batches.
    static let maxBatch = 4096

    private let client: Tradewire_V1_Risk.Client?
    private let executor: (any TaskExecutor)?
    private let timeout: Duration
    let maxInFlight: Int
    private let state = Lock(State())

    /// One batch handed in, until each of its checks is decided.
    fileprivate final class Waiting: @unchecked Sendable {
        // @unchecked Sendable: mutated only under `state`'s lock.
        var decisions: [Decision?]
        var open: Int
        /// When it was handed in; its deadline is this plus the checker's timeout.
        let started: ContinuousClock.Instant
        let completion: Completion

        init(count: Int, started: ContinuousClock.Instant, completion: @escaping Completion) {
            decisions = Array(repeating: nil, count: count)
            open = count
            self.started = started
            self.completion = completion
        }
    }

    fileprivate struct State {
        var nextID: UInt64 = 1
        /// Open checks by check id: their batch and place in it.
        var open: [UInt64: (batch: Waiting, index: Int)] = [:]
        /// Batches by deadline (all have the same timeout, so in the order handed in); decided ones are skipped.
        var deadlines: [(ids: ClosedRange<UInt64>, batch: Waiting)] = []
        var deadlinesHead = 0
        var queue: [Tradewire_V1_RiskCheckRequest] = []
        /// The parked writer and expirer tasks.
        var parked: [Slot: UnsafeContinuation<Void, Never>] = [:]
        var running = false
        var closed = false
    }

    fileprivate enum Slot {
        case writer, expirer
    }

    /// `transport` nil: no risk service is configured, and every order is rejected as RISK_UNAVAILABLE.
    init(transport: (any RPCClientTransport)?, timeout: Duration, maxInFlight: Int = 16_384) {
        client = transport.map { Tradewire_V1_Risk.Client($0) }
        executor = transport?.preferredExecutor
        self.timeout = timeout
        self.maxInFlight = maxInFlight
    }

    /// Checks `requests` (their `check_id`s are set here); `completion` gets a decision per request, in order,
    /// once all are decided, on an arbitrary thread.
    func check(_ requests: [Tradewire_V1_RiskCheckRequest], completion: @escaping Completion) {
        guard !requests.isEmpty else { return completion([]) }
        guard client != nil else {
            let decision = Decision.rejected(.riskUnavailable, "no risk service is configured: the order cannot be checked")
            return completion(Array(repeating: decision, count: requests.count))
        }
        let batch = Waiting(count: requests.count, started: .now, completion: completion)
        let (start, wake, done) = state.withLock { state -> (Bool, [UnsafeContinuation<Void, Never>], Bool) in
            let room = state.closed ? 0 : max(0, maxInFlight - state.open.count)
            for index in room..<max(room, requests.count) {
                batch.decisions[index] = .rejected(.riskUnavailable, state.closed
                    ? "the node is stopping: the order was not checked"
                    : "this node has \(maxInFlight) risk checks open, its most: the order was not checked")
                batch.open -= 1
            }
            guard batch.open > 0 else { return (false, [], true) }
            let first = state.nextID
            for (index, request) in requests.prefix(room).enumerated() {
                var request = request
                request.checkID = state.nextID
                state.open[state.nextID] = (batch, index)
                state.queue.append(request)
                state.nextID += 1
            }
            state.deadlines.append((first...(state.nextID - 1), batch))
            let wake = Array(state.parked.values)
            state.parked = [:]
            defer { state.running = true }
            return (!state.running, wake, false)
        }
        if done { return Self.complete([batch]) }
        wake.forEach { $0.resume() }
        if start { Task(executorPreference: executor) { await self.run() } }
    }

    /// Decides what is open as RISK_UNAVAILABLE and refuses later checks.
    func close() {
        // One critical section: the stream that ends because of it finds nothing left to decide.
        let (wake, done) = state.withLock { state in
            state.closed = true
            defer { state.parked = [:] }
            return (Array(state.parked.values), state.failOpen("the node is stopping: the order was not checked"))
        }
        wake.forEach { $0.resume() }
        Self.complete(done)
    }

    // MARK: - The stream

    private func run() async {
        var failure = "the risk service ended the check stream"
        do {
            try await client!.checkStream { requests, responses in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        while let batch = await self.nextBatch() {
                            for start in stride(from: 0, to: batch.count, by: Self.maxBatch) {
                                let part = Array(batch[start..<min(start + Self.maxBatch, batch.count)])
                                try await requests.write(Tradewire_V1_RiskCheckBatch(checks: part))
                            }
                        }
                        requests.finish()
                    }
                    group.addTask { await self.expire() }
                    for try await results in responses { self.decide(results.results) }
                    group.cancelAll()
                }
            }
        } catch let error as RPCError {
            failure = "the risk service is unavailable (\(error.code): \(error.message))"
        } catch {
            failure = "the risk service is unavailable (\(error))"
        }
        let done = state.withLock { state in
            state.running = false
            state.queue = []
            return state.failOpen(failure)
        }
        Self.complete(done)
    }

    /// What has queued; waits while nothing has; nil once closed or cancelled.
    private func nextBatch() async -> [Tradewire_V1_RiskCheckRequest]? {
        while true {
            let batch = state.withLock { state -> [Tradewire_V1_RiskCheckRequest]? in
                defer { state.queue = [] }
                return state.queue.isEmpty ? nil : state.queue
            }
            if let batch { return batch }
            let wait = await park(.writer) { $0.queue.isEmpty }
            if !wait { return nil }
        }
    }

    /// Decides the checks of batches whose deadline passed, as they pass; returns once closed or cancelled.
    private func expire() async {
        while true {
            let next = state.withLock { state -> ContinuousClock.Instant? in
                while state.deadlinesHead < state.deadlines.count && state.deadlines[state.deadlinesHead].batch.open == 0 {
                    state.deadlinesHead += 1
                }
                state.compactDeadlines()
                return state.deadlinesHead < state.deadlines.count ? state.deadlines[state.deadlinesHead].batch.started + self.timeout : nil
            }
            if let next {
                do { try await Task.sleep(until: next, clock: .continuous) } catch { return }
                expireDue()
            } else {
                let wait = await park(.expirer) { $0.deadlinesHead >= $0.deadlines.count }
                if !wait { return }
            }
        }
    }

    private func expireDue() {
        let now = ContinuousClock.now
        let text = "the risk service did not answer within \(timeout.nanoseconds / 1_000_000) ms"
        let (done, expired) = state.withLock { state -> ([Waiting], Int) in
            var done: [Waiting] = []
            var expired = 0
            while state.deadlinesHead < state.deadlines.count, case let (ids, batch) = state.deadlines[state.deadlinesHead],
                  batch.started + timeout <= now
            {
                state.deadlinesHead += 1
                for id in ids {
                    guard let (batch, index) = state.open.removeValue(forKey: id) else { continue }
                    expired += 1
                    if Self.settle(batch, index, .rejected(.riskUnavailable, text)) { done.append(batch) }
                }
            }
            return (done, expired)
        }
        if expired > 0 { NodeMetrics.shared.riskChecksTimedOut.increment(by: Int64(expired)) }
        Self.complete(done)
    }

    /// Waits on `slot` while `idle` holds and the checker is open and the task not cancelled; false when it should
    /// stop instead.
    private func park(_ slot: Slot, while idle: @escaping (State) -> Bool) async -> Bool {
        if Task.isCancelled || state.withLock({ $0.closed }) { return false }
        await withTaskCancellationHandler {
            await withUnsafeContinuation { continuation in
                let parked = state.withLock { state -> Bool in
                    guard idle(state) && !state.closed && !Task.isCancelled else { return false }
                    state.parked[slot] = continuation
                    return true
                }
                if !parked { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.parked.removeValue(forKey: slot) }?.resume()
        }
        return true
    }

    /// Risk's answers; answers to checks already decided (expired) are dropped.
    private func decide(_ results: [Tradewire_V1_RiskCheckResponse]) {
        let done = state.withLock { state -> [Waiting] in
            var done: [Waiting] = []
            for response in results {
                guard let (batch, index) = state.open.removeValue(forKey: response.checkID) else { continue }
                if Self.settle(batch, index, Self.decision(response)) { done.append(batch) }
            }
            return done
        }
        Self.complete(done)
    }

    static func decision(_ response: Tradewire_V1_RiskCheckResponse) -> Decision {
        if response.approved { return .approved(response) }
        let reason = response.reason == .unspecified ? .invalidOrder : response.reason
        return .rejected(reason, response.text.isEmpty ? "risk rejected the order" : response.text)
    }
}

extension RiskChecker {
    /// Hands each batch its decisions (outside the lock: completions run the caller's code).
    fileprivate static func complete(_ done: [Waiting]) {
        guard !done.isEmpty else { return }
        let now = ContinuousClock.now
        for batch in done {
            NodeMetrics.shared.riskCheckTime.recordNanoseconds(Int64(clamping: (now - batch.started).nanoseconds))
            batch.completion(batch.decisions.map { $0! })
        }
    }

    /// Records one check's decision (under the lock); true when it was its batch's last.
    fileprivate static func settle(_ batch: Waiting, _ index: Int, _ decision: Decision) -> Bool {
        batch.decisions[index] = decision
        batch.open -= 1
        return batch.open == 0
    }
}

extension RiskChecker.State {
    /// Decides every open check as RISK_UNAVAILABLE with `text`; returns the batches that are now complete.
    fileprivate mutating func failOpen(_ text: String) -> [RiskChecker.Waiting] {
        var done: [RiskChecker.Waiting] = []
        for (batch, index) in open.values where RiskChecker.settle(batch, index, .rejected(.riskUnavailable, text)) {
            done.append(batch)
        }
        open = [:]
        deadlines = []
        deadlinesHead = 0
        return done
    }

    /// Drops the deadlines already passed once they are half the list.
    fileprivate mutating func compactDeadlines() {
        guard deadlinesHead > 64 && deadlinesHead * 2 >= deadlines.count else { return }
        deadlines.removeFirst(deadlinesHead)
        deadlinesHead = 0
    }
}
