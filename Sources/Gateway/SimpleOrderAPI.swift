import Cluster
import Dashboard
import HTTP1
import JSON
import Orders
import ProtoCodec
import Protos
import RPC
import ServiceStubs
import Transcoding
import Transport

/// The plain REST shape many trading clients are written against, beside the transcoded `/v1` API: decimal prices
/// and quantities (JSON numbers or strings, converted exactly at the instrument's scale and refused when they do
/// not fit it), BUY/SELL and LIMIT/MARKET without enum prefixes, the idempotency key in a header.
///
///     POST /api/orders             {"symbol": "BTC/USD", "side": "BUY", "quantity": 0.1, "price": 45000, "orderType": "LIMIT"}
///                                  with X-Idempotency-Key (or Idempotency-Key): 201 with the order (200 for a retry)
///     POST /api/v1/orders          {"orders": [...]} with Idempotency-Key (the batch id): each order's result
///     GET  /api/v1/orders/{id}     one order
///     PATCH /api/v1/orders/{id}    {"price": "45100", "quantity": "0.2"} (either or both): a replace
///     DELETE /api/v1/orders/{id}   a cancel
///     GET  /api/v1/reconcile/{id}  a batch's totals and P&L
///     GET  /health                 200 {"status": "ok"} when ready, 503 with the reasons otherwise
///     GET  /ws                     the WebSocket API (``WebSocketAPI``)
///     GET  /                       the trading dashboard (``DashboardPages``)
///
/// Every call goes through the Gateway service in this process (the same admission, validation and limits as
/// gRPC); errors are google.rpc.Status JSON, as on `/v1`. Anything else goes to the transcoder.
struct SimpleOrderAPI: HTTP1Service {
    let gateway: Tradewire_V1_Gateway.Client
    let instruments: InstrumentTable
    let transcoder: HTTPTranscoder
    let webSocket: WebSocketAPI
    let dashboard: DashboardPages
    /// Origins allowed cross-origin calls (`cors_origins`); empty: none.
    let corsOrigins: Set<String>
    /// Why the gateway is not ready (empty: ready).
    let unreadiness: @Sendable () -> [String]

