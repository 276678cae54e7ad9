import GRPCServices
import ServiceStubs
import Testing
import Transport

@Suite struct DeadlineAndCancellationTests {
    @Test func deadlinesReachTheHandlerAndCancelIt() async throws {
        try await TestServer.with { test in
            _ = try await test.client.emptyCall(.init())  // connect first: the deadline is for the handler
            let error = await #expect(throws: RPCError.self) {
                _ = try await test.client.unaryCall(
                    Grpc_Testing_SimpleRequest(), metadata: ["x-control": "sleep"],
                    options: CallOptions(timeout: .seconds(1)))
            }
            #expect(error?.code == .deadlineExceeded)
            #expect(await test.control.waitFor { $0.cancelled == 1 })
            let remaining = test.control.observed.withLock { $0.remainingAtStart.first ?? 0 }
            // The handler saw the time left: under what the client allowed, and most of it.
            #expect(remaining > 300_000_000 && remaining <= 1_000_000_000)
        }
    }

    @Test func aClientCancellationResetsTheStreamAndCancelsTheHandler() async throws {
        try await TestServer.with { test in
            let task = Task {
                try await test.client.fullDuplexCall(metadata: ["x-control": "sleep"]) { _, responses in
                    for try await _ in responses {}
                }
            }
            #expect(await test.control.waitFor { $0.remainingAtStart.count == 1 })
            task.cancel()
            let result = await task.result
            #expect((try? result.get()) == nil)
            #expect(await test.control.waitFor { $0.cancelled == 1 })
        }
    }

    /// Honest clients reset streams whenever they give up on a call — a deadline passed, the caller went away.
    /// Past nghttp2's default rapid-reset limit (1,000, then 33 a second) a loaded server lost whole connections
    /// this way, and every call on them: a processor cancelling its late risk checks did.
    @Test func manyCancelledCallsDoNotCostTheConnection() async throws {
        let connections = ChannelTests.OpenConnections()
        try await TestServer.with(configure: { $0.observer = connections }) { test in
            let survivor = Task {
                try await test.client.fullDuplexCall(metadata: ["x-control": "sleep"]) { _, responses in
                    for try await _ in responses {}
                }
            }
            #expect(await test.control.waitFor { $0.remainingAtStart.count == 1 })
            for round in 1...15 {
                let calls = (0..<100).map { _ in
                    Task {
                        try await test.client.fullDuplexCall(metadata: ["x-control": "sleep"]) { _, responses in
                            for try await _ in responses {}
                        }
                    }
                }
                #expect(await test.control.waitFor { $0.remainingAtStart.count == 1 + round * 100 })
                for call in calls { call.cancel() }
                for call in calls { _ = await call.result }
            }
            #expect(await test.control.waitFor { $0.cancelled == 1500 })
            _ = try await test.client.emptyCall(.init())
            // Every call went over the first connection: no GOAWAY sent the client to a second one, and the call
            // that was never cancelled still runs.
            #expect(connections.opened.load(ordering: .relaxed) == 1)
            #expect(test.control.observed.withLock { $0.cancelled } == 1500)
            survivor.cancel()
            _ = await survivor.result
            #expect(await test.control.waitFor { $0.cancelled == 1501 })
        }
    }

    @Test func aHandlerPassesItsDeadlineOnToTheCallsItMakes() async throws {
        try await TestServer.with { backend in
            let relay = try Server(services: [Relay(backend: backend.client)], configuration: .loopback())
            let channel = try Channel(addresses: try await relay.start())
            let client = Grpc_Testing_TestService.Client(channel)
            // Connections first, so that the deadline is spent in the handlers, not on connecting.
            _ = try await client.emptyCall(.init())
            _ = try await backend.client.emptyCall(.init())
            let error = await #expect(throws: RPCError.self) {
                // 3 s: the relay must reach the backend within it even while the rest of the suite loads both cores.
                _ = try await client.unaryCall(Grpc_Testing_SimpleRequest(), options: CallOptions(timeout: .seconds(3)))
            }
            #expect(error?.code == .deadlineExceeded)
            // The backend's handler got the relay's remaining time, not a fresh budget, and was cancelled.
            #expect(await backend.control.waitFor { $0.cancelled == 1 })
            let remaining = backend.control.observed.withLock { $0.remainingAtStart.first ?? .max }
            #expect(remaining < 3_000_000_000)
            await channel.shutdown()
            await relay.shutdown()
        }
    }
}

/// UnaryCall relayed to a backend with the caller's deadline; the other methods are the interop service's.
struct Relay: Grpc_Testing_TestService.ServiceProtocol {
    let backend: Grpc_Testing_TestService.Client
    let interop = InteropTestService()

    func unaryCall(request: Grpc_Testing_SimpleRequest, context: ServerContext) async throws -> Grpc_Testing_SimpleResponse {
        try await backend.unaryCall(request, metadata: ["x-control": "sleep"], options: CallOptions(deadline: context.deadline))
    }

    func emptyCall(request: Grpc_Testing_Empty, context: ServerContext) async throws -> Grpc_Testing_Empty {
        try await interop.emptyCall(request: request, context: context)
    }
    func cacheableUnaryCall(request: Grpc_Testing_SimpleRequest, context: ServerContext) async throws -> Grpc_Testing_SimpleResponse {
        try await interop.cacheableUnaryCall(request: request, context: context)
    }
    func streamingOutputCall(request: Grpc_Testing_StreamingOutputCallRequest, responses: RPCResponseWriter<Grpc_Testing_StreamingOutputCallResponse>, context: ServerContext) async throws {
        try await interop.streamingOutputCall(request: request, responses: responses, context: context)
    }
    func streamingInputCall(requests: RPCRequestStream<Grpc_Testing_StreamingInputCallRequest>, context: ServerContext) async throws -> Grpc_Testing_StreamingInputCallResponse {
        try await interop.streamingInputCall(requests: requests, context: context)
    }
    func fullDuplexCall(requests: RPCRequestStream<Grpc_Testing_StreamingOutputCallRequest>, responses: RPCResponseWriter<Grpc_Testing_StreamingOutputCallResponse>, context: ServerContext) async throws {
        try await interop.fullDuplexCall(requests: requests, responses: responses, context: context)
    }
    func halfDuplexCall(requests: RPCRequestStream<Grpc_Testing_StreamingOutputCallRequest>, responses: RPCResponseWriter<Grpc_Testing_StreamingOutputCallResponse>, context: ServerContext) async throws {
        try await interop.halfDuplexCall(requests: requests, responses: responses, context: context)
    }
    func unimplementedCall(request: Grpc_Testing_Empty, context: ServerContext) async throws -> Grpc_Testing_Empty {
        try await interop.unimplementedCall(request: request, context: context)
    }
}
