/// The messages and RPC methods of a set of .proto files, by name: what code that handles messages it has no
/// Swift type for at compile time works from (the load harness turns JSON into a request through the message's
/// protobuf-c descriptor). `tools/generate` writes one catalog per generated module (`ProtoCatalog.protos`).
public struct ProtoCatalog: Sendable {
    /// One method of a service.
    public struct Method: Sendable {
        /// `/package.Service/Method`, as on the wire.
        public let path: String
        public let input: any ProtoMessage.Type
        public let output: any ProtoMessage.Type
        public let clientStreaming: Bool
        public let serverStreaming: Bool
        /// Its `google.api.http` bindings (additional bindings after the first).
        public let httpRules: [HTTPRule]

        public init(
            path: String, input: any ProtoMessage.Type, output: any ProtoMessage.Type, clientStreaming: Bool,
            serverStreaming: Bool, httpRules: [HTTPRule] = []
        ) {
            self.path = path
            self.input = input
            self.output = output
            self.clientStreaming = clientStreaming
            self.serverStreaming = serverStreaming
            self.httpRules = httpRules
        }
    }

    /// One HTTP binding of a method, as `google.api.http` states it (grpc-gateway's and Envoy's reading).
    public struct HTTPRule: Sendable, Equatable {
        /// GET, PUT, POST, DELETE, PATCH (or a custom pattern's kind).
        public let verb: String
        /// The path template: `/v1/orders/{order.order_id.value}:cancel`.
        public let pattern: String
        /// The request field the HTTP body fills: "*" for the whole request, "" for none.
        public let body: String
        /// The response field that is the HTTP body; "" for the whole response.
        public let responseBody: String

        public init(verb: String, pattern: String, body: String = "", responseBody: String = "") {
            self.verb = verb
            self.pattern = pattern
            self.body = body
            self.responseBody = responseBody
        }
    }

    /// Every message, nested ones included, by full name (`tradewire.v1.Order`).
    public let messages: [String: any ProtoMessage.Type]
    /// Every method, by path.
    public let methods: [String: Method]

    public init(messages: [any ProtoMessage.Type], methods: [Method]) {
        self.messages = Dictionary(messages.map { ($0.protoMessageName, $0) }, uniquingKeysWith: { first, _ in first })
        self.methods = Dictionary(methods.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The method for `name`: a path (`/pkg.Service/Method`), or the same without the leading slash, or with a
    /// dot before the method (`pkg.Service.Method`, as grpcurl and ghz accept).
    public func method(named name: String) -> Method? {
        var path = name.hasPrefix("/") ? name : "/" + name
        if let found = methods[path] { return found }
        guard !path.dropFirst().contains("/"), let dot = path.lastIndex(of: ".") else { return nil }
        path.replaceSubrange(dot...dot, with: "/")
        return methods[path]
    }

    /// Both catalogs' messages and methods (the first wins where a name is in both).
    public func merging(_ other: ProtoCatalog) -> ProtoCatalog {
        ProtoCatalog(
            messages: Array(messages.values) + Array(other.messages.values),
            methods: Array(methods.values) + Array(other.methods.values))
    }
}
