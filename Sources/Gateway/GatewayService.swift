import EventLoop
import Orders
import Cluster
import Protos
import RPC
import ServiceStubs
import Synchronization

/// `tradewire.v1.Gateway`: authenticates every call by its API key, validates orders against the instrument
/// table, derives OrderIds, and sends commands to the owning processor nodes.
struct GatewayService: Tradewire_V1_Gateway.ServiceProtocol {
    let shared: GatewayShared

    static let maxBatch = 1000
    /// Reports a StreamExecutions call may have unsent (about 300 bytes each) before it ends with
    /// RESOURCE_EXHAUSTED; the client resumes from its last cursor.
    static let executionQueue = 4096

    func placeOrder(request: Tradewire_V1_PlaceOrderRequest, context: ServerContext) async throws -> Tradewire_V1_PlaceOrderResponse {
        let caller = try shared.caller(context)
        try shared.admit(caller)
        let command = try shared.place(request.order ?? Tradewire_V1_NewOrder(), caller: caller, field: "order",
                                       idempotencyKey: context.requestMetadata["idempotency-key"])
        let (order, duplicate) = try await shared.send(command, context)
        return Tradewire_V1_PlaceOrderResponse(order: order, duplicate: duplicate)
    }

    func placeOrders(request: Tradewire_V1_PlaceOrdersRequest, context: ServerContext) async throws -> Tradewire_V1_PlaceOrdersResponse {
        let caller = try shared.caller(context)
        var violations: [OrderValidation.Violation] = []
        let batchID = request.batchID.utf8
        if !(1...64).contains(batchID.count) || !batchID.allSatisfy({ (0x21...0x7e).contains($0) }) {
            violations.append(.init(field: "batch_id", description_p: "must be 1–64 printable ASCII characters without spaces"))
        }
        if request.orders.isEmpty || request.orders.count > Self.maxBatch {
            violations.append(.init(field: "orders", description_p: "must hold 1–\(Self.maxBatch) orders, not \(request.orders.count)"))
        }
        guard violations.isEmpty else { throw OrderValidation.error(violations) }
        try shared.admit(caller, count: request.orders.count)
        // Without a client order id, an order of a batch is named by the batch and its place in it, so retrying
        // the batch is safe.
        let results = await withTaskGroup(of: (Int, Tradewire_V1_PlaceOrderResult).self) { group in
            for (index, order) in request.orders.enumerated() {
                group.addTask {
                    do {
                        let command = try shared.place(order, caller: caller, field: "orders[\(index)]", batchID: request.batchID,
                                                       idempotencyKey: "batch \(request.batchID) #\(index)")
                        let (placed, duplicate) = try await shared.send(command, context)
                        return (index, Tradewire_V1_PlaceOrderResult(order: placed, duplicate: duplicate))
                    } catch {
                        return (index, Tradewire_V1_PlaceOrderResult(error: RPCError(from: error).status))
                    }
                }
            }
            var results = [Tradewire_V1_PlaceOrderResult](repeating: Tradewire_V1_PlaceOrderResult(), count: request.orders.count)
            for await (index, result) in group { results[index] = result }
            return results
        }
        return Tradewire_V1_PlaceOrdersResponse(batchID: request.batchID, results: results)
    }

    func cancelOrder(request: Tradewire_V1_CancelOrderRequest, context: ServerContext) async throws -> Tradewire_V1_CancelOrderResponse {
        let caller = try shared.caller(context)
        try shared.admit(caller)
        let id = try shared.orderID(request.order, caller: caller)
        var command = Tradewire_V1_Command()
        command.command = .cancel(Tradewire_V1_CancelCommand(orderID: Tradewire_V1_OrderId(value: id), account: caller.account))
        return Tradewire_V1_CancelOrderResponse(order: try await shared.send(command, context).0)
    }

    func replaceOrder(request: Tradewire_V1_ReplaceOrderRequest, context: ServerContext) async throws -> Tradewire_V1_ReplaceOrderResponse {
        let caller = try shared.caller(context)
        try shared.admit(caller)
        let command = try await shared.replace(request, caller: caller)
        return Tradewire_V1_ReplaceOrderResponse(order: try await shared.send(command, context).0)
    }

    func getOrder(request: Tradewire_V1_GetOrderRequest, context: ServerContext) async throws -> Tradewire_V1_Order {
        let caller = try shared.caller(context)
        return try await shared.order(try shared.orderID(request.order, caller: caller), caller: caller)
    }

    func listOrders(request: Tradewire_V1_ListOrdersRequest, context: ServerContext) async throws -> Tradewire_V1_ListOrdersResponse {
        let caller = try shared.caller(context)
        var violations: [OrderValidation.Violation] = []
        if request.pageSize > 1000 { violations.append(.init(field: "page_size", description_p: "is at most 1000")) }
        if !request.pageToken.isEmpty, PageToken.parse(request.pageToken).map({ caller.ids.owns($0.key) }) != true {
            violations.append(.init(field: "page_token", description_p: "is not one this API gave"))
        }
        if !request.symbol.isEmpty, !OrderBounds.isSymbol(request.symbol) {
            violations.append(.init(field: "symbol", description_p: "is not \(OrderBounds.symbolRule)"))
        }
        if request.statuses.contains(where: { !(1...8).contains($0.rawValue) }) || request.statuses.count > 64 {
            violations.append(.init(field: "statuses", description_p: "names OrderStatus values only (at most 64 entries)"))
        }
        guard violations.isEmpty else { throw OrderValidation.error(violations) }
        var query = Tradewire_V1_ProcessorListOrdersRequest(account: caller.account)
        query.statuses = request.statuses.reduce(into: []) { if !$0.contains($1) { $0.append($1) } }
        query.symbol = request.symbol
        query.createdAfterUnixNanos = request.createdAfterUnixNanos
        query.createdBeforeUnixNanos = request.createdBeforeUnixNanos
        query.pageSize = request.pageSize
        query.pageToken = request.pageToken
        let page = try await shared.list(query)
        return Tradewire_V1_ListOrdersResponse(orders: page.orders, nextPageToken: page.nextPageToken)
    }

