import EventLoop
import Logging
import Cluster
import Protos
import ServiceStubs

/// What every gateway call shares: the keys, the rate limiter, the instrument table and the cluster client. It
/// holds nothing another gateway instance would need: orders live on the processor nodes.
final class GatewayShared: Sendable {
    let cluster: ClusterClient
    let keys: APIKeys
    let instruments: InstrumentTable
    let limiter = RateLimiter()
    let defaultRate: Int
    let streams: StreamQuota
    /// Every node's execution reports, followed once, for the OrderEntry sessions (run by the server's follow).
    let executions: SharedExecutionFeed
    /// Recent orders' instruments and terms, for replaces (from the nodes' answers and reports).
    let terms = OrderTerms()
    /// Risk, for the callers' portfolios (nil: no risk service in the cluster file).
    let risk: Tradewire_V1_Risk.Client?
    let logger = Logger(label: "tradewire.gateway")

    init(cluster: ClusterClient, keys: APIKeys, instruments: InstrumentTable, defaultRate: Int,
         streams: StreamQuota = StreamQuota(perAccount: 16, total: 256), risk: Tradewire_V1_Risk.Client? = nil)
    {
        self.risk = risk
        self.streams = streams
        self.cluster = cluster
        executions = SharedExecutionFeed(cluster: cluster, terms: terms)
        self.keys = keys
        self.instruments = instruments
        self.defaultRate = defaultRate
    }

    /// The caller's key entry; UNAUTHENTICATED without a valid key.
    func caller(_ context: ServerContext) throws(RPCError) -> APIKeys.Entry { try keys.authenticate(context.requestMetadata) }

    /// Takes `count` from the caller's rate; RESOURCE_EXHAUSTED with a retry hint when it is spent.
    func admit(_ caller: APIKeys.Entry, count: Int = 1) throws(RPCError) {
        let rate = caller.ordersPerSecond ?? defaultRate
        guard let wait = limiter.take(count, account: caller.account, rate: rate) else { return }
        let nanoseconds = Int64(clamping: wait.nanoseconds)
        throw RPCError.withDetails(
            code: .resourceExhausted,
            message: "account \(caller.account) is over its limit of \(rate) orders/s; retry in \(max(1, nanoseconds / 1_000_000)) ms",
            Google_Rpc_RetryInfo(retryDelay: Google_Protobuf_Duration(seconds: nanoseconds / 1_000_000_000, nanos: Int32(nanoseconds % 1_000_000_000))))
    }

    // MARK: - Orders to commands

    /// The place command for `order`, or INVALID_ARGUMENT with its field violations. The OrderId comes from the
    /// client order id, else the idempotency key, else it is new.
    func place(_ order: Tradewire_V1_NewOrder, caller: APIKeys.Entry, field: String, batchID: String = "",
               idempotencyKey: String?) throws(RPCError) -> Tradewire_V1_Command
    {
        var violations = OrderValidation.violations(order, field: field, table: instruments)
        if let idempotencyKey, idempotencyKey.utf8.count > 128 {
            violations.append(OrderValidation.Violation(field: "idempotency-key", description_p: "must be at most 128 bytes"))
        }
        guard violations.isEmpty else { throw OrderValidation.error(violations) }
        if let problem = OrderValidation.referenceProblem(order, table: instruments) { throw Self.unavailableBeforeSending(problem) }
        let id = if !order.clientOrderID.isEmpty {
            caller.ids.forClientOrder(order.clientOrderID)
        } else if let idempotencyKey, !idempotencyKey.isEmpty {
            caller.ids.forIdempotencyKey(idempotencyKey)
        } else {
            caller.ids.random()
        }
        var command = Tradewire_V1_Command()
        command.command = .place(Tradewire_V1_PlaceCommand(
            orderID: Tradewire_V1_OrderId(value: id), account: caller.account, order: OrderValidation.canonical(order), batchID: batchID,
            idempotencyKey: order.clientOrderID.isEmpty ? idempotencyKey ?? "" : ""))
        return command
    }

    /// The OrderId `reference` names for the caller: PERMISSION_DENIED for another account's OrderId (whether or
    /// not it exists), INVALID_ARGUMENT when it names nothing.
    func orderID(_ reference: Tradewire_V1_OrderRef?, caller: APIKeys.Entry) throws(RPCError) -> String {
        if let id = reference?.orderID?.value, !id.isEmpty {
            guard OrderIDs.isOrderID(id) else {
                throw OrderValidation.error([.init(field: "order.order_id", description_p: "\(Echo.quote(id)) is not an OrderId (16 hex digits, '-', 32 hex digits)")])
            }
            guard caller.ids.owns(id) else {
                throw RPCError(code: .permissionDenied, message: "order \(id) is not an order of account \(caller.account)")
            }
            return id
        }
        if let clientOrderID = reference?.clientOrderID, !clientOrderID.isEmpty {
            guard OrderValidation.isPrintableToken(clientOrderID, maxBytes: 64) else {
                throw OrderValidation.error([.init(field: "order.client_order_id", description_p: "must be at most 64 printable ASCII characters without spaces")])
            }
            return caller.ids.forClientOrder(clientOrderID)
        }
        throw OrderValidation.error([OrderValidation.Violation(field: "order", description_p: "name the order by order_id or client_order_id")])
    }

