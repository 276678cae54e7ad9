public import ProtoCodec

/// One method of a service, ready to serve: its descriptor and kind, and a function that runs a call over a
/// ``ServerCall``. Generated service code builds these with the typed factories below.
public struct RPCMethod: Sendable {
    public let descriptor: MethodDescriptor
    public let kind: RPCKind
    let run: @Sendable (ServerCall) async throws -> Void
    /// Told about each call of this method (set by ``RPCRouter/observe(_:)``).
    var observer: (any CallObserver)?

    public init(descriptor: MethodDescriptor, kind: RPCKind, run: @escaping @Sendable (ServerCall) async throws -> Void) {
        self.descriptor = descriptor
        self.kind = kind
        self.run = run
    }
}

/// A service: the methods it serves.
public protocol RPCService: Sendable {
    var methods: [RPCMethod] { get }
}

/// Told when each call of one method starts (its headers were routed) and when it ends (its status went out, or
/// the client reset it): metrics. Called on the connection's thread; must not block.
public protocol CallObserver: Sendable {
    func started()
    func ended(_ code: RPCError.Code, nanoseconds: UInt64)
}

/// Decides whether a call may reach its handler, from its method and request metadata: nil admits it; an error
/// refuses it with that status before any handler runs (credentials, for instance).
public typealias CallAdmission = @Sendable (MethodDescriptor, Metadata) -> RPCError?

/// Finds the method for a request path.
public struct RPCRouter: Sendable {
    private var methods: [String: RPCMethod] = [:]
    private var services: Set<String> = []
    /// Asked about every call whose method exists.
    public var admission: CallAdmission?

    public init(services: [any RPCService] = []) {
        for service in services { add(service) }
    }

    public mutating func add(_ service: any RPCService) {
        for method in service.methods {
            methods[method.descriptor.path] = method
            services.insert(method.descriptor.service)
        }
    }

    public func method(forPath path: String) -> RPCMethod? { methods[path] }

    /// Gives every method served an observer, made once per method here so that a call pays no lookup for it.
    /// Calls to unknown methods are not observed.
    public mutating func observe(_ makeObserver: (MethodDescriptor) -> any CallObserver) {
        for (path, method) in methods { methods[path]!.observer = makeObserver(method.descriptor) }
    }

    public func hasService(_ name: String) -> Bool { services.contains(name) }

    /// Every service name served.
    public var serviceNames: [String] { services.sorted() }
}
