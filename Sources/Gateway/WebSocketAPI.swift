import Cluster
import HTTP1
import JSON
import Orders
import RPC
import Transcoding
import Transport

/// `GET /ws`: the account's executions and the market's quotes, trades and books pushed over one WebSocket, each
/// subscription resumable (executions from a cursor). Browsers cannot set headers on a WebSocket, so the API key
/// may come as the first message instead of an `Authorization` header (never in the URL). JSON text messages:
///
///     → {"type": "auth", "apiKey": "tw_…"}
///     ← {"type": "ready", "account": "demo"}
///     → {"type": "subscribe", "id": "e", "channel": "executions", "cursor": "p1:12,p2:40,p3:7"}   (or "fromBeginning": true)
///     → {"type": "subscribe", "id": "q", "channel": "quotes", "symbols": ["BTC/USD"]}             (trades, book: "depth")
///     ← {"type": "data", "id": "e", "data": {…the ExecutionReport as proto3 JSON…}}
///     ← {"type": "error", "id": "e", "error": {"code": 3, "message": "…"}}                       (the subscription ended)
///     → {"type": "unsubscribe", "id": "q"}
///
/// The streams are the gRPC methods' (Gateway.StreamExecutions, MarketData.StreamQuotes/Trades/Book), with their
/// bounds: a reader too slow for them is ended with RESOURCE_EXHAUSTED, and resumes from its last cursor. At most
/// ``maxSubscriptions`` per socket; a message that is not one of these is answered with an error and ignored.
struct WebSocketAPI: Sendable {
    let transcoder: HTTPTranscoder
    let keys: APIKeys
    static let maxSubscriptions = 8

    static let channels: [String: String] = [
        "executions": "/tradewire.v1.Gateway/StreamExecutions",
        "quotes": "/tradewire.v1.MarketData/StreamQuotes",
        "trades": "/tradewire.v1.MarketData/StreamTrades",
        "book": "/tradewire.v1.MarketData/StreamBook",
    ]

    func serve(_ request: HTTP1Request, _ responder: HTTP1Responder) async {
        if let problem = WebSocket.handshakeProblem(request) {
            return responder.respond(transcoder.errorResponse(RPCError(code: .invalidArgument, message: "/ws is a WebSocket: \(problem)")))
        }
        guard let socket = await responder.upgradeToWebSocket(request) else { return }
        var metadata = request.header("authorization") == nil ? nil : HTTPTranscoder.metadata(request)
        if let metadata {
            guard await authenticate(metadata, socket) else { return socket.close(code: 1008, reason: "unauthenticated") }
        }
        await withTaskGroup(of: Void.self) { group in
            var subscriptions: [String: Task<Void, Never>] = [:]
            while let message = await socket.receive() {
                guard case .text(let text) = message, let parsed = try? JSONValue.parse(text), case .object(let fields) = parsed else {
                    await socket.send(Self.error(nil, RPCError(code: .invalidArgument, message: "messages are JSON objects")))
                    continue
                }
                let id = fields["id"]?.stringValue
                switch fields["type"]?.stringValue {
                case "auth":
                    guard metadata == nil else {
                        await socket.send(Self.error(id, RPCError(code: .failedPrecondition, message: "already authenticated")))
                        continue
                    }
                    var offered = Metadata()
                    offered.add("authorization", "Bearer \(fields["apiKey"]?.stringValue ?? "")")
                    guard await authenticate(offered, socket) else { return socket.close(code: 1008, reason: "unauthenticated") }
                    metadata = offered
                case "subscribe":
                    guard let metadata else {
                        await socket.send(Self.error(id, RPCError(code: .unauthenticated, message: "send {\"type\": \"auth\", \"apiKey\": …} first")))
                        continue
                    }
                    guard let id, OrderBounds.isIdentifier(id), subscriptions[id] == nil else {
                        await socket.send(Self.error(id, RPCError(code: .invalidArgument, message: "a subscription needs an \"id\" of 1–64 characters not in use")))
                        continue
                    }
                    subscriptions = subscriptions.filter { !$0.value.isCancelled }
                    guard subscriptions.count < Self.maxSubscriptions else {
                        await socket.send(Self.error(id, RPCError(code: .resourceExhausted, message: "at most \(Self.maxSubscriptions) subscriptions per socket")))
                        continue
                    }
                    guard let channel = fields["channel"]?.stringValue, let path = Self.channels[channel] else {
                        await socket.send(Self.error(id, RPCError(code: .invalidArgument, message: "\"channel\" is one of \(Self.channels.keys.sorted().joined(separator: ", "))")))
                        continue
                    }
                    var body = fields
                    for key in ["type", "id", "channel"] { body[key] = nil }
                    let task = Task {
                        let status = await transcoder.stream(path, request: .object(body), metadata: metadata) { data in
                            await socket.send(["type": .string("data"), "id": .string(id), "data": data])
                        }
                        if !Task.isCancelled {
                            await socket.send(status.map { Self.error(id, $0) } ?? ["type": .string("end"), "id": .string(id)])
                        }
                    }
                    subscriptions[id] = task
                    group.addTask { await task.value }
                case "unsubscribe":
                    subscriptions.removeValue(forKey: id ?? "")?.cancel()
                default:
                    await socket.send(Self.error(id, RPCError(code: .invalidArgument, message: "\"type\" is auth, subscribe or unsubscribe")))
                }
            }
            for task in subscriptions.values { task.cancel() }
        }
    }

    /// Whether the key is valid; tells the client its account, or why not.
    private func authenticate(_ metadata: Metadata, _ socket: WebSocketSession) async -> Bool {
        do throws(RPCError) {
            let account = try keys.authenticate(metadata).account
            await socket.send(["type": .string("ready"), "account": .string(account)])
            return true
        } catch {
            await socket.send(Self.error(nil, error))
            return false
        }
    }

    static func error(_ id: String?, _ error: RPCError) -> JSONObject {
        var object: JSONObject = ["type": .string("error"), "error": .object(["code": .number(error.code.rawValue), "message": .string(error.message)])]
        if let id { object["id"] = .string(id) }
        return object
    }
}

extension WebSocketSession {
    /// One JSON message, one frame (a subscription's sends keep their order and wait for the socket's
    /// backpressure); false once the socket is closed.
    @discardableResult
    fileprivate func send(_ object: JSONObject) async -> Bool {
        await send(text: JSONValue.object(object).text())
    }
}