    /// A replace is checked against the order's instrument like a new order: its symbol, type, side and the terms
    /// it keeps come from what the gateway remembers of it (``OrderTerms``; after its place's answer if that is in
    /// flight), else from its node.
    func replace(_ request: Tradewire_V1_ReplaceOrderRequest, caller: APIKeys.Entry) async throws -> Tradewire_V1_Command {
        let id = try orderID(request.order, caller: caller)
        guard request.price != nil || request.quantity != nil else {
            throw OrderValidation.error([.init(field: "price", description_p: "a replace changes the price, the quantity or both")])
        }
        if terms[id] == nil { await terms.placesAnswered(id) }  // a place in flight brings the terms
        let current: OrderTerms.Terms
        if let known = terms[id], known.account == caller.account {
            current = known
        } else {
            current = OrderTerms.Terms(try await order(id, caller: caller))
        }
        let changed = current.replaced(price: request.price, quantity: request.quantity)
        let violations = OrderValidation.violations(changed, field: "replace", table: instruments)
            .filter { $0.field == "replace.price" || $0.field == "replace.quantity" }
        guard violations.isEmpty else { throw OrderValidation.error(violations) }
        if let problem = OrderValidation.referenceProblem(changed, table: instruments) { throw Self.unavailableBeforeSending(problem) }
        var command = Tradewire_V1_Command()
        command.command = .replace(Tradewire_V1_ReplaceCommand(
            orderID: Tradewire_V1_OrderId(value: id), account: caller.account, price: request.price.map(OrderValidation.canonical),
            quantity: request.quantity.map(OrderValidation.canonical)))
        return command
    }

    // MARK: - The cluster

    /// UNAVAILABLE for an order the gateway could not check and did not send: retrying is always safe.
    static func unavailableBeforeSending(_ problem: String) -> RPCError {
        RPCError.withDetails(
            code: .unavailable, message: "\(problem); the order was not sent, so retrying it is safe",
            Google_Rpc_RetryInfo(retryDelay: Google_Protobuf_Duration(seconds: 1, nanos: 0)))
    }

    /// Whether resending `command` after an unknown outcome changes nothing that the first one did, and why (for the
    /// status message); nil when a resend could act twice.
    static func retryAdvice(_ command: Tradewire_V1_Command) -> String? {
        switch command.command {
        case .place(let place):
            if !(place.order?.clientOrderID ?? "").isEmpty { return "retrying with the same client_order_id is safe" }
            if place.idempotencyKey.hasPrefix("batch ") { return "retrying the batch with the same batch_id is safe" }
            if !place.idempotencyKey.isEmpty { return "retrying with the same idempotency-key is safe" }
            return nil
        case .cancel: return "retrying is safe: cancelling a cancelled order changes nothing"
        case .replace: return "retrying is safe: a replace sets absolute terms (a second one while the first is pending is refused)"
        default: return nil
        }
    }

    /// Sends `command` to the node that owns it, with the call's deadline and request id (`requestID`, or the call's
    /// own); returns the order it answered with, or throws the node's error. A node that is down fails at once with
    /// UNAVAILABLE, with RetryInfo only when a resend is safe (`retryAdvice`); one that has too much in flight with
    /// RESOURCE_EXHAUSTED.
    func send(_ command: Tradewire_V1_Command, _ context: ServerContext, requestID: String? = nil) async throws(RPCError)
        -> (Tradewire_V1_Order, duplicate: Bool)
    {
        try await withUnsafeContinuation { continuation in
            send(command, context, requestID: requestID) { continuation.resume(returning: $0) }
        }.get()
    }

    typealias Sent = Result<(Tradewire_V1_Order, duplicate: Bool), RPCError>

    /// `send(_:_:requestID:)` without a task or a continuation (an OrderEntry session's requests): `completion` gets
    /// what it would return or throw, on this thread if refused before sending, else on the command stream's loop.
    func send(_ command: Tradewire_V1_Command, _ context: ServerContext, requestID: String? = nil,
              completion: @escaping @Sendable (Sent) -> Void)
    {
        var command = command
        command.requestID = requestID ?? Self.requestID(context)
        if let remaining = context.remainingNanoseconds {
            guard remaining > 0 else {
                return completion(.failure(RPCError(code: .deadlineExceeded, message: "the deadline passed before the order was sent")))
            }
            command.deadlineUnixNanos = WallClock.now() &+ Int64(clamping: remaining)
        }
        guard case .place(let place) = command.command, let id = place.orderID?.value else {
            return cluster.sendOrShed(command) { [command] result in completion(self.answer(command, result)) }
        }
        terms.placeSent(id)
        cluster.sendOrShed(command) { [command] result in
            let sent = self.answer(command, result)
            self.terms.placeAnswered(id)
            completion(sent)
        }
    }