    func streamExecutions(
        request: Tradewire_V1_StreamExecutionsRequest, responses: RPCResponseWriter<Tradewire_V1_ExecutionReport>, context: ServerContext
    ) async throws {
        let caller = try shared.caller(context)
        let start = try startingPositions(request)
        try shared.streams.enter(caller.account)
        defer { shared.streams.leave(caller.account) }
        let live = request.cursor.isEmpty && !request.fromBeginning
        let queue = SubscriberQueue<Tradewire_V1_ExecutionReport>(capacity: Self.executionQueue) {}
        let positions = ExecutionFeed.Cursor(start)
        let feed = ExecutionFeed(cluster: shared.cluster, account: caller.account)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                await feed.run(Tradewire_V1_EventBatch.self, from: start, live: live,
                               ready: { node, head in _ = positions.advance(node, to: head) }) { node, sequence, report in
                    var report = report
                    report.cursor = positions.advance(node, to: sequence)
                    report.correlationID = ""
                    queue.push(report)
                }
                queue.finish()
            }
            while let report = await queue.next() { try await responses.write(report) }
            group.cancelAll()
            if queue.overflowed {
                throw RPCError(code: .resourceExhausted, message: "the stream fell \(Self.executionQueue) reports behind; resume from the last cursor read")
            }
        }
    }

    /// Where a StreamExecutions request starts: its cursor's positions (checked), or none.
    private func startingPositions(_ request: Tradewire_V1_StreamExecutionsRequest) throws(RPCError) -> ExecutionFeed.Positions {
        guard !request.cursor.isEmpty else { return [:] }
        if request.fromBeginning {
            throw OrderValidation.error([.init(field: "from_beginning", description_p: "goes with an empty cursor only")])
        }
        switch ExecutionFeed.positions(request.cursor, nodes: shared.cluster.nodes.map(\.id)) {
        case .success(let positions): return positions
        case .failure(let error):
            throw OrderValidation.error([.init(field: "cursor", description_p: "is not a cursor this API gave: it \(error)")])
        }
    }

    func reconcile(request: Tradewire_V1_ReconcileRequest, context: ServerContext) async throws -> Tradewire_V1_ReconcileResponse {
        let caller = try shared.caller(context)
        guard OrderValidation.isPrintableToken(request.batchID, maxBytes: 64) else {
            throw OrderValidation.error([.init(field: "batch_id", description_p: "must be 1–64 printable ASCII characters without spaces")])
        }
        var query = Tradewire_V1_ProcessorListOrdersRequest(account: caller.account)
        query.batchID = request.batchID
        let orders = try await shared.orders(query)
        guard !orders.isEmpty else {
            throw RPCError(code: .notFound, message: "account \(caller.account) has no orders in batch \(Echo.quote(request.batchID))")
        }
        return try Reconciliation(orders: orders, instruments: shared.instruments).response(batchID: request.batchID, expected: request.expectedPnl)
    }

    /// Risk's view of the caller's account; risk is asked with the mesh credential and the caller's deadline (at
    /// most ``portfolioTimeout``), and never for another account.
    func getPortfolio(request: Tradewire_V1_GetPortfolioRequest, context: ServerContext) async throws -> Tradewire_V1_Portfolio {
        let caller = try shared.caller(context)
        if request.symbols.count > 100 || request.symbols.contains(where: { !OrderBounds.isSymbol($0) }) {
            throw OrderValidation.error([.init(field: "symbols", description_p: "holds at most 100 symbols, each \(OrderBounds.symbolRule)")])
        }
        guard let risk = shared.risk else { throw RPCError(code: .unavailable, message: "this gateway has no risk service configured") }
        let options = CallOptions(timeout: Self.portfolioTimeout, deadline: context.deadline)
        do {
            async let account = risk.getAccount(Tradewire_V1_GetAccountRequest(account: caller.account), options: options)
            async let positions = risk.getPositions(Tradewire_V1_GetPositionsRequest(account: caller.account, symbols: request.symbols), options: options)
            return Tradewire_V1_Portfolio(account: try await account, positions: try await positions.positions)
        } catch let error as RPCError where error.code == .notFound {
            // Risk keeps accounts from their first balance or order on.
            return Tradewire_V1_Portfolio(account: Tradewire_V1_Account(account: caller.account))
        } catch let error as RPCError where error.code == .unavailable || error.code == .deadlineExceeded {
            throw RPCError.withDetails(code: .unavailable, message: "risk did not answer (\(error.message)); retrying is safe",
                                       Google_Rpc_RetryInfo(retryDelay: Google_Protobuf_Duration(seconds: 0, nanos: 200_000_000)))
        }
    }

    /// The longest a GetPortfolio waits for risk.
    static let portfolioTimeout = Duration.seconds(2)

    func orderEntry(
        requests: RPCRequestStream<Tradewire_V1_OrderEntryRequest>, responses: RPCResponseWriter<Tradewire_V1_OrderEntryResponse>,
        context: ServerContext
    ) async throws {
        let caller = try shared.caller(context)
        try shared.streams.enter(caller.account)
        defer { shared.streams.leave(caller.account) }
        try await OrderEntrySession(shared: shared, caller: caller, context: context).run(requests: requests, responses: responses)
    }
}
