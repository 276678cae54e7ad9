public import ProtoCodec

/// gRPC's rich error model: a google.rpc.Status with typed details (BadRequest, RetryInfo…) travels in the
/// `grpc-status-details-bin` trailer beside the code and message.
extension RPCError {
    /// An error whose details are `details`, each packed as a google.protobuf.Any.
    public static func withDetails(code: Code, message: String, _ details: any ProtoMessage...) -> RPCError {
        RPCError(status: Google_Rpc_Status(
            code: Int32(code.rawValue), message: message,
            details: details.map { Google_Protobuf_Any(typeURL: "type.googleapis.com/" + type(of: $0).protoMessageName, value: $0.serializedBytes()) }))
    }

    /// The error a google.rpc.Status describes (details kept).
    public init(status: Google_Rpc_Status) {
        let code = Code(rawValue: Int(status.code)) ?? .unknown
        self.init(code: code, message: status.message, detailsBinary: status.details.isEmpty ? nil : status.serializedBytes())
    }

    /// The error as a google.rpc.Status (with its details).
    public var status: Google_Rpc_Status {
        if let detailsBinary, let status = try? Google_Rpc_Status(serializedBytes: detailsBinary) { return status }
        return Google_Rpc_Status(code: Int32(code.rawValue), message: message)
    }

    /// The first detail of type `Detail`, if the error carries one.
    public func detail<Detail: ProtoMessage>(_ type: Detail.Type) -> Detail? {
        let url = "type.googleapis.com/" + Detail.protoMessageName
        guard let any = status.details.first(where: { $0.typeURL == url }) else { return nil }
        return try? Detail(serializedBytes: any.value)
    }
}