    /// What a node's acknowledgement (or the failure to get one) means for the caller.
    private func answer(_ command: Tradewire_V1_Command, _ result: Result<Tradewire_V1_Ack, RPCError>) -> Sent {
        let ack: Tradewire_V1_Ack
        switch result {
        case .success(let answered): ack = answered
        case .failure(let error) where error.code == .unavailable:
            logger.warning("processor node unavailable", metadata: ["request_id": "\(command.requestID)", "error": "\(error.message)"])
            let unavailable = "the order's processor node is unavailable (\(error.message))"
            guard let advice = Self.retryAdvice(command) else {
                return .failure(RPCError(
                    code: .unavailable,
                    message: "\(unavailable); the order may or may not have been placed, and it has neither a client_order_id "
                        + "nor an idempotency-key, so a retry could place it twice: look for it with ListOrders"))
            }
            return .failure(RPCError.withDetails(
                code: .unavailable, message: "\(unavailable); \(advice)",
                Google_Rpc_RetryInfo(retryDelay: Google_Protobuf_Duration(seconds: 0, nanos: 100_000_000))))
        case .failure(let error): return .failure(error)
        }
        switch ack.result {
        case .order(let order):
            logger.debug("order command answered", metadata: [
                "request_id": "\(command.requestID)", "order_id": "\(order.orderID?.value ?? "")", "status": "\(order.status)",
                "duplicate": "\(ack.duplicate)",
            ])
            terms.remember(order)
            return .success((order, ack.duplicate))
        case .error(let status):
            logger.debug("order command refused", metadata: ["request_id": "\(command.requestID)", "code": "\(status.code)", "error": "\(status.message)"])
            return .failure(RPCError(status: status))
        case .notOwner, .done, nil:
            return .failure(RPCError(code: .internal, message: "the processor node answered the order command without an order"))
        }
    }

    /// The caller's `x-request-id`, or a new one; it travels into the nodes' logs and events.
    static func requestID(_ context: ServerContext) -> String {
        if let id = context.requestMetadata["x-request-id"], !id.isEmpty, id.utf8.count <= 64 { return id }
        return RandomBytes.hex(8)
    }

    /// The processor client of the node that owns order `id`.
    func processor(owning id: String) throws(RPCError) -> Tradewire_V1_Processor.Client {
        Tradewire_V1_Processor.Client(try cluster.channel(to: cluster.owner(of: .order(id))))
    }

    /// One order of the caller's, from its node.
    func order(_ id: String, caller: APIKeys.Entry) async throws -> Tradewire_V1_Order {
        let request = Tradewire_V1_ProcessorGetOrderRequest(orderID: Tradewire_V1_OrderId(value: id), account: caller.account)
        let order: Tradewire_V1_Order
        do {
            order = try await processor(owning: id).getOrder(request)
        } catch where error.code == .failedPrecondition {
            // The node's ring is newer than ours: take the newer file and ask the owner it names.
            cluster.refreshRing(atLeast: cluster.epoch + 1)
            order = try await processor(owning: id).getOrder(request)
        }
        terms.remember(order)
        return order
    }

    /// Every order of the caller matching `query` (all pages, from every node).
    func orders(_ query: Tradewire_V1_ProcessorListOrdersRequest) async throws -> [Tradewire_V1_Order] {
        var all: [Tradewire_V1_Order] = []
        var query = query
        query.pageSize = 1000
        while true {
            let page = try await list(query)
            all += page.orders
            guard !page.nextPageToken.isEmpty else { return all }
            query.pageToken = page.nextPageToken
        }
    }

    /// One page of the caller's orders merged from every node: newest first (by creation time, then OrderId), as
    /// each node pages them, so the same token continues on every node.
    func list(_ query: Tradewire_V1_ProcessorListOrdersRequest) async throws -> Tradewire_V1_ProcessorListOrdersResponse {
        let nodes = cluster.nodes
        let clients = try nodes.map { node throws(RPCError) in Tradewire_V1_Processor.Client(try cluster.channel(to: node)) }
        let pages = try await withThrowingTaskGroup(of: Tradewire_V1_ProcessorListOrdersResponse.self) { group in
            for client in clients { group.addTask { try await client.listOrders(query) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let size = Int(query.pageSize == 0 ? 100 : min(query.pageSize, 1000))
        let sorted = pages.flatMap(\.orders).sorted {
            ($0.createdAtUnixNanos, $0.orderID?.value ?? "") > ($1.createdAtUnixNanos, $1.orderID?.value ?? "")
        }
        var response = Tradewire_V1_ProcessorListOrdersResponse(orders: Array(sorted.prefix(size)))
        let more = sorted.count > size || pages.contains { !$0.nextPageToken.isEmpty }
        if more, let last = response.orders.last {
            response.nextPageToken = PageToken.text(createdAt: last.createdAtUnixNanos, orderID: last.orderID?.value ?? "")
        }
        return response
    }
}
