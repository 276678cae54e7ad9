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
        let queue = SubscriberQueue<Output>(capacity: OrderEntrySession.queueCapacity) {}
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
            let routing = report.routing
            let final = routing.orderStatus == .rejected || routing.orderStatus == .cancelled || routing.orderStatus == .settled
            // The node's report carries the request id of the command that caused it.
            // One lookup, and the entry changed where it is (a copy taken out and put back hashed the OrderId twice and
            // copied its awaited labels).
            let correlation = state.correlations.withLock { correlations in
                guard let index = correlations.index(forKey: routing.orderID?.value ?? "") else { return "" }
                let label = correlations.values[index].label(requestID: routing.correlationID)
                if final { correlations.remove(at: index) }
                return label
            }
            state.queue.push(.encoded(report.orderEntryResponse(correlationID: correlation)))
        }
        defer { shared.executions.remove(listening) }
        let executions = shared.executions
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                await executions.wait(readyWithin: Self.readyTimeout)
                // A place or cancel starts here, on the connection's loop, and is answered by a callback from the
                // node's command stream: no task and no continuation per request (at saturation, a child task per
                // request cost the gateway a tenth of its CPU in task bookkeeping). A replace reads the order first
                // and runs as a child task of the session (on the same loop). The responses end once every
                // request is answered.
                try await withThrowingDiscardingTaskGroup { handling in
                    for try await request in requests {
                        await state.inFlight.enter()
                        let correlation = request.correlationID
                        guard correlationIsValid(correlation, state) else {
                            state.inFlight.leave()
                            continue
                        }
                        switch request.request {
                        case .newOrder(let order): place(order, correlation, state) { state.inFlight.leave() }
                        case .cancel(let cancel): self.cancel(cancel, correlation, state) { state.inFlight.leave() }
                        case .replace(let replace):
                            handling.addTask {
                                await self.replace(replace, correlation, state)
                                state.inFlight.leave()
                            }
                        case nil:
                            var reject = Tradewire_V1_CancelReject(
                                text: "the request carries no new_order, cancel or replace", correlationID: correlation)
                            reject.reason = .invalidOrder
                            state.queue.push(.cancelReject(reject))
                            state.inFlight.leave()
                        }
                    }
                }
                await state.inFlight.drained()
                state.queue.finish()
            }
            while let output = await state.queue.next() {
                switch consume output {  // an encoded response is moved to the writer, whose frame prefix goes in place
                case .response(let response): try await responses.write(response)
                case .encoded(let response): try await responses.write(headroomed: consume response)
                }
            }
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

    /// Whether `correlation` is acceptable as a correlation id; if not, its request is answered here with a
    /// CancelReject.
    private func correlationIsValid(_ correlation: String, _ state: State) -> Bool {
        guard !OrderValidation.isPrintableToken(correlation, maxBytes: Self.maxCorrelationBytes, allowEmpty: true) else { return true }
        var reject = Tradewire_V1_CancelReject(
            text: "INVALID_ARGUMENT: correlation_id must be at most \(Self.maxCorrelationBytes) printable ASCII characters")
        reject.reason = .invalidOrder
        reject.fixCxlRejReason = "99"
        state.queue.push(.cancelReject(reject))
        return false
    }

    /// Sends a new order; a refused one gets a REJECTED report. `done` runs once it is answered.
    private func place(_ order: Tradewire_V1_NewOrder, _ correlation: String, _ state: State, done: @escaping @Sendable () -> Void) {
        var id = ""
        do {
            try shared.admit(caller)
            let command = try shared.place(order, caller: caller, field: "new_order", idempotencyKey: nil)
            if case .place(let place) = command.command { id = place.orderID?.value ?? "" }
            send(command, order: id, correlation, state) { [id] error in
                if let error { state.queue.push(.report(Self.rejectReport(order, id: id, caller: caller, error, correlation))) }
                done()
            }
        } catch {
            state.queue.push(.report(Self.rejectReport(order, id: id, caller: caller, RPCError(from: error), correlation)))
            done()
        }
    }

    /// Sends a cancel; a refused one gets a CancelReject. `done` runs once it is answered.
    private func cancel(_ cancel: Tradewire_V1_CancelOrderRequest, _ correlation: String, _ state: State,
                        done: @escaping @Sendable () -> Void)
    {
        var id = cancel.order?.orderID?.value ?? ""
        do {
            try shared.admit(caller)
            id = try shared.orderID(cancel.order, caller: caller)
            var command = Tradewire_V1_Command()
            command.command = .cancel(Tradewire_V1_CancelCommand(orderID: Tradewire_V1_OrderId(value: id), account: caller.account))
            send(command, order: id, correlation, state) { [id] error in
                if let error { state.queue.push(.cancelReject(Self.cancelReject(error, id: id, cancel.order, correlation))) }
                done()
            }
        } catch {
            state.queue.push(.cancelReject(Self.cancelReject(error, id: id, cancel.order, correlation)))
            done()
        }
    }

    /// Sends a request's command to its node under a request id of its own, whose reports will carry
    /// `correlation`; a duplicate is answered at once with an ORDER_STATUS report. `completion` gets what was
    /// refused, or nil.
    private func send(_ command: Tradewire_V1_Command, order id: String, _ correlation: String, _ state: State,
                      completion: @escaping @Sendable (RPCError?) -> Void)
    {
        let requestID = state.nextRequestID()
        do throws(RPCError) { try correlate(id, correlation, requestID: requestID, state) } catch { return completion(error) }
        shared.send(command, context, requestID: requestID) { result in
            switch result {
            case .success((let order, let duplicate)):
                if duplicate {
                    state.answeredWithoutReport(id, requestID: requestID)
                    state.queue.push(.report(Self.statusReport(order, correlation)))
                }
                completion(nil)
            case .failure(let error):
                state.answeredWithoutReport(id, requestID: requestID)
                completion(error)
            }
        }
    }

    /// A replace (its order is read first, to check the new terms): refused ones get a CancelReject; one that
    /// changes nothing an ORDER_STATUS report.
    private func replace(_ replace: Tradewire_V1_ReplaceOrderRequest, _ correlation: String, _ state: State) async {
        var id = replace.order?.orderID?.value ?? ""
        do {
            try shared.admit(caller)
            id = try shared.orderID(replace.order, caller: caller)
            var request = replace
            request.order = Tradewire_V1_OrderRef(orderID: Tradewire_V1_OrderId(value: id))
            let command = try await shared.replace(request, caller: caller)
            let refused = await withUnsafeContinuation { continuation in
                send(command, order: id, correlation, state) { continuation.resume(returning: $0) }
            }
            if let refused { throw refused }
        } catch {
            state.queue.push(.cancelReject(Self.cancelReject(error, id: id, replace.order, correlation)))
        }
    }

    /// A cancel or replace the gateway or the node refused.
    static func cancelReject(_ error: any Error, id: String, _ reference: Tradewire_V1_OrderRef?, _ correlation: String)
        -> Tradewire_V1_CancelReject
    {
        let error = RPCError(from: error)
        var reject = Tradewire_V1_CancelReject(
            orderID: Tradewire_V1_OrderId(value: id), clientOrderID: reference?.clientOrderID ?? "",
            text: "\(error.code): \(error.message)", correlationID: correlation)
        (reject.reason, reject.fixCxlRejReason) = cancelRejectReason(error)
        return reject
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

extension OrderEntrySession {
    /// What a session sends: a response it made (a refusal, a duplicate's status), or one carrying a node's report
    /// as the shared feed forwarded it, already encoded (``ForwardedReport/orderEntryResponse(correlationID:)``).
    enum Output: Sendable {
        case response(Tradewire_V1_OrderEntryResponse)
        case encoded([UInt8])

        static func report(_ report: Tradewire_V1_ExecutionReport) -> Self { .response(.report(report)) }
        static func cancelReject(_ reject: Tradewire_V1_CancelReject) -> Self { .response(.cancelReject(reject)) }
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

/// Counts requests in progress; `enter` waits while `limit` are, `drained` until none is.
final class InFlight: Sendable {
    private struct State {
        var count = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
        var drained: CheckedContinuation<Void, Never>?
    }

    private let limit: Int
    private let state = Lock(State())

    init(limit: Int) { self.limit = limit }

    func enter() async {
        let entered = state.withLock { state -> Bool in
            guard state.count < limit else { return false }
            state.count += 1
            return true
        }
        guard !entered else { return }
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
            guard state.count == 0 else { return nil }
            defer { state.drained = nil }
            return state.drained
        }
        wake?.resume()
    }

    /// Returns once no request is in progress (for one waiter at a time: the session's reader).
    func drained() async {
        await withCheckedContinuation { continuation in
            let done = state.withLock { state -> Bool in
                guard state.count > 0 else { return true }
                state.drained = continuation
                return false
            }
            if done { continuation.resume() }
        }
    }
}
