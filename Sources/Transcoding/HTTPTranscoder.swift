public import HTTP1
import JSON
public import ProtoCodec
import ProtoJSON
public import RPC
public import Transport

/// HTTP/JSON for gRPC methods, by their `google.api.http` bindings, as grpc-gateway transcodes them: the path
/// template's variables, the body (`body: "*"` the whole request, `body: "field"` one field) and, for fields bound
/// by neither, the query string fill the request (proto3 JSON, ``ProtoJSON``); the call goes to the method's
/// backend with the caller's `authorization`, `x-request-id` and idempotency key as metadata; a unary answer is
/// the response message as JSON, a server stream newline-delimited JSON (`{"result": …}` per message, then
/// `{"error": …}` if it ends in an error), and an error the JSON form of `google.rpc.Status` with its details,
/// under the HTTP status grpc-gateway maps the gRPC code to. Requests no binding matches go to `fallback`.
public final class HTTPTranscoder: HTTP1Service {
    struct Route: Sendable {
        let rule: ProtoCatalog.HTTPRule
        let template: PathTemplate
        let method: ProtoCatalog.Method
        let descriptor: MethodDescriptor
        let backend: any RPCClientTransport
    }

    let routes: [Route]
    let backends: [String: any RPCClientTransport]
    /// The proto3 JSON mapping of the catalog's messages.
    public let json: ProtoJSON
    let fallback: (any HTTP1Service)?
    /// Unary calls' deadline.
    let timeout: Duration
    /// The OpenAPI document served at `/openapi.json`.
    let openAPI: [UInt8]?

    /// - Parameters:
    ///   - backends: where each service's calls go, by full name (`tradewire.v1.Gateway`); methods of other
    ///     services are not served.
    ///   - openAPI: the document to serve at `GET /openapi.json` (the generated `OpenAPIDocument.json`).
    public init(catalog: ProtoCatalog, backends: [String: any RPCClientTransport], fallback: (any HTTP1Service)? = nil,
                timeout: Duration = .seconds(30), openAPI: String? = nil) throws(TemplateError)
    {
        self.openAPI = openAPI.map { Array($0.utf8) }
        self.backends = backends
        var routes: [Route] = []
        for method in catalog.methods.values.sorted(by: { $0.path < $1.path }) where !method.clientStreaming {
            let parts = method.path.dropFirst().split(separator: "/")
            guard parts.count == 2, let backend = backends[String(parts[0])] else { continue }
            for rule in method.httpRules {
                routes.append(Route(rule: rule, template: try PathTemplate(rule.pattern), method: method,
                                    descriptor: MethodDescriptor(service: String(parts[0]), method: String(parts[1])), backend: backend))
            }
        }
        // Templates with a verb first: `/v1/orders/{id}:cancel` is not an id ending in ":cancel".
        self.routes = routes.filter { $0.template.verb != nil } + routes.filter { $0.template.verb == nil }
        json = ProtoJSON(catalog: catalog)
        self.fallback = fallback
        self.timeout = timeout
    }

    /// Every binding served: (HTTP method, template, gRPC method path).
    public var bindings: [(verb: String, pattern: String, method: String)] {
        routes.map { ($0.rule.verb, $0.rule.pattern, $0.method.path) }
    }

