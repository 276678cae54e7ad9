/// The status a call ends with: a gRPC code, a message for developers, and trailing metadata. Throw it from a
/// handler to end the call with that status; a client call throws it for any status but OK.
public struct RPCError: Error, Hashable, Sendable, CustomStringConvertible {
    public var code: Code
    public var message: String
    public var metadata: Metadata
    /// An encoded google.rpc.Status, sent and received as the `grpc-status-details-bin` trailer.
    public var detailsBinary: [UInt8]?

    public init(code: Code, message: String, metadata: Metadata = [:], detailsBinary: [UInt8]? = nil) {
        self.code = code
        self.message = message
        self.metadata = metadata
        self.detailsBinary = detailsBinary
    }

    public var description: String { "\(code): \(message)" }

    /// A gRPC status code. A struct over a private enum, so that a new code is not a breaking change to
    /// switches in user code (they need a default case).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: Int, CaseIterable {
            case ok = 0, cancelled, unknown, invalidArgument, deadlineExceeded, notFound, alreadyExists,
                permissionDenied, resourceExhausted, failedPrecondition, aborted, outOfRange, unimplemented,
                `internal`, unavailable, dataLoss, unauthenticated
        }

        private let wrapped: Wrapped

        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// The code for a `grpc-status` value; nil outside 0…16.
        public init?(rawValue: Int) {
            guard let wrapped = Wrapped(rawValue: rawValue) else { return nil }
            self.wrapped = wrapped
        }

        public var rawValue: Int { wrapped.rawValue }

        public static let ok = Code(.ok)
        public static let cancelled = Code(.cancelled)
        public static let unknown = Code(.unknown)
        public static let invalidArgument = Code(.invalidArgument)
        public static let deadlineExceeded = Code(.deadlineExceeded)
        public static let notFound = Code(.notFound)
        public static let alreadyExists = Code(.alreadyExists)
        public static let permissionDenied = Code(.permissionDenied)
        public static let resourceExhausted = Code(.resourceExhausted)
        public static let failedPrecondition = Code(.failedPrecondition)
        public static let aborted = Code(.aborted)
        public static let outOfRange = Code(.outOfRange)
        public static let unimplemented = Code(.unimplemented)
        public static let `internal` = Code(.internal)
        public static let unavailable = Code(.unavailable)
        public static let dataLoss = Code(.dataLoss)
        public static let unauthenticated = Code(.unauthenticated)

        public var description: String {
            let names = [
                "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
                "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
                "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
            ]
            return names[rawValue]
        }
    }
}

/// A domain error that knows the gRPC status it should end a call with. Any other error a handler throws
/// ends the call with UNKNOWN.
public protocol RPCErrorConvertible: Error {
    var rpcError: RPCError { get }
}

extension RPCError: RPCErrorConvertible {
    public var rpcError: RPCError { self }
}

extension RPCError {
    /// The status for any error a handler threw.
    public init(from error: any Error) {
        if let convertible = error as? RPCErrorConvertible {
            self = convertible.rpcError
        } else if error is CancellationError {
            self = RPCError(code: .cancelled, message: "the call was cancelled")
        } else {
            self = RPCError(code: .unknown, message: "handler error: \(error)")
        }
    }
}