    func serve(_ request: HTTP1Request, _ responder: HTTP1Responder) async {
        // CORS: only for configured origins; a preflight is answered here, other requests carry the grant.
        if let origin = request.header("origin"), corsOrigins.contains(origin) {
            responder.addHeader("access-control-allow-origin", origin)
            responder.addHeader("vary", "Origin")
            if request.method == "OPTIONS", request.header("access-control-request-method") != nil {
                return responder.respond(HTTP1Response(status: 204, headers: [
                    ("access-control-allow-methods", "GET, POST, PATCH, DELETE"),
                    ("access-control-allow-headers", "authorization, content-type, idempotency-key, x-idempotency-key, x-request-id"),
                    ("access-control-max-age", "600"),
                ]))
            }
        }
        if let page = dashboard.response(request) { return responder.respond(page) }
        let path = request.path
        let metadata = HTTPTranscoder.metadata(request)
        var response: HTTP1Response
        do throws(RPCError) {
            switch (request.method, path) {
            case ("POST", "/api/orders"):
                let order = try newOrder(try Self.object(request.body), field: "")
                let placed = try await gateway.placeOrder(Tradewire_V1_PlaceOrderRequest(order: order), metadata: metadata)
                var view = try simple(placed.order ?? Tradewire_V1_Order())
                if placed.duplicate { view["duplicate"] = .bool(true) }
                response = Self.json(.object(view), status: placed.duplicate ? 200 : 201)
            case ("POST", "/api/v1/orders"):
                let body = try Self.object(request.body)
                guard case .array(let items)? = body["orders"], !items.isEmpty else {
                    throw RPCError(code: .invalidArgument, message: "the body needs \"orders\": a non-empty array of orders")
                }
                var batch = Tradewire_V1_PlaceOrdersRequest()
                batch.batchID = body["batchId"]?.stringValue ?? body["batch_id"]?.stringValue
                    ?? request.header("idempotency-key") ?? request.header("x-idempotency-key") ?? ""
                // Each order succeeds or fails on its own: one that cannot be read is that order's error.
                var unreadable: [Int: RPCError] = [:]
                for (index, item) in items.enumerated() {
                    do throws(RPCError) {
                        guard case .object(let fields) = item else { throw RPCError(code: .invalidArgument, message: "orders[\(index)] is not an object") }
                        var order = try newOrder(fields, field: "orders[\(index)].")
                        // A retried batch names the same orders.
                        if order.clientOrderID.isEmpty, !batch.batchID.isEmpty { order.clientOrderID = "\(batch.batchID)-\(index)" }
                        batch.orders.append(order)
                    } catch {
                        unreadable[index] = error
                    }
                }
                var placed = Tradewire_V1_PlaceOrdersResponse(batchID: batch.batchID)
                if !batch.orders.isEmpty { placed = try await gateway.placeOrders(batch, metadata: metadata) }
                var answers = placed.results.makeIterator()
                var results: [JSONValue] = []
                for index in items.indices {
                    if let error = unreadable[index] {
                        results.append(.object(["error": .object(["code": .number(error.code.rawValue), "message": .string(error.message)])]))
                    } else if let result = answers.next() {
                        if let error = result.error, error.code != 0 {
                            results.append(.object(["error": .object(["code": .number(error.code), "message": .string(error.message)])]))
                        } else {
                            var view = try simple(result.order ?? Tradewire_V1_Order())
                            if result.duplicate { view["duplicate"] = .bool(true) }
                            results.append(.object(view))
                        }
                    }
                }
                response = Self.json(.object(["batchId": .string(placed.batchID), "results": .array(results)]), status: 200)
            case ("GET", _) where path.hasPrefix("/api/v1/orders/"):
                let id = try Self.segment(path.dropFirst("/api/v1/orders/".count))
                let order = try await gateway.getOrder(Tradewire_V1_GetOrderRequest(order: Self.reference(id)), metadata: metadata)
                response = Self.json(.object(try simple(order)), status: 200)
            case ("PATCH", _) where path.hasPrefix("/api/v1/orders/"):
                let id = try Self.segment(path.dropFirst("/api/v1/orders/".count))
                response = Self.json(.object(try simple(try await replace(id, try Self.object(request.body), metadata: metadata))), status: 200)
            case ("DELETE", _) where path.hasPrefix("/api/v1/orders/"):
                let id = try Self.segment(path.dropFirst("/api/v1/orders/".count))
                let cancelled = try await gateway.cancelOrder(Tradewire_V1_CancelOrderRequest(order: Self.reference(id)), metadata: metadata)
                response = Self.json(.object(try simple(cancelled.order ?? Tradewire_V1_Order())), status: 200)
            case ("GET", _) where path.hasPrefix("/api/v1/reconcile/"):
                let id = try Self.segment(path.dropFirst("/api/v1/reconcile/".count))
                let totals = try await gateway.reconcile(Tradewire_V1_ReconcileRequest(batchID: id), metadata: metadata)
                response = Self.json(Self.simplified(try protoJSON(totals)), status: 200)
            case ("GET", "/ws"):
                return await webSocket.serve(request, responder)
            case ("GET", "/health"), ("HEAD", "/health"):
                let reasons = unreadiness()
                response = Self.json(.object(reasons.isEmpty ? ["status": .string("ok")]
                    : ["status": .string("unavailable"), "reasons": .array(reasons.map { .string($0) })]), status: reasons.isEmpty ? 200 : 503)
            case (_, "/api/orders"), (_, "/api/v1/orders"), (_, "/health"):
                response = transcoder.errorResponse(RPCError(code: .unimplemented, message: "\(path) does not take \(request.method)"), status: 405)
                response.head.headers.append(("allow", path == "/health" ? "GET" : "POST"))
            default:
                return await transcoder.serve(request, responder)
            }
        } catch {
            response = transcoder.errorResponse(error)
        }
        responder.respond(response)
    }

    // MARK: - Requests