    public func serve(_ request: HTTP1Request, _ responder: HTTP1Responder) async {
        if request.path == "/openapi.json", let openAPI, request.method == "GET" || request.method == "HEAD" {
            return responder.respond(HTTP1Response(status: 200, contentType: "application/json", body: openAPI))
        }
        var pathMatches: [(route: Route, values: [(fieldPath: [String], value: String)])] = []
        for route in routes {
            if let values = route.template.match(request.path) { pathMatches.append((route, values)) }
        }
        guard !pathMatches.isEmpty else {
            if let fallback { return await fallback.serve(request, responder) }
            return responder.respond(errorResponse(RPCError(code: .notFound, message: "no method is bound to \(request.method) \(Echo.quote(request.path))")))
        }
        let verb = request.method == "HEAD" ? "GET" : request.method
        guard let (route, values) = pathMatches.first(where: { $0.route.rule.verb == verb }) else {
            var response = errorResponse(RPCError(code: .unimplemented, message: "\(Echo.quote(request.path)) does not take \(request.method)"),
                                              status: 405)
            let allowed = Set(pathMatches.map(\.route.rule.verb)).sorted().joined(separator: ", ")
            response.head.headers.append(("allow", allowed))
            return responder.respond(response)
        }
        let message: [UInt8]
        do {
            message = try requestMessage(request, route, values)
        } catch {
            return responder.respond(errorResponse(error))
        }
        if route.method.serverStreaming {
            await stream(route, message, metadata: Self.metadata(request), responder)
        } else {
            await unary(route, message, metadata: Self.metadata(request), responder)
        }
    }

    // MARK: - The request

    /// The request message's wire bytes from the body, the path's variables and the query.
    func requestMessage(_ request: HTTP1Request, _ route: Route, _ values: [(fieldPath: [String], value: String)]) throws(RPCError) -> [UInt8] {
        let inputName = route.method.input.protoMessageName
        var document = try body(request, route)
        do {
            for (fieldPath, value) in values { try json.bind(fieldPath, to: value, in: &document, messageName: inputName) }
            if route.rule.body != "*" {
                let bound = Set(values.map(\.fieldPath))
                for (name, value) in try Self.queryParameters(request.query) {
                    let fieldPath = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
                    guard !bound.contains(fieldPath) else {
                        throw RPCError(code: .invalidArgument, message: "query parameter \(Echo.quote(name)) is already bound by the path")
                    }
                    guard route.rule.body.isEmpty || fieldPath.first != route.rule.body else {
                        throw RPCError(code: .invalidArgument, message: "query parameter \(Echo.quote(name)) is already bound by the body")
                    }
                    try json.bind(fieldPath, to: value, in: &document, messageName: inputName)
                }
            }
            return try json.encode(document, as: route.method.input)
        } catch let error as ProtoJSONError {
            // The reason may quote the caller's input (a field name): at most 256 characters of it.
            let reason = error.description.count > 256 ? error.description.prefix(256) + "…" : error.description
            throw RPCError(code: .invalidArgument, message: "the request is not a valid \(inputName): \(reason)")
        } catch let error as RPCError {
            throw error
        } catch {
            throw RPCError(code: .invalidArgument, message: "\(error)")
        }
    }

    /// The body as the request's JSON, per the rule's `body`.
    private func body(_ request: HTTP1Request, _ route: Route) throws(RPCError) -> JSONValue {
        if route.rule.body.isEmpty {
            guard request.body.isEmpty else {
                throw RPCError(code: .invalidArgument, message: "\(request.method) \(route.rule.pattern) takes no body")
            }
            return .object(JSONObject())
        }
        guard !request.body.isEmpty else { return .object(JSONObject()) }
        // Read as JSON whatever its Content-Type says, as grpc-gateway does (`curl -d` sends form-urlencoded).
        let parsed: JSONValue
        do {
            parsed = try JSONValue.parse(bytes: request.body)
        } catch {
            throw RPCError(code: .invalidArgument, message: "the body is not JSON: \(error)")
        }
        if route.rule.body == "*" {
            guard case .object = parsed else { throw RPCError(code: .invalidArgument, message: "the body must be a JSON object") }
            return parsed
        }
        return .object(JSONObject([(key: route.rule.body, value: parsed)]))
    }

    /// `a=1&b=x%20y&b=z` as (name, value) pairs, `+` read as a space. At most 100 parameters.
    static func queryParameters(_ query: Substring) throws(RPCError) -> [(String, String)] {
        var parameters: [(String, String)] = []
        for pair in query.split(separator: "&") {
            guard parameters.count < 100 else { throw RPCError(code: .invalidArgument, message: "more than 100 query parameters") }
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let plus = { (text: Substring) in Substring(text.map { $0 == "+" ? " " : $0 }) }
            guard let name = PercentEncoding.decodeStrictly(plus(parts[0])), !name.isEmpty,
                let value = PercentEncoding.decodeStrictly(plus(parts.count == 2 ? parts[1] : ""))
            else { throw RPCError(code: .invalidArgument, message: "a query parameter is not valid percent-encoded UTF-8") }
            parameters.append((name, value))
        }
        return parameters
    }

