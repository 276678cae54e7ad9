/// Generates a service: a namespace enum with its method descriptors, one protocol a server implements (its
/// extension lists the methods for the router), and a client covering the four call kinds.
struct ServiceGenerator {
    let service: ServiceDescriptor
    let file: FileDescriptor
    let types: TypeTable

    struct Method {
        let descriptor: ServiceDescriptor.Method
        let swiftName: String
        let input: String
        let output: String
        let comment: String?

        var kind: String {
            switch (descriptor.clientStreaming, descriptor.serverStreaming) {
            case (false, false): "unary"
            case (true, false): "clientStreaming"
            case (false, true): "serverStreaming"
            case (true, true): "bidirectionalStreaming"
            }
        }
    }

    var swiftName: String {
        SwiftNames.typePrefix(package: file.package, swiftPrefix: file.swiftPrefix) + service.name
    }

    func methods() throws -> [Method] {
        try service.methods.map { method in
            guard let input = types[method.inputType]?.swiftName, let output = types[method.outputType]?.swiftName else {
                throw GeneratorError("\(service.fullName).\(method.name): unknown request or response type")
            }
            let first = method.name.prefix(1).lowercased() + method.name.dropFirst()
            return Method(
                descriptor: method, swiftName: SwiftNames.escaped(first), input: input, output: output,
                comment: file.comments[method.path])
        }
    }

    func write(to out: inout CodeWriter) throws {
        let methods = try methods()
        out.docComment(file.comments[service.path])
        try out.block("public enum \(swiftName) {") { out in
            out.line("public static let name = \"\(service.fullName)\"")
            out.line()
            out.block("public enum Method {") { out in
                for method in methods {
                    out.line(
                        "public static let \(method.swiftName) = MethodDescriptor(service: \"\(service.fullName)\", method: \"\(method.descriptor.name)\")")
                }
            }
            out.line()
            writeServiceProtocol(methods, to: &out)
            out.line()
            writeClient(methods, to: &out)
        }
        out.line()
        out.block("extension \(swiftName).ServiceProtocol {") { out in
            out.block("public var methods: [RPCMethod] {") { out in
                out.line("[")
                out.indented { out in
                    for method in methods { writeRegistration(method, to: &out) }
                }
                out.line("]")
            }
        }
    }

    private func writeServiceProtocol(_ methods: [Method], to out: inout CodeWriter) {
        out.line("/// Implement to serve \(service.fullName); pass the implementation to a Server.")
        out.block("public protocol ServiceProtocol: RPCService {") { out in
            for method in methods {
                out.docComment(method.comment)
                switch method.kind {
                case "unary":
                    out.line("func \(method.swiftName)(request: \(method.input), context: ServerContext) async throws -> \(method.output)")
                case "clientStreaming":
                    out.line(
                        "func \(method.swiftName)(requests: RPCRequestStream<\(method.input)>, context: ServerContext) async throws -> \(method.output)")
                case "serverStreaming":
                    out.line(
                        "func \(method.swiftName)(request: \(method.input), responses: RPCResponseWriter<\(method.output)>, context: ServerContext) async throws")
                default:
                    out.line(
                        "func \(method.swiftName)(requests: RPCRequestStream<\(method.input)>, responses: RPCResponseWriter<\(method.output)>, context: ServerContext) async throws")
                }
            }
        }
    }

    private func writeRegistration(_ method: Method, to out: inout CodeWriter) {
        let head = ".\(method.kind)(\(swiftName).Method.\(method.swiftName), \(method.input).self, \(method.output).self)"
        switch method.kind {
        case "unary":
            out.line("\(head) { [self] in try await \(method.swiftName)(request: $0, context: $1) },")
        case "clientStreaming":
            out.line("\(head) { [self] in try await \(method.swiftName)(requests: $0, context: $1) },")
        case "serverStreaming":
            out.line("\(head) { [self] in try await \(method.swiftName)(request: $0, responses: $1, context: $2) },")
        default:
            out.line("\(head) { [self] in try await \(method.swiftName)(requests: $0, responses: $1, context: $2) },")
        }
    }

    private func writeClient(_ methods: [Method], to out: inout CodeWriter) {
        out.line("/// Calls \(service.fullName) over a channel (or any RPCClientTransport).")
        out.block("public struct Client: Sendable {") { out in
            out.line("public let transport: any RPCClientTransport")
            out.line()
            out.line("public init(_ transport: any RPCClientTransport) { self.transport = transport }")
            for method in methods {
                out.line()
                out.docComment(method.comment)
                let common = "metadata: Metadata = [:], options: CallOptions = CallOptions()"
                let descriptor = "\(swiftName).Method.\(method.swiftName)"
                switch method.kind {
                case "unary":
                    out.block(
                        "public func \(method.swiftName)(_ request: \(method.input), \(common)) async throws(RPCError) -> \(method.output) {"
                    ) { out in
                        out.line("try await transport.unary(\(descriptor), request, metadata: metadata, options: options)")
                    }
                case "clientStreaming":
                    out.block(
                        "public func \(method.swiftName)(\(common), _ body: (RPCRequestWriter<\(method.input)>) async throws -> Void) async throws -> ClientResponse<\(method.output)> {"
                    ) { out in
                        out.line("try await transport.clientStreaming(\(descriptor), metadata: metadata, options: options, body)")
                    }
                case "serverStreaming":
                    out.block(
                        "public func \(method.swiftName)<Result: Sendable>(_ request: \(method.input), \(common), _ body: (RPCResponseStream<\(method.output)>) async throws -> Result) async throws -> Result {"
                    ) { out in
                        out.line("try await transport.serverStreaming(\(descriptor), request, metadata: metadata, options: options, body)")
                    }
                default:
                    out.block(
                        "public func \(method.swiftName)<Result: Sendable>(\(common), _ body: (RPCRequestWriter<\(method.input)>, RPCResponseStream<\(method.output)>) async throws -> Result) async throws -> Result {"
                    ) { out in
                        out.line("try await transport.bidirectionalStreaming(\(descriptor), metadata: metadata, options: options, body)")
                    }
                }
            }
        }
    }
}
