import Cluster
import Protos
import ServiceStubs
import Synchronization
import Locks

/// One OrderEntry stream: requests in, execution reports and cancel rejects out.
///
/// Reports come from the gateway's shared execution feed (every node's order events, followed once per gateway
/// and handed to the sessions of each report's account), so the session sees each report once and in order per
/// order, fills of orders placed on other calls included. A request the gateway refuses (validation, rate, an
/// unavailable node) is answered at once with a REJECTED report or a CancelReject; a duplicate submission with an ORDER_STATUS report (nothing changed,
/// so no event). A report carries the correlation_id of the request that caused it — each request reaches its node
/// with a request id of its own, which the node's report echoes — so pipelined requests on one order each get
/// their own answer; reports no request of the session caused (a fill by another account's order) carry the
/// correlation_id of the session's latest request for their order.
///
/// Requests run concurrently, at most `maxInFlight` at a time (then the session stops reading, and HTTP/2 flow
/// control holds the client back). Responses wait in a queue of `queueCapacity`; a client that stops reading
/// that long is ended with RESOURCE_EXHAUSTED. The session ends when the client has half-closed and every
/// request is answered.
struct OrderEntrySession: Sendable {
    let shared: GatewayShared
    let caller: APIKeys.Entry
    let context: ServerContext

    static let maxInFlight = 4096
    static let queueCapacity = 16_384
    /// Orders whose reports a session labels with a correlation id: an entry goes when its order's report is
    /// final; past this many working at once, new requests are refused with RESOURCE_EXHAUSTED.
    static let maxCorrelations = 65_536
    /// A correlation id is at most this many bytes of printable ASCII.
    static let maxCorrelationBytes = 64
    /// How long the session waits for a node's head before taking requests anyway (a node that is down).
    static let readyTimeout: Duration = .seconds(2)

    /// What one order's reports are labelled with: the correlation id of the request that caused the report while
    /// that request's first report is awaited (at most `maxRequestsPerOrder` at once), else the latest request's.
    struct OrderCorrelations {
        var latest: String
        var awaited: [(requestID: String, correlation: String)] = []

        mutating func add(requestID: String, correlation: String) {
            latest = correlation
            if awaited.count == OrderEntrySession.maxRequestsPerOrder { awaited.removeFirst() }
            awaited.append((requestID, correlation))
        }

        /// The label of a report the node made for `requestID`; that request's first report ends its wait.
        mutating func label(requestID: String) -> String {
            guard let index = awaited.firstIndex(where: { $0.requestID == requestID }) else { return latest }
            return awaited.remove(at: index).correlation
        }

        /// A request answered without a report of the node's (refused, or a duplicate).
        mutating func forget(requestID: String) {
            awaited.removeAll { $0.requestID == requestID }
        }
    }

    /// Requests of one order whose reports are awaited at once and labelled apart (a request's later reports, and
    /// those of older requests past this bound, carry the order's latest correlation id).
    static let maxRequestsPerOrder = 8

    private final class State: Sendable {
        let correlations = Lock<[String: OrderCorrelations]>([:])
        let queue = SubscriberQueue<Tradewire_V1_OrderEntryResponse>(capacity: OrderEntrySession.queueCapacity) {}
        let inFlight = InFlight(limit: OrderEntrySession.maxInFlight)
        let requestIDs: String
        let requestNumbers = Atomic<Int>(0)

        init(requestIDs: String) { self.requestIDs = requestIDs }

        /// A request id of the session's own: its prefix (the stream's x-request-id or a random one) and a number.
        func nextRequestID() -> String { "\(requestIDs)-\(requestNumbers.add(1, ordering: .relaxed).newValue)" }

        /// `requestID`'s answer did not come from a report: its label is no longer awaited.
        func answeredWithoutReport(_ id: String, requestID: String) {
            correlations.withLock { $0[id]?.forget(requestID: requestID) }
        }
    }