    /// A NewOrder from the simple shape, its decimals brought exactly to the instrument's scales.
    func newOrder(_ fields: JSONObject, field prefix: String) throws(RPCError) -> Tradewire_V1_NewOrder {
        func invalid(_ field: String, _ reason: String) -> RPCError {
            OrderValidation.error([.init(field: prefix + field, description_p: reason)])
        }
        for key in fields.members.map(\.key) where !Self.orderFields.contains(key) {
            throw invalid(Echo.quote(key), "is not a field of an order (\(Self.orderFields.sorted().joined(separator: ", ")))")
        }
        guard let symbol = fields["symbol"]?.stringValue, !symbol.isEmpty else { throw invalid("symbol", "is required") }
        guard let (instrument, _) = instruments.lookup(symbol) else { throw invalid("symbol", "\(Echo.quote(symbol)) is not a listed instrument") }
        var order = Tradewire_V1_NewOrder()
        order.symbol = symbol
        switch fields["side"]?.stringValue?.uppercased() {
        case "BUY": order.side = .buy
        case "SELL": order.side = .sell
        default: throw invalid("side", "is BUY or SELL")
        }
        let price = try fields["price"].map { (value) throws(RPCError) in try Self.decimal(value, scale: instrument.priceScale, field: prefix + "price") }
        switch fields["orderType"]?.stringValue?.uppercased() ?? fields["type"]?.stringValue?.uppercased() ?? (price == nil ? "MARKET" : "LIMIT") {
        case "LIMIT": order.type = .limit
        case "MARKET": order.type = .market
        default: throw invalid("orderType", "is LIMIT or MARKET")
        }
        switch fields["timeInForce"]?.stringValue?.uppercased() ?? (order.type == .market ? "IOC" : "GTC") {
        case "GTC": order.timeInForce = .gtc
        case "IOC": order.timeInForce = .ioc
        case "FOK": order.timeInForce = .fok
        default: throw invalid("timeInForce", "is GTC, IOC or FOK")
        }
        guard let quantity = fields["quantity"] else { throw invalid("quantity", "is required") }
        let units = try Self.decimal(quantity, scale: instrument.quantityScale, field: prefix + "quantity")
        order.quantity = Tradewire_V1_Quantity(units: units, scale: instrument.quantityScale)
        if let price { order.price = Tradewire_V1_Price(units: price, scale: instrument.priceScale) }
        if let clientOrderID = fields["clientOrderId"] {
            guard let text = clientOrderID.stringValue else { throw invalid("clientOrderId", "is a string") }
            order.clientOrderID = text
        }
        return order
    }

    /// A replace in the simple shape (`{"price": …, "quantity": …}`, either or both, decimals at the order's
    /// instrument's scales).
    func replace(_ id: String, _ fields: JSONObject, metadata: Metadata) async throws(RPCError) -> Tradewire_V1_Order {
        for key in fields.members.map(\.key) where key != "price" && key != "quantity" {
            throw OrderValidation.error([.init(field: Echo.quote(key), description_p: "is not a field of a replace (price, quantity)")])
        }
        let current = try await gateway.getOrder(Tradewire_V1_GetOrderRequest(order: Self.reference(id)), metadata: metadata)
        guard let (instrument, _) = instruments.lookup(current.symbol) else {
            throw RPCError(code: .failedPrecondition, message: "\(Echo.quote(current.symbol)) is no longer a listed instrument")
        }
        var replace = Tradewire_V1_ReplaceOrderRequest(order: Self.reference(id))
        if let price = fields["price"] {
            replace.price = Tradewire_V1_Price(units: try Self.decimal(price, scale: instrument.priceScale, field: "price"), scale: instrument.priceScale)
        }
        if let quantity = fields["quantity"] {
            replace.quantity = Tradewire_V1_Quantity(units: try Self.decimal(quantity, scale: instrument.quantityScale, field: "quantity"),
                                                     scale: instrument.quantityScale)
        }
        return try await gateway.replaceOrder(replace, metadata: metadata).order ?? current
    }

    static func reference(_ id: String) -> Tradewire_V1_OrderRef { Tradewire_V1_OrderRef(orderID: Tradewire_V1_OrderId(value: id)) }