    /// The caller's credentials and ids, as the gRPC API takes them (`X-Idempotency-Key` is `idempotency-key`).
    public static func metadata(_ request: HTTP1Request) -> Metadata {
        var metadata = Metadata()
        for (name, value) in request.headers {
            switch name {
            case "authorization", "x-request-id", "idempotency-key": metadata.add(name, value)
            case "x-idempotency-key": metadata.add("idempotency-key", value)
            default: break
            }
        }
        return metadata
    }

    // MARK: - The call

    private func unary(_ route: Route, _ message: [UInt8], metadata: Metadata, _ responder: HTTP1Responder) async {
        do throws(RPCError) {
            let call = try await route.backend.startCall(method: route.descriptor, metadata: metadata, options: CallOptions(timeout: timeout))
            // The client left (the connection closed and cancelled this task): so does the call.
            let answer = try await Self.cancellingOnLeave(call) { () async -> Result<[UInt8], RPCError> in
                do throws(RPCError) {
                    try await call.send(framed: MessageFramer.frame(serialized: message, compression: .identity))
                    call.closeRequest()
                    guard let answer = try await call.receive() else {
                        throw RPCError(code: .internal, message: "the server answered OK without a response")
                    }
                    while try await call.receive() != nil {}
                    return .success(answer)
                } catch {
                    return .failure(error)
                }
            }.get()
            responder.respond(HTTP1Response(status: 200, contentType: "application/json", body: Array(try responseJSON(answer, route).text().utf8)))
        } catch {
            responder.respond(errorResponse(error))
        }
    }

    private func stream(_ route: Route, _ message: [UInt8], metadata: Metadata, _ responder: HTTP1Responder) async {
        let call: ClientCall
        do throws(RPCError) {
            call = try await route.backend.startCall(method: route.descriptor, metadata: metadata, options: CallOptions())
        } catch {
            return responder.respond(errorResponse(error))
        }
        await Self.cancellingOnLeave(call) {
            var next: [UInt8]?
            do throws(RPCError) {
                try await call.send(framed: MessageFramer.frame(serialized: message, compression: .identity))
                call.closeRequest()
                // The status before the first message is the HTTP status; after it, an error is the stream's last line.
                next = try await call.receive()
            } catch {
                return responder.respond(errorResponse(error))
            }
            responder.startStream(HTTP1ResponseHead(status: 200, headers: [("content-type", "application/x-ndjson"), ("cache-control", "no-store")]))
            do throws(RPCError) {
                while let answer = next {
                    let line = JSONValue.object(JSONObject([(key: "result", value: try responseJSON(answer, route))])).text() + "\n"
                    guard await responder.write(Array(line.utf8)) else {
                        call.cancel()
                        return
                    }
                    next = try await call.receive()
                }
            } catch {
                let line = JSONValue.object(JSONObject([(key: "error", value: statusJSON(error))])).text() + "\n"
                _ = await responder.write(Array(line.utf8))
            }
            responder.finish()
        }
    }

    /// Runs `body`, cancelling `call` if the task is cancelled meanwhile (the HTTP client left).
    private static func cancellingOnLeave<Value: Sendable>(_ call: ClientCall, _ body: () async -> Value) async -> Value {
        await withTaskCancellationHandler {
            await body()
        } onCancel: {
            call.cancel()
        }
    }

