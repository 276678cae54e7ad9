/// A method: its service's full name and its own name; the HTTP/2 path is `/service/method`.
public struct MethodDescriptor: Hashable, Sendable, CustomStringConvertible {
    public let service: String
    public let method: String
    public let path: String

    public init(service: String, method: String) {
        self.service = service
        self.method = method
        self.path = "/\(service)/\(method)"
    }

    public var description: String { path }
}

/// The four kinds of call.
public enum RPCKind: Sendable, Hashable {
    case unary, clientStreaming, serverStreaming, bidirectionalStreaming
}