    static let orderFields: Set<String> = ["symbol", "side", "quantity", "price", "orderType", "type", "timeInForce", "clientOrderId"]

    /// A JSON number or string as units at `scale`, exactly (more decimals than the scale, an exponent, or a value
    /// past 64 bits is refused).
    static func decimal(_ value: JSONValue, scale: UInt32, field: String) throws(RPCError) -> Int64 {
        let text: String
        switch value {
        case .number(let literal): text = literal
        case .string(let quoted): text = quoted
        default: throw OrderValidation.error([.init(field: field, description_p: "is a decimal number or string")])
        }
        do {
            return try FixedPoint.parse(text, scale: scale).units
        } catch {
            throw OrderValidation.error([.init(field: field, description_p: "\(Echo.quote(text)) is not a decimal with at most \(scale) decimals (\(error))")])
        }
    }

    static func object(_ body: [UInt8]) throws(RPCError) -> JSONObject {
        let parsed: JSONValue
        do {
            parsed = try JSONValue.parse(bytes: body)
        } catch {
            throw RPCError(code: .invalidArgument, message: "the body is not JSON: \(error)")
        }
        guard case .object(let object) = parsed else { throw RPCError(code: .invalidArgument, message: "the body must be a JSON object") }
        return object
    }

    /// One path segment, percent-decoded.
    static func segment(_ text: Substring) throws(RPCError) -> String {
        guard !text.isEmpty, !text.contains("/"), let decoded = PercentEncoding.decodeStrictly(text) else {
            throw RPCError(code: .invalidArgument, message: "the path's last segment is not an id")
        }
        return decoded
    }

    // MARK: - Answers

    func protoJSON(_ message: some ProtoMessage) throws(RPCError) -> JSONValue {
        do {
            return try transcoder.json.decode(message.serializedBytes(), as: type(of: message))
        } catch {
            throw RPCError(code: .internal, message: "the answer could not be written as JSON: \(error)")
        }
    }

    /// An order in the simple shape: the id as a string, decimals as strings at the instrument's scale, enums
    /// without their prefixes.
    func simple(_ order: Tradewire_V1_Order) throws(RPCError) -> JSONObject {
        guard case .object(let object) = Self.simplified(try protoJSON(order)) else { return JSONObject() }
        return object
    }

    /// Proto3 JSON made plain: `{"units", "scale"}` values as decimal strings (a Money's currency beside them),
    /// `{"value": id}` as the id, enum names without their type's prefix.
    static func simplified(_ value: JSONValue, key: String = "") -> JSONValue {
        switch value {
        case .object(let object):
            let keys = Set(object.members.map(\.key))
            // A Price, Quantity or Money (an empty one is zero, where the field says it is an amount).
            let isAmount = ["Price", "Quantity", "Notional", "Pnl", "Value", "price", "quantity"].contains { key.hasSuffix($0) }
            if keys.isSubset(of: ["units", "scale", "currency"]), !keys.isEmpty || isAmount {
                let units = Int64(object["units"]?.stringValue ?? "0") ?? 0
                let scale = UInt32(object["scale"]?.int64Value ?? 0)
                return .string(FixedPoint.text(units: units, scale: scale))
            }
            if keys == ["value"], let id = object["value"]?.stringValue { return .string(id) }
            return .object(JSONObject(object.members.map { (key: $0.key, value: simplified($0.value, key: $0.key)) }))
        case .array(let elements):
            return .array(elements.map { simplified($0, key: key) })
        case .string(let text):
            for prefix in enumPrefixes where text.hasPrefix(prefix) { return .string(String(text.dropFirst(prefix.count))) }
            return value
        default:
            return value
        }
    }

    static let enumPrefixes = ["ORDER_STATUS_", "SIDE_", "ORDER_TYPE_", "TIME_IN_FORCE_", "REJECT_REASON_", "EXEC_TYPE_"]

    static func json(_ value: JSONValue, status: Int) -> HTTP1Response {
        HTTP1Response(status: status, contentType: "application/json", body: Array(value.text().utf8))
    }
}
