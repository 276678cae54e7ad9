public import ServiceStubs

/// The standard interop cases (grpc/grpc doc/interop-test-descriptions.md), run by `tradewire interop client`
/// against any server implementing grpc.testing.TestService.
public enum InteropTestCase: String, CaseIterable, Sendable {
    case emptyUnary = "empty_unary"
    case largeUnary = "large_unary"
    case clientStreaming = "client_streaming"
    case serverStreaming = "server_streaming"
    case pingPong = "ping_pong"
    case emptyStream = "empty_stream"
    case timeoutOnSleepingServer = "timeout_on_sleeping_server"
    case cancelAfterBegin = "cancel_after_begin"
    case cancelAfterFirstResponse = "cancel_after_first_response"
    case statusCodeAndMessage = "status_code_and_message"
    case specialStatusMessage = "special_status_message"
    case unimplementedMethod = "unimplemented_method"
    case unimplementedService = "unimplemented_service"
    case customMetadata = "custom_metadata"
}

/// A case failed: what was expected and what happened.
public struct InteropFailure: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Runs interop cases over a transport (a channel to the server under test).
public struct InteropClient: Sendable {
    let transport: any RPCClientTransport
    let client: Grpc_Testing_TestService.Client

    public init(transport: any RPCClientTransport) {
        self.transport = transport
        client = Grpc_Testing_TestService.Client(transport)
    }

    public func run(_ testCase: InteropTestCase) async throws {
        switch testCase {
        case .emptyUnary: try await emptyUnary()
        case .largeUnary: try await largeUnary()
        case .clientStreaming: try await clientStreaming()
        case .serverStreaming: try await serverStreaming()
        case .pingPong: try await pingPong()
        case .emptyStream: try await emptyStream()
        case .timeoutOnSleepingServer: try await timeoutOnSleepingServer()
        case .cancelAfterBegin: try await cancelAfterBegin()
        case .cancelAfterFirstResponse: try await cancelAfterFirstResponse()
        case .statusCodeAndMessage: try await statusCodeAndMessage()
        case .specialStatusMessage: try await specialStatusMessage()
        case .unimplementedMethod: try await unimplementedMethod()
        case .unimplementedService: try await unimplementedService()
        case .customMetadata: try await customMetadata()
        }
    }

    static func payload(_ size: Int) -> Grpc_Testing_Payload {
        Grpc_Testing_Payload(type: .compressable, body: [UInt8](repeating: 0, count: size))
    }

    static func streamingRequest(respond size: Int32, payload: Int) -> Grpc_Testing_StreamingOutputCallRequest {
        Grpc_Testing_StreamingOutputCallRequest(responseParameters: [.init(size: size)], payload: Self.payload(payload))
    }

    func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        if !condition { throw InteropFailure(message()) }
    }

    /// Runs `body`, which must fail with `code`; returns the status.
    @discardableResult
    func expectStatus(_ code: RPCError.Code, _ body: () async throws -> Void) async throws -> RPCError {
        do {
            try await body()
        } catch let error as RPCError {
            try expect(error.code == code, "expected status \(code), got \(error)")
            return error
        }
        throw InteropFailure("expected status \(code), but the call succeeded")
    }
}