    func run(requests: RPCRequestStream<Tradewire_V1_OrderEntryRequest>, responses: RPCResponseWriter<Tradewire_V1_OrderEntryResponse>)
        async throws
    {
        let state = State(requestIDs: GatewayShared.requestID(context))
        let listening = shared.executions.add(account: caller.account) { report in
            var report = report
            let final = report.orderStatus == .rejected || report.orderStatus == .cancelled || report.orderStatus == .settled
            // The node's report carries the request id of the command that caused it.
            report.correlationID = state.correlations.withLock { correlations in
                let id = report.orderID?.value ?? ""
                guard var entry = correlations[id] else { return "" }
                let label = entry.label(requestID: report.correlationID)
                correlations[id] = final ? nil : entry
                return label
            }
            state.queue.push(.report(report))
        }
        defer { shared.executions.remove(listening) }
        let executions = shared.executions
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                await executions.wait(readyWithin: Self.readyTimeout)
                // Each request a child task of the session: it runs on the connection's loop as the session does
                // (an unstructured task would start on the global executor, and hop back and forth for each
                // answer), and the group waits for all of them before the session's responses end.
                try await withThrowingDiscardingTaskGroup { handling in
                    for try await request in requests {
                        await state.inFlight.enter()
                        handling.addTask {
                            await handle(request, state)
                            state.inFlight.leave()
                        }
                    }
                }
                state.queue.finish()
            }
            while let response = await state.queue.next() { try await responses.write(response) }
            group.cancelAll()
            if state.queue.overflowed {
                throw RPCError(code: .resourceExhausted, message: "the session fell \(Self.queueCapacity) responses behind")
            }
        }
    }

    /// Records that the reports of request `requestID` on order `id` carry `correlation`, and so do `id`'s reports
    /// no request caused; RESOURCE_EXHAUSTED when the session tracks too many orders.
    private func correlate(_ id: String, _ correlation: String, requestID: String, _ state: State) throws(RPCError) {
        let full = state.correlations.withLock { correlations -> Bool in
            guard correlations[id] != nil || correlations.count < Self.maxCorrelations else { return true }
            correlations[id, default: OrderCorrelations(latest: correlation)].add(requestID: requestID, correlation: correlation)
            return false
        }
        if full {
            throw RPCError(code: .resourceExhausted, message: "the session follows \(Self.maxCorrelations) working orders, its limit: "
                + "wait for some to end or open another session")
        }
    }

    private func handle(_ request: Tradewire_V1_OrderEntryRequest, _ state: State) async {
        guard OrderValidation.isPrintableToken(request.correlationID, maxBytes: Self.maxCorrelationBytes, allowEmpty: true) else {
            var reject = Tradewire_V1_CancelReject(
                text: "INVALID_ARGUMENT: correlation_id must be at most \(Self.maxCorrelationBytes) printable ASCII characters")
            reject.reason = .invalidOrder
            reject.fixCxlRejReason = "99"
            state.queue.push(.cancelReject(reject))
            return
        }
        let correlation = request.correlationID
        switch request.request {
        case .newOrder(let order):
            var id = ""
            do {
                try shared.admit(caller)
                let command = try shared.place(order, caller: caller, field: "new_order", idempotencyKey: nil)
                if case .place(let place) = command.command { id = place.orderID?.value ?? "" }
                try await send(command, order: id, correlation, state)
            } catch {
                state.queue.push(.report(Self.rejectReport(order, id: id, caller: caller, RPCError(from: error), correlation)))
            }
        case .cancel(let cancel):
            await change(cancel.order, correlation, state) { id in
                var command = Tradewire_V1_Command()
                command.command = .cancel(Tradewire_V1_CancelCommand(orderID: Tradewire_V1_OrderId(value: id), account: caller.account))
                return command
            }
        case .replace(let replace):
            await change(replace.order, correlation, state) { id in
                var replace = replace
                replace.order = Tradewire_V1_OrderRef(orderID: Tradewire_V1_OrderId(value: id))
                return try await shared.replace(replace, caller: caller)
            }
        case nil:
            var reject = Tradewire_V1_CancelReject(text: "the request carries no new_order, cancel or replace", correlationID: correlation)
            reject.reason = .invalidOrder
            state.queue.push(.cancelReject(reject))
        }
    }

    /// Sends a request's command to its node under a request id of its own, whose reports will carry
    /// `correlation`; a duplicate is answered at once with an ORDER_STATUS report. Throws what was refused.
    private func send(_ command: Tradewire_V1_Command, order id: String, _ correlation: String, _ state: State) async throws {
        let requestID = state.nextRequestID()
        try correlate(id, correlation, requestID: requestID, state)
        do {
            let (order, duplicate) = try await shared.send(command, context, requestID: requestID)
            guard duplicate else { return }
            state.answeredWithoutReport(id, requestID: requestID)
            state.queue.push(.report(Self.statusReport(order, correlation)))
        } catch {
            state.answeredWithoutReport(id, requestID: requestID)
            throw error
        }
    }

    /// A cancel or replace: refused ones get a CancelReject; one that changes nothing an ORDER_STATUS report.
    private func change(_ reference: Tradewire_V1_OrderRef?, _ correlation: String, _ state: State,
                        _ command: (String) async throws -> Tradewire_V1_Command) async
    {
        var id = reference?.orderID?.value ?? ""
        do {
            try shared.admit(caller)
            id = try shared.orderID(reference, caller: caller)
            try await send(try await command(id), order: id, correlation, state)
        } catch {
            let error = RPCError(from: error)
            var reject = Tradewire_V1_CancelReject(
                orderID: Tradewire_V1_OrderId(value: id), clientOrderID: reference?.clientOrderID ?? "", text: "\(error.code): \(error.message)",
                correlationID: correlation)
            (reject.reason, reject.fixCxlRejReason) = Self.cancelRejectReason(error)
            state.queue.push(.cancelReject(reject))
        }
    }

    /// Why a cancel or replace was refused, as RejectReason and FIX CxlRejReason (102): risk's reason for a replace
    /// it refused ("2": an exchange option), a replace already pending ("3"), an order that is done ("0") or
    /// unknown ("1"), anything else ("99").
    static func cancelRejectReason(_ error: RPCError) -> (Tradewire_V1_RejectReason, String) {
        let info = error.detail(Google_Rpc_ErrorInfo.self).flatMap { $0.domain == "tradewire.v1" ? $0.reason : nil }
        if let info, let reason = Tradewire_V1_RejectReason(name: info) { return (reason, "2") }
        switch (info, error.code) {
        case ("ALREADY_PENDING"?, _): return (.unspecified, "3")
        case ("TOO_LATE"?, _), (_, .failedPrecondition): return (.tooLate, "0")
        case (_, .notFound): return (.unspecified, "1")
        case (_, .invalidArgument): return (.invalidOrder, "99")
        default: return (.unspecified, "99")
        }
    }

    /// FIX ExecType I: the order as it is, for a request that changed nothing.
    static func statusReport(_ order: Tradewire_V1_Order, _ correlation: String) -> Tradewire_V1_ExecutionReport {
        var report = Tradewire_V1_ExecutionReport(order, execType: .orderStatus)
        report.correlationID = correlation
        return report
    }

    /// A new order the gateway refused before any node saw it.
    static func rejectReport(_ order: Tradewire_V1_NewOrder, id: String, caller: APIKeys.Entry, _ error: RPCError,
                             _ correlation: String) -> Tradewire_V1_ExecutionReport
    {
        var rejected = Tradewire_V1_Order(
            orderID: Tradewire_V1_OrderId(value: id), account: caller.account, clientOrderID: order.clientOrderID, symbol: order.symbol,
            side: order.side, type: order.type, timeInForce: order.timeInForce, price: order.price, quantity: order.quantity)
        rejected.status = .rejected
        rejected.rejectReason = error.code == .invalidArgument ? .invalidOrder : .unspecified
        rejected.rejectText = "\(error.code): \(error.message)"
        var report = Tradewire_V1_ExecutionReport(rejected, execType: .rejected)
        report.correlationID = correlation
        return report
    }
}

extension Tradewire_V1_OrderEntryResponse {
    static func report(_ report: Tradewire_V1_ExecutionReport) -> Self {
        var response = Self()
        response.response = .executionReport(report)
        return response
    }

    static func cancelReject(_ reject: Tradewire_V1_CancelReject) -> Self {
        var response = Self()
        response.response = .cancelReject(reject)
        return response
    }
}

/// Counts requests in progress; `enter` waits while `limit` are.
final class InFlight: Sendable {
    private struct State {
        var count = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let limit: Int
    private let state = Lock(State())

    init(limit: Int) { self.limit = limit }

    func enter() async {
        await withCheckedContinuation { continuation in
            let entered = state.withLock { state -> Bool in
                guard state.count >= limit else {
                    state.count += 1
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if entered { continuation.resume() }
        }
    }

    func leave() {
        let wake = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if !state.waiters.isEmpty { return state.waiters.removeFirst() }  // Its slot passes on: count unchanged.
            state.count -= 1
            return nil
        }
        wake?.resume()
    }
}
