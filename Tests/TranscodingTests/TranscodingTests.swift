import HTTP1
import JSON
import ProtoCodec
import Protos
import RPC
import Testing
@testable import Transcoding

/// grpc-gateway's rules as values: path templates, and requests built from a path, a query and a body.
struct PathTemplateTests {
    @Test func variablesVerbsAndWildcardsMatchAsGrpcGatewayMatchesThem() throws {
        let cancel = try PathTemplate("/v1/orders/{order.order_id.value}:cancel")
        #expect(cancel.verb == "cancel")
        #expect(cancel.match("/v1/orders/abc:cancel")?.map(\.value) == ["abc"])
        #expect(cancel.match("/v1/orders/abc")?.isEmpty == nil, "the verb is required")
        #expect(cancel.match("/v1/orders/:cancel") == nil, "a variable is never empty")

        let plain = try PathTemplate("/v1/orders")
        #expect(plain.match("/v1/orders")?.isEmpty == true)
        #expect(plain.match("/v1/orders:batch") == nil, "a template without a verb does not match one")
        #expect(plain.match("/v1/orders/") == nil)

        let symbol = try PathTemplate("/v1/quotes/{symbol}")
        #expect(symbol.match("/v1/quotes/BTC%2FUSD")?.first?.value == "BTC/USD", "one segment is decoded whole")
        #expect(symbol.match("/v1/quotes/a%zz") == nil, "a malformed escape")
        #expect(symbol.match("/v1/quotes/%FF") == nil, "not UTF-8")

        let nested = try PathTemplate("/v1/{name=shelves/*/books/*}")
        #expect(nested.match("/v1/shelves/s%2F1/books/b 2")?.first?.value == "shelves/s%2F1/books/b 2", "several segments keep %2F")
        let rest = try PathTemplate("/files/{path=**}")
        #expect(rest.match("/files/a/b/c")?.first?.value == "a/b/c")
        #expect(rest.match("/files/")?.first?.value == "")
        let star = try PathTemplate("/v1/*/items")
        #expect(star.match("/v1/x/items") != nil && star.match("/v1/items") == nil)
    }

    @Test func malformedTemplatesAreRefusedWithTheirReason() {
        for bad in ["v1/x", "/v1/{", "/v1/{a=b/{c}}", "/v1/**/x", "/v1/{a}/{a}", "/v1/x:", "/v1//x", "/v1/{}", "/v1/x}"] {
            #expect(throws: TemplateError.self, "\(bad)") { try PathTemplate(bad) }
        }
    }
}

struct TranscodedRequestTests {
    /// A backend that is never called: these tests only build requests.
    struct Unreachable: RPCClientTransport {
        func startCall(method: MethodDescriptor, metadata: Metadata, options: CallOptions) async throws(RPCError) -> ClientCall {
            throw RPCError(code: .unavailable, message: "not in these tests")
        }
    }

    let transcoder = try! HTTPTranscoder(catalog: .protos, backends: ["tradewire.v1.Gateway": Unreachable(), "tradewire.v1.MarketData": Unreachable()])

    func build(_ method: String, _ target: String, body: String = "") throws(RPCError) -> [UInt8] {
        let request = HTTP1Request(method: method, target: target, headers: [("host", "x")], body: Array(body.utf8))
        guard let (route, values) = transcoder.routes.lazy.compactMap({ route in route.template.match(request.path).map { (route, $0) } })
            .first(where: { $0.0.rule.verb == method })
        else { throw RPCError(code: .notFound, message: "no route") }
        return try transcoder.requestMessage(request, route, values)
    }

    @Test func everyAnnotatedMethodIsServedAndOnlyThose() {
        let methods = Set(transcoder.bindings.map(\.method))
        #expect(methods.contains("/tradewire.v1.Gateway/PlaceOrder") && methods.contains("/tradewire.v1.MarketData/StreamQuotes"))
        #expect(!methods.contains("/tradewire.v1.Gateway/OrderEntry"), "bidirectional streams have no HTTP binding")
        #expect(!methods.contains("/tradewire.v1.MarketData/UpsertInstrument"), "admin methods stay gRPC only")
        #expect(transcoder.bindings.count == 21)
    }

