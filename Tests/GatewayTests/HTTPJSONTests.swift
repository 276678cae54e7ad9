import JSON
import Testing
import TestSupport

/// HTTP/JSON on the gateway's port, as curl or a browser would use it, against a real cluster: the Gateway's
/// methods transcoded in process, MarketData's forwarded with the caller's key, errors as google.rpc.Status JSON,
/// executions as newline-delimited JSON — and gRPC unaffected on the same port.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct HTTPJSONTests {
    static func request(_ socket: PlainSocket, _ method: String, _ target: String, key: String?, body: String? = nil,
                        headers: [String] = []) -> (status: Int, headers: [String: String], json: JSONValue?)?
    {
        var text = "\(method) \(target) HTTP/1.1\r\nHost: gateway\r\n"
        if let key { text += "Authorization: Bearer \(key)\r\n" }
        for header in headers { text += header + "\r\n" }
        if let body { text += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
        socket.send(text + "\r\n" + (body ?? ""))
        guard let response = socket.response() else { return nil }
        return (response.status, response.headers, try? JSONValue.parse(response.body))
    }

    @Test func ordersOverHTTPJSONFromPlaceToCancelWithErrorsAndAStream() async throws {
        try await GatewayCluster.with { cluster in
            let key = cluster.keys["alice"]!
            let socket = try PlainSocket(port: cluster.port)  // One keep-alive connection for all of it.
            let order = """
                {"order": {"clientOrderId": "h-1", "symbol": "BOLT", "side": "SIDE_BUY", "type": "ORDER_TYPE_LIMIT",
                 "timeInForce": "TIME_IN_FORCE_GTC", "quantity": {"units": "3"}, "price": {"units": "4900", "scale": 2}}}
                """
            let placed = try #require(Self.request(socket, "POST", "/v1/orders", key: key, body: order))
            #expect(placed.status == 200 && placed.headers["content-type"] == "application/json")
            let orderID = try #require(placed.json?["order"]?["orderId"]?["value"]?.stringValue)
            #expect(placed.json?["order"]?["status"]?.stringValue == "ORDER_STATUS_ACCEPTED")

            let again = try #require(Self.request(socket, "POST", "/v1/orders", key: key, body: order))
            #expect(again.json?["duplicate"] == .bool(true) && again.json?["order"]?["orderId"]?["value"]?.stringValue == orderID,
                    "the same client order id is the same order")

            let byID = try #require(Self.request(socket, "GET", "/v1/orders/\(orderID)", key: key))
            #expect(byID.status == 200 && byID.json?["clientOrderId"]?.stringValue == "h-1")
            let list = try #require(Self.request(socket, "GET", "/v1/orders?symbol=BOLT&statuses=ORDER_STATUS_ACCEPTED&page_size=10", key: key))
            #expect(list.json?["orders"]?.arrayValue?.count == 1)
            let quote = try #require(Self.request(socket, "GET", "/v1/quotes/BOLT", key: key))
            #expect(quote.status == 200 && quote.json?["symbol"]?.stringValue == "BOLT", "MarketData through the gateway")

            let cancelled = try #require(Self.request(socket, "POST", "/v1/orders/client/h-1:cancel", key: key))
            #expect(cancelled.status == 200)
            #expect(["ORDER_STATUS_PENDING_CANCEL", "ORDER_STATUS_CANCELLED"].contains(cancelled.json?["order"]?["status"]?.stringValue ?? ""))

            // Errors: the gRPC status as JSON, under grpc-gateway's HTTP status, with the details.
            let invalid = try #require(Self.request(socket, "POST", "/v1/orders", key: key, body: #"{"order": {"symbol": "NOPE"}}"#))
            #expect(invalid.status == 400 && invalid.json?["code"]?.int64Value == 3)
            let violations = invalid.json?["details"]?.arrayValue?.first?["fieldViolations"]?.arrayValue ?? []
            #expect(violations.contains { $0["field"]?.stringValue == "order.symbol" }, "\(String(describing: invalid.json))")
            let anonymous = try #require(Self.request(socket, "GET", "/v1/orders", key: nil))
            #expect(anonymous.status == 401 && anonymous.headers["www-authenticate"] == "Bearer" && anonymous.json?["code"]?.int64Value == 16)
            let someoneElses = try #require(Self.request(socket, "GET", "/v1/orders/\(orderID)", key: cluster.keys["bob"]!))
            #expect(someoneElses.status == 403)
            let wrongMethod = try #require(Self.request(socket, "DELETE", "/v1/orders", key: key))
            #expect(wrongMethod.status == 405 && wrongMethod.headers["allow"] == "GET, POST")
            let nowhere = try #require(Self.request(socket, "GET", "/v2/nothing", key: key))
            #expect(nowhere.status == 404 && nowhere.json?["code"]?.int64Value == 5)
            let metrics = try #require(Self.request(socket, "GET", "/metrics", key: nil))
            #expect(metrics.status == 200, "the operational endpoints stay on the same port")
            let openAPI = try #require(Self.request(socket, "GET", "/openapi.json", key: nil))
            #expect(openAPI.json?["paths"]?["/v1/orders/{order_order_id_value}:cancel"]?["post"]?["operationId"]?.stringValue == "Gateway_CancelOrder")

            // The account's executions as newline-delimited JSON, from the beginning, until the client leaves.
            let stream = try PlainSocket(port: cluster.port)
            stream.send("GET /v1/executions?from_beginning=true HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer \(key)\r\n\r\n")
            #expect(stream.read(until: "\r\n\r\n").contains("content-type: application/x-ndjson"))
            var lines: [JSONValue] = []
            while lines.count < 3 {
                guard let size = stream.chunkSize(), size > 0, let chunk = stream.bytes(size + 2) else { break }
                let line = String(decoding: chunk.dropLast(3), as: UTF8.self)
                guard let json = try? JSONValue.parse(line) else {
                    Issue.record("not a JSON line: \(line)")
                    break
                }
                lines.append(json)
            }
            #expect(lines.first?["result"]?["clientOrderId"]?.stringValue == "h-1", "\(lines)")
            #expect(lines.allSatisfy { $0["result"]?["cursor"]?.stringValue != nil })
            stream.close()
        }
    }

    @Test func theSimpleRESTShapeTakesDecimalsAndAnIdempotencyKey() async throws {
        try await GatewayCluster.with { cluster in
            let key = cluster.keys["bob"]!
            let socket = try PlainSocket(port: cluster.port)
            let body = #"{"symbol": "BOLT", "side": "BUY", "quantity": 3, "price": 49.5, "orderType": "LIMIT"}"#
            let placed = try #require(Self.request(socket, "POST", "/api/orders", key: key, body: body, headers: ["X-Idempotency-Key: seed-1"]))
            #expect(placed.status == 201, "\(String(describing: placed.json))")
            #expect(placed.json?["price"]?.stringValue == "49.50" && placed.json?["quantity"]?.stringValue == "3")
            #expect(placed.json?["status"]?.stringValue == "ACCEPTED" && placed.json?["side"]?.stringValue == "BUY")
            let id = try #require(placed.json?["orderId"]?.stringValue)
            let retried = try #require(Self.request(socket, "POST", "/api/orders", key: key, body: body, headers: ["X-Idempotency-Key: seed-1"]))
            #expect(retried.status == 200 && retried.json?["orderId"]?.stringValue == id && retried.json?["duplicate"] == .bool(true))

            let tooFine = try #require(Self.request(socket, "POST", "/api/orders", key: key,
                                                    body: #"{"symbol": "BOLT", "side": "BUY", "quantity": 1, "price": "49.505"}"#))
            #expect(tooFine.status == 400 && tooFine.json?["message"]?.stringValue?.contains("at most 2 decimals") == true)
            #expect(Self.violatedFields(tooFine.json) == ["price"], "the error names its field: \(String(describing: tooFine.json))")
            let unknownField = try #require(Self.request(socket, "POST", "/api/orders", key: key, body: #"{"symbol": "BOLT", "sied": "BUY"}"#))
            #expect(unknownField.status == 400)

            let batch = #"{"orders": [{"symbol": "BOLT", "side": "SELL", "quantity": "2", "price": "60"}, {"symbol": "NOPE", "side": "BUY", "quantity": 1, "price": 1}]}"#
            let placedBatch = try #require(Self.request(socket, "POST", "/api/v1/orders", key: key, body: batch, headers: ["Idempotency-Key: batch-1"]))
            let results = placedBatch.json?["results"]?.arrayValue ?? []
            #expect(placedBatch.status == 200 && results.count == 2 && placedBatch.json?["batchId"]?.stringValue == "batch-1")
            #expect(results.first?["status"]?.stringValue == "ACCEPTED" && results.last?["error"]?["code"]?.int64Value == 3, "\(results)")

            let fetched = try #require(Self.request(socket, "GET", "/api/v1/orders/\(id)", key: key))
            #expect(fetched.status == 200 && fetched.json?["orderId"]?.stringValue == id)
            // Replace and cancel in the same shape.
            let replaced = try #require(Self.request(socket, "PATCH", "/api/v1/orders/\(id)", key: key, body: #"{"quantity": "2"}"#))
            #expect(replaced.status == 200, "\(String(describing: replaced.json))")
            #expect(replaced.json?["pendingQuantity"]?.stringValue == "2" || replaced.json?["quantity"]?.stringValue == "2")
            let badReplace = try #require(Self.request(socket, "PATCH", "/api/v1/orders/\(id)", key: key, body: #"{"price": "49.505"}"#))
            #expect(badReplace.status == 400 && Self.violatedFields(badReplace.json) == ["price"])
            let notAReplace = try #require(Self.request(socket, "PATCH", "/api/v1/orders/\(id)", key: key, body: #"{"side": "SELL"}"#))
            #expect(notAReplace.status == 400)
            let othersOrder = try #require(Self.request(socket, "DELETE", "/api/v1/orders/\(id)", key: cluster.keys["alice"]!))
            #expect(othersOrder.status == 403)
            let cancelled = try #require(Self.request(socket, "DELETE", "/api/v1/orders/\(id)", key: key))
            #expect(cancelled.status == 200 && ["PENDING_CANCEL", "CANCELLED"].contains(cancelled.json?["status"]?.stringValue ?? ""))

            let totals = try #require(Self.request(socket, "GET", "/api/v1/reconcile/batch-1", key: key))
            #expect(totals.status == 200 && totals.json?["totalOrders"]?.int64Value == 1, "\(String(describing: totals.json))")
            let health = try #require(Self.request(socket, "GET", "/health", key: nil))
            #expect(health.status == 200 && health.json?["status"]?.stringValue == "ok")
        }
    }

    /// The fields a google.rpc.Status JSON's BadRequest names.
    static func violatedFields(_ json: JSONValue?) -> [String] {
        (json?["details"]?.arrayValue ?? []).flatMap { $0["fieldViolations"]?.arrayValue ?? [] }.compactMap { $0["field"]?.stringValue }
    }

    @Test func thePortfolioIsTheCallersOwnAsRiskKeepsIt() async throws {
        try await GatewayCluster.with { cluster in
            let socket = try PlainSocket(port: cluster.port)
            let alice = try #require(Self.request(socket, "GET", "/v1/portfolio", key: cluster.keys["alice"]!))
            #expect(alice.status == 200 && alice.json?["account"]?["account"]?.stringValue == "alice", "\(String(describing: alice.json))")
            let balance = alice.json?["account"]?["balance"]
            #expect(balance?["units"]?.stringValue == "10000000000000000" && balance?["scale"]?.int64Value == 8, "100,000,000.00000000 USD")
            // A fill moves both sides' positions.
            let sell = #"{"symbol": "BOLT", "side": "SELL", "quantity": 4, "price": "50.00"}"#
            let buy = #"{"symbol": "BOLT", "side": "BUY", "quantity": 4, "price": "50.00", "timeInForce": "IOC"}"#
            #expect(Self.request(socket, "POST", "/api/orders", key: cluster.keys["bob"]!, body: sell)?.status == 201)
            #expect(Self.request(socket, "POST", "/api/orders", key: cluster.keys["alice"]!, body: buy)?.status == 201)
            // Risk follows each node on its own: each side's order may live on another node, so each position is
            // waited for (a follower that stalled reconnects within seconds).
            func position(_ account: String, becomes expected: String) async throws -> String? {
                var position: String?
                for _ in 0..<200 where position != expected {
                    let portfolio = Self.request(socket, "GET", "/v1/portfolio?symbols=BOLT", key: cluster.keys[account]!)
                    position = portfolio?.json?["positions"]?.arrayValue?.first?["quantity"]?["units"]?.stringValue
                    if position != expected { try await Task.sleep(for: .milliseconds(50)) }
                }
                return position
            }
            #expect(try await position("alice", becomes: "4") == "4", "alice's BOLT position after the fill")
            #expect(try await position("bob", becomes: "-4") == "-4", "bob's BOLT position after the fill")
            let invalid = try #require(Self.request(socket, "GET", "/v1/portfolio?symbols=no%20such", key: cluster.keys["alice"]!))
            #expect(invalid.status == 400 && Self.violatedFields(invalid.json) == ["symbols"])
            #expect(Self.request(socket, "GET", "/v1/portfolio", key: nil)?.status == 401)
        }
    }

    @Test func theDashboardIsServedWithItsPolicy() async throws {
        try await GatewayCluster.with { cluster in
            let socket = try PlainSocket(port: cluster.port)
            socket.send("GET / HTTP/1.1\r\nHost: gateway\r\n\r\n")
            let page = try #require(socket.response())
            #expect(page.status == 200 && page.headers["content-type"] == "text/html; charset=utf-8")
            #expect(page.headers["content-security-policy"]?.contains("script-src 'self'") == true)
            #expect(page.body.contains("/dashboard.js"))
            socket.send("GET /dashboard.js HTTP/1.1\r\nHost: gateway\r\nIf-None-Match: \(page.headers["etag"] ?? "")\r\n\r\n")
            #expect(socket.response()?.status == 200, "the page's ETag is not the script's")

            // HTTP answers are counted by method and status (paths are not labels), refusals with method "-".
            let refused = try PlainSocket(port: cluster.port)
            refused.send("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
            #expect(refused.response()?.status == 400)
            refused.close()
            socket.send("GET /metrics HTTP/1.1\r\nHost: gateway\r\n\r\n")
            let metrics = try #require(socket.response()).body
            #expect(metrics.contains(#"http_server_requests_total{method="GET",code="200"} "#), "\(metrics.suffix(3000))")
            #expect(metrics.contains(#"http_server_requests_total{method="-",code="400"} 1"#))
            #expect(metrics.contains(#"http_server_response_seconds_count{method="GET"}"#))
        }
    }

    @Test func theWebSocketAPIPushesExecutionsAndQuotesAfterAnAuthMessage() async throws {
        try await GatewayCluster.with { cluster in
            let key = cluster.keys["alice"]!
            let socket = try Self.webSocket(cluster.port)
            Self.sendText(socket, #"{"type": "subscribe", "id": "early", "channel": "executions"}"#)
            #expect(Self.receiveText(socket)?["error"]?["code"]?.int64Value == 16, "nothing before auth")
            Self.sendText(socket, #"{"type": "auth", "apiKey": "\#(key)"}"#)
            let ready = Self.receiveText(socket)
            #expect(ready?["type"]?.stringValue == "ready" && ready?["account"]?.stringValue == "alice", "\(String(describing: ready))")
            Self.sendText(socket, #"{"type": "subscribe", "id": "e", "channel": "executions", "fromBeginning": true}"#)
            Self.sendText(socket, #"{"type": "subscribe", "id": "x", "channel": "nothing"}"#)
            #expect(Self.receiveText(socket)?["error"]?["code"]?.int64Value == 3)

            let http = try PlainSocket(port: cluster.port)
            let order = #"{"symbol": "BOLT", "side": "BUY", "quantity": 2, "price": 49}"#
            #expect(Self.request(http, "POST", "/api/orders", key: key, body: order)?.status == 201)
            // The report crosses the node's event feed, the gateway's follow of it and the in-process stream: ~10 ms
            // here, but seconds when CI's parallel suites load both cores (it took more than 5 s once).
            socket.receiveTimeout(seconds: 30)
            let report = Self.receiveText(socket)
            socket.receiveTimeout(seconds: 5)
            #expect(report?["type"]?.stringValue == "data" && report?["id"]?.stringValue == "e", "\(String(describing: report))")
            #expect(report?["data"]?["symbol"]?.stringValue == "BOLT" && report?["data"]?["cursor"]?.stringValue != nil)

            Self.sendText(socket, #"{"type": "unsubscribe", "id": "e"}"#)
            Self.sendText(socket, #"{"type": "subscribe", "id": "q", "channel": "quotes", "symbols": ["BOLT"]}"#)
            var quote: JSONValue?
            for _ in 0..<20 where quote?["id"]?.stringValue != "q" { quote = Self.receiveText(socket) }
            #expect(quote?["data"]?["symbol"]?.stringValue == "BOLT", "\(String(describing: quote))")

            let stranger = try Self.webSocket(cluster.port)
            Self.sendText(stranger, #"{"type": "auth", "apiKey": "tw_not-a-key"}"#)
            #expect(Self.receiveText(stranger)?["error"]?["code"]?.int64Value == 16)
            let close = stranger.bytesUntilClosed()
            #expect(Array(close.prefix(4)) == [0x88, UInt8(close.count - 2), 0x03, 0xF0], "1008 policy violation: \(close)")
        }
    }

    static func webSocket(_ port: Int) throws -> PlainSocket {
        let socket = try PlainSocket(port: port)
        socket.send("GET /ws HTTP/1.1\r\nHost: gateway\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
        #expect(socket.read(until: "\r\n\r\n").hasPrefix("HTTP/1.1 101 "))
        return socket
    }

    static func sendText(_ socket: PlainSocket, _ text: String) {
        let payload = Array(text.utf8)
        let mask: [UInt8] = [1, 2, 3, 4]
        var frame: [UInt8] = [0x81]
        frame += payload.count < 126 ? [0x80 | UInt8(payload.count)] : [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xff)]
        socket.send(bytes: frame + mask + payload.enumerated().map { $0.element ^ mask[$0.offset & 3] })
    }

    /// The next text message from the server, as JSON.
    static func receiveText(_ socket: PlainSocket) -> JSONValue? {
        guard let head = socket.bytes(2), head[0] == 0x81 else { return nil }
        var length = Int(head[1] & 0x7f)
        if length == 126, let extended = socket.bytes(2) { length = Int(extended[0]) << 8 | Int(extended[1]) }
        guard let payload = socket.bytes(length) else { return nil }
        return try? JSONValue.parse(bytes: payload)
    }

    @Test func crossOriginCallsAreAllowedOnlyFromConfiguredOrigins() async throws {
        try await GatewayCluster.with(extraConfig: #", "cors_origins": ["https://app.example"]"#) { cluster in
            let socket = try PlainSocket(port: cluster.port)
            let preflight = try #require(Self.request(socket, "OPTIONS", "/v1/orders", key: nil, headers: [
                "Origin: https://app.example", "Access-Control-Request-Method: POST", "Access-Control-Request-Headers: authorization, content-type",
            ]))
            #expect(preflight.status == 204 && preflight.headers["access-control-allow-origin"] == "https://app.example")
            #expect(preflight.headers["access-control-allow-headers"]?.contains("authorization") == true)
            let allowed = try #require(Self.request(socket, "GET", "/v1/orders", key: cluster.keys["alice"]!, headers: ["Origin: https://app.example"]))
            #expect(allowed.status == 200 && allowed.headers["access-control-allow-origin"] == "https://app.example")
            let elsewhere = try #require(Self.request(socket, "GET", "/v1/orders", key: cluster.keys["alice"]!, headers: ["Origin: https://evil.example"]))
            #expect(elsewhere.status == 200 && elsewhere.headers["access-control-allow-origin"] == nil, "a browser will not hand the answer over")
            let refused = try #require(Self.request(socket, "OPTIONS", "/v1/orders", key: nil, headers: [
                "Origin: https://evil.example", "Access-Control-Request-Method: POST",
            ]))
            #expect(refused.headers["access-control-allow-origin"] == nil && refused.status >= 400)
        }
    }
}