    /// Calls the server-streaming method at `path` (`/tradewire.v1.MarketData/StreamQuotes`) with `request` (its
    /// proto3 JSON) and hands each response, as JSON, to `each` until it returns false or the stream ends: nil when
    /// it ended OK or was stopped, else its status. Cancelling the task cancels the call. For other HTTP-side
    /// protocols (the WebSocket API) on the same backends.
    public func stream(_ path: String, request: JSONValue, metadata: Metadata, _ each: (JSONValue) async -> Bool) async -> RPCError? {
        guard let method = json.catalog.method(named: path), method.serverStreaming, !method.clientStreaming else {
            return RPCError(code: .unimplemented, message: "\(path) is not a server-streaming method")
        }
        let parts = path.dropFirst().split(separator: "/")
        guard parts.count == 2, let backend = backends[String(parts[0])] else {
            return RPCError(code: .unimplemented, message: "\(parts.first ?? "") is not served here")
        }
        let message: [UInt8]
        do {
            message = try json.encode(request, as: method.input)
        } catch {
            return RPCError(code: .invalidArgument, message: "the request is not a valid \(method.input.protoMessageName): \(error)")
        }
        let call: ClientCall
        do throws(RPCError) {
            call = try await backend.startCall(method: MethodDescriptor(service: String(parts[0]), method: String(parts[1])), metadata: metadata,
                                              options: CallOptions())
        } catch {
            return error
        }
        return await Self.cancellingOnLeave(call) { () async -> RPCError? in
            do throws(RPCError) {
                try await call.send(framed: MessageFramer.frame(serialized: message, compression: .identity))
                call.closeRequest()
                while let answer = try await call.receive() {
                    let document: JSONValue
                    do {
                        document = try json.decode(answer, as: method.output)
                    } catch {
                        throw RPCError(code: .internal, message: "a response could not be written as JSON: \(error)")
                    }
                    guard await each(document) else {
                        call.cancel()
                        return nil
                    }
                }
                return nil
            } catch {
                return error
            }
        }
    }

    private func responseJSON(_ bytes: [UInt8], _ route: Route) throws(RPCError) -> JSONValue {
        let document: JSONValue
        do {
            document = try json.decode(bytes, as: route.method.output)
        } catch {
            throw RPCError(code: .internal, message: "the response could not be written as JSON: \(error)")
        }
        guard !route.rule.responseBody.isEmpty else { return document }
        return document[route.rule.responseBody] ?? .null
    }

    // MARK: - Errors

    /// `google.rpc.Status` as JSON: code, message, and the details the error carried.
    func statusJSON(_ error: RPCError) -> JSONValue {
        if let details = error.detailsBinary, let type = json.catalog.messages["google.rpc.Status"],
            case .object(var status)? = try? json.decode(details, as: type)
        {
            status["code"] = .number(error.code.rawValue)
            status["message"] = .string(error.message)
            return .object(status)
        }
        return .object(["code": .number(error.code.rawValue), "message": .string(error.message)])
    }

    /// `error` as the JSON of google.rpc.Status with its details, under the HTTP status of its code (or `status`).
    public func errorResponse(_ error: RPCError, status: Int? = nil) -> HTTP1Response {
        var response = HTTP1Response(status: status ?? Self.httpStatus(error.code), contentType: "application/json",
                                     body: Array(statusJSON(error).text().utf8))
        if error.code == .unauthenticated { response.head.headers.append(("www-authenticate", "Bearer")) }
        return response
    }

    /// The answer to a request the server could not read, in the same JSON form as every other error.
    public func refusal(_ error: HTTP1Error) -> HTTP1Response {
        let code: RPCError.Code = error.status == 413 || error.status == 431 || error.status == 414 ? .resourceExhausted : .invalidArgument
        return errorResponse(RPCError(code: code, message: error.message), status: error.status)
    }

    /// grpc-gateway's HTTPStatusFromCode.
    public static func httpStatus(_ code: RPCError.Code) -> Int {
        switch code {
        case .ok: 200
        case .cancelled: 499
        case .invalidArgument, .failedPrecondition, .outOfRange: 400
        case .deadlineExceeded: 504
        case .notFound: 404
        case .alreadyExists, .aborted: 409
        case .permissionDenied: 403
        case .unauthenticated: 401
        case .resourceExhausted: 429
        case .unimplemented: 501
        case .unavailable: 503
        default: 500
        }
    }
}