    @Test func theBodyThePathAndTheQueryFillTheRequest() throws {
        let place = try Tradewire_V1_PlaceOrderRequest(serializedBytes: build("POST", "/v1/orders", body: """
            {"order": {"client_order_id": "c-1", "symbol": "ACME", "side": "SIDE_BUY", "type": "ORDER_TYPE_LIMIT",
             "quantity": {"units": "10"}, "price": {"units": "10000", "scale": 2}}}
            """))
        #expect(place.order?.clientOrderID == "c-1" && place.order?.quantity?.units == 10 && place.order?.side == .buy)

        let replace = try Tradewire_V1_ReplaceOrderRequest(serializedBytes: build(
            "PATCH", "/v1/orders/client/c%2D1", body: #"{"order": {"clientOrderId": "from-body"}, "quantity": {"units": "5"}}"#))
        #expect(replace.order?.clientOrderID == "c-1", "the path wins over the body")
        #expect(replace.quantity?.units == 5)

        let list = try Tradewire_V1_ListOrdersRequest(serializedBytes: build(
            "GET", "/v1/orders?symbol=ACME&statuses=ORDER_STATUS_NEW&statuses=9&page_size=25&createdAfterUnixNanos=5"))
        #expect(list.symbol == "ACME" && list.pageSize == 25 && list.createdAfterUnixNanos == 5)
        #expect(list.statuses.count == 2 && list.statuses[0] == .new)

        let cancel = try Tradewire_V1_CancelOrderRequest(serializedBytes: build("POST", "/v1/orders/p1-abc:cancel"))
        #expect(cancel.order?.orderID?.value == "p1-abc")

        let stream = try Tradewire_V1_StreamMarketDataRequest(serializedBytes: build("GET", "/v1/quotes?symbols=ACME&symbols=BOLT+X"))
        #expect(stream.symbols == ["ACME", "BOLT X"], "+ is a space in a query")
    }

    @Test func whatCannotBeARequestIsInvalidArgumentWithWhere() {
        func refusal(_ method: String, _ target: String, body: String = "") -> String? {
            do {
                _ = try build(method, target, body: body)
                return nil
            } catch {
                return error.code == .invalidArgument ? error.message : "\(error)"
            }
        }
        #expect(refusal("GET", "/v1/orders?nosuch=1")?.contains("has no field nosuch") == true)
        #expect(refusal("GET", "/v1/orders?page_size=-1")?.contains("page_size") == true)
        #expect(refusal("GET", "/v1/orders?symbol=%zz")?.contains("percent-encoded") == true)
        #expect(refusal("GET", "/v1/orders", body: "{}")?.contains("takes no body") == true)
        #expect(refusal("POST", "/v1/orders", body: "[1]")?.contains("JSON object") == true)
        #expect(refusal("POST", "/v1/orders", body: "{\"order\": ")?.contains("not JSON") == true)
        #expect(refusal("POST", "/v1/orders?symbol=X", body: "{}") == nil, "with body \"*\" the query binds nothing and is ignored")
        #expect(refusal("GET", "/v1/orders/client/x?order.client_order_id=y")?.contains("already bound by the path") == true)
        #expect(refusal("GET", "/v1/orders?order=1")?.contains("has no field order") == true)
        #expect(refusal("GET", "/v1/batches/b/reconciliation?expected_pnl=1")?.contains("a URL sets only scalar fields") == true)
        let many = (0..<101).map { "symbol=\($0)" }.joined(separator: "&")
        #expect(refusal("GET", "/v1/orders?" + many)?.contains("more than 100") == true)
    }

    @Test func errorsAreGoogleRpcStatusJSONUnderGrpcGatewaysHTTPStatus() throws {
        #expect(HTTPTranscoder.httpStatus(.unauthenticated) == 401 && HTTPTranscoder.httpStatus(.resourceExhausted) == 429)
        #expect(HTTPTranscoder.httpStatus(.failedPrecondition) == 400 && HTTPTranscoder.httpStatus(.cancelled) == 499)
        #expect(HTTPTranscoder.httpStatus(.unavailable) == 503 && HTTPTranscoder.httpStatus(.deadlineExceeded) == 504)
        var details = Google_Rpc_Status(code: 3, message: "x")
        details.details = [Google_Protobuf_Any(typeURL: "type.googleapis.com/google.rpc.BadRequest", value: Google_Rpc_BadRequest(
            fieldViolations: [.init(field: "order.symbol", description_p: "unknown")]).serializedBytes())]
        let response = transcoder.errorResponse(RPCError(code: .invalidArgument, message: "invalid order", detailsBinary: details.serializedBytes()))
        #expect(response.status == 400)
        let json = try JSONValue.parse(bytes: response.body)
        #expect(json["code"]?.int64Value == 3 && json["message"]?.stringValue == "invalid order")
        #expect(json["details"]?.arrayValue?.first?["fieldViolations"]?.arrayValue?.first?["field"]?.stringValue == "order.symbol")
        #expect(transcoder.refusal(HTTP1Error(413, "too big")).status == 413)
    }
}
