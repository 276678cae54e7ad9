import EventLoop
import GRPCServices
import RPC
import ServiceStubs
import Synchronization
import Testing
import Transport

/// The call layer (`ClientCall` and `ServerCall`, the code every TCP connection runs) over an in-memory stream:
/// no sockets, and time that moves only when the test advances it. Deadlines, cancellation, backpressure,
/// metadata, trailers and status mapping are checked here without waiting for a clock.
@Suite(.timeLimit(.minutes(1)))
struct InMemoryCallTests {
    struct Fixture {
        let transport: InMemoryTransport
        let control: ControlService
        let clock: ManualClock
        var client: Grpc_Testing_TestService.Client { Grpc_Testing_TestService.Client(transport) }
    }

    static func with(
        flow: InMemoryFlowControl = InMemoryFlowControl(), limits: ServerCallLimits = ServerCallLimits(),
        admission: CallAdmission? = nil, _ body: (Fixture) async throws -> Void
    ) async throws {
        let loop = try EventLoop(name: "in-memory")
        defer { loop.shutdown() }
        let clock = ManualClock()
        let control = ControlService()
        let transport = InMemoryTransport(
            services: [control], context: InMemoryContext(loop: loop, clock: clock), limits: limits, flow: flow, admission: admission)
        try await body(Fixture(transport: transport, control: control, clock: clock))
    }

    @Test func aUnaryCallCarriesMetadataBothWaysAndClosesItsStream() async throws {
        try await Self.with { test in
            let response = try await test.transport.unaryWithMetadata(
                Grpc_Testing_TestService.Method.unaryCall, Grpc_Testing_SimpleRequest(responseSize: 3),
                responseType: Grpc_Testing_SimpleResponse.self,
                metadata: ["x-grpc-test-echo-initial": "first", "x-grpc-test-echo-trailing-bin": .binary([0, 1, 0xff])])
            #expect(response.message.payload?.body.count == 3)
            #expect(response.initialMetadata["x-grpc-test-echo-initial"] == "first")
            #expect(response.trailingMetadata.binary("x-grpc-test-echo-trailing-bin") == [0, 1, 0xff])
            #expect(await waitUntil { test.transport.openStreams == 0 })
        }
    }

    @Test func aHandlersErrorReachesTheClientWithItsCodeMessageAndDetails() async throws {
        try await Self.with { test in
            var request = Grpc_Testing_SimpleRequest()
            request.responseStatus = Grpc_Testing_EchoStatus(code: 9, message: "not now: ünïcode % and\nnewline")
            let error = await #expect(throws: RPCError.self) { _ = try await test.client.unaryCall(request) }
            #expect(error?.code == .failedPrecondition)
            #expect(error?.message == "not now: ünïcode % and\nnewline")
            // An error longer than a peer accepts in trailers is cut, and says so.
            let huge = await #expect(throws: RPCError.self) {
                _ = try await test.client.unaryCall(Grpc_Testing_SimpleRequest(), metadata: ["x-control": "huge-status"])
            }
            #expect(huge?.code == .invalidArgument && huge?.message.contains("bytes, cut") == true, "\(String(describing: huge))")
        }
    }

    @Test func unknownMethodsAndServicesAreUnimplementedAndAdmissionCanRefuse() async throws {
        try await Self.with(admission: { method, metadata in
            metadata["authorization"] == "Bearer yes" || method.method == "EmptyCall"
                ? nil : RPCError(code: .unauthenticated, message: "no key")
        }) { test in
            let unknown = await #expect(throws: RPCError.self) {
                _ = try await test.transport.unary(
                    MethodDescriptor(service: "nope.Service", method: "Call"), Grpc_Testing_Empty(), responseType: Grpc_Testing_Empty.self)
            }
            #expect(unknown?.code == .unimplemented && unknown?.message.contains("unknown service") == true)
            let refused = await #expect(throws: RPCError.self) { _ = try await test.client.unaryCall(Grpc_Testing_SimpleRequest()) }
            #expect(refused?.code == .unauthenticated && refused?.message == "no key")
            _ = try await test.client.unaryCall(Grpc_Testing_SimpleRequest(), metadata: ["authorization": "Bearer yes"])
            _ = try await test.client.emptyCall(Grpc_Testing_Empty())
        }
    }

    /// The client's deadline travels as grpc-timeout: when the (manual) clock passes it, the client gets
    /// DEADLINE_EXCEEDED and the handler is cancelled — and not a moment before.
    @Test func aDeadlineEndsTheCallOnBothSidesWhenTheClockPassesIt() async throws {
        try await Self.with { test in
            let call = Task {
                try await test.client.unaryCall(
                    Grpc_Testing_SimpleRequest(), metadata: ["x-control": "sleep"], options: CallOptions(timeout: .seconds(2)))
            }
            #expect(await waitUntil { test.control.observed.withLock { $0.remainingAtStart.count } == 1 })
            // The handler saw the whole budget: no time passed on this clock.
            #expect(test.control.observed.withLock { $0.remainingAtStart } == [2_000_000_000])
            await test.clock.advance(by: .milliseconds(1_999))
            _ = try await test.client.emptyCall(Grpc_Testing_Empty())  // a round trip: the loop has caught up
            #expect(test.control.observed.withLock { $0.cancelled } == 0 && test.transport.openStreams == 1)
            await test.clock.advance(by: .milliseconds(1))
            let error = await #expect(throws: RPCError.self) { _ = try await call.value }
            #expect(error?.code == .deadlineExceeded)
            #expect(await test.control.waitFor { $0.cancelled == 1 })
            #expect(await waitUntil { test.transport.openStreams == 0 })
            #expect(test.clock.pendingTimers == 0, "both deadline timers fired or were cancelled")
        }
    }

    @Test func aCancelledClientCallCancelsItsHandler() async throws {
        try await Self.with { test in
            let call = Task {
                try await test.client.unaryCall(Grpc_Testing_SimpleRequest(), metadata: ["x-control": "sleep"])
            }
            #expect(await waitUntil { test.control.observed.withLock { $0.remainingAtStart.count } == 1 })
            call.cancel()
            let error = await #expect(throws: RPCError.self) { _ = try await call.value }
            #expect(error?.code == .cancelled)
            #expect(await test.control.waitFor { $0.cancelled == 1 })
            #expect(await waitUntil { test.transport.openStreams == 0 })
        }
    }

    /// A client that stops reading stops the handler: its writes wait once the window (64 KiB) and the queue
    /// behind it (past the watermark) are full, and it is cancelled, not stuck, when the client goes.
    @Test func aHandlerWritingFasterThanItsClientReadsWaits() async throws {
        try await Self.with(flow: InMemoryFlowControl(window: 65_536, highWatermark: 32_768)) { test in
            let reading = Task {
                try await test.client.streamingOutputCall(Grpc_Testing_StreamingOutputCallRequest(), metadata: ["x-control": "flood"]) {
                    responses in
                    var iterator = responses.makeAsyncIterator()
                    _ = try await iterator.next()
                    try await Task.sleep(for: .seconds(60))
                }
            }
            let written = { test.control.observed.withLock { $0.written } }
            #expect(await waitUntil { written() > 0 })
            let stalled = await settledValue(written)
            // 16 KiB messages: what the client took in (its window and the 1 MiB it queues unread before it stops
            // giving the window back) plus the server's queue up to the watermark; never more.
            #expect(stalled > 4 && stalled < (65_536 + (1 << 20) + 32_768) / 16_384 + 4, "\(stalled)")
            reading.cancel()
            _ = await reading.result
            #expect(await test.control.waitFor { $0.finished == 1 })
        }
    }

    /// A client stream into a handler that never reads stops at the handler's unread bound plus the window.
    @Test func aClientWritingIntoAHandlerThatDoesNotReadWaits() async throws {
        var limits = ServerCallLimits()
        limits.queuedRequestBytes = 100_000
        try await Self.with(flow: InMemoryFlowControl(window: 65_536, highWatermark: 32_768), limits: limits) { test in
            let sent = Mutex(0)
            let writing = Task {
                _ = try await test.client.streamingInputCall(metadata: ["x-control": "ignore-requests"]) { requests in
                    let message = Grpc_Testing_StreamingInputCallRequest(payload: .init(body: [UInt8](repeating: 1, count: 16_384)))
                    while true {
                        try await requests.write(message)
                        sent.withLock { $0 += 1 }
                    }
                }
            }
            let stalled = await settledValue { sent.withLock { $0 } }
            #expect(stalled > 4 && stalled < (65_536 + 100_000 + 32_768) / 16_384 + 4, "\(stalled)")
            writing.cancel()
            _ = await writing.result
        }
    }

    @Test func aRequestPastTheMessageLimitIsResourceExhausted() async throws {
        var limits = ServerCallLimits()
        limits.maxReceiveMessageSize = 1_000
        try await Self.with(limits: limits) { test in
            let error = await #expect(throws: RPCError.self) {
                _ = try await test.client.unaryCall(Grpc_Testing_SimpleRequest(payload: .init(body: [UInt8](repeating: 7, count: 2_000))))
            }
            #expect(error?.code == .resourceExhausted, "\(String(describing: error))")
            _ = try await test.client.unaryCall(Grpc_Testing_SimpleRequest(payload: .init(body: [UInt8](repeating: 7, count: 500))))
        }
    }

    @Test func bidirectionalMessagesAreAnsweredInOrderThenTheStatusIsOK() async throws {
        try await Self.with { test in
            let sizes = try await test.client.fullDuplexCall { requests, responses in
                var sizes: [Int] = []
                var iterator = responses.makeAsyncIterator()
                for size in [1, 70_000, 3] {
                    try await requests.write(Grpc_Testing_StreamingOutputCallRequest(responseParameters: [.init(size: Int32(size))]))
                    sizes.append(try await iterator.next()?.payload?.body.count ?? -1)
                }
                requests.finish()
                #expect(try await iterator.next() == nil)
                return sizes
            }
            #expect(sizes == [1, 70_000, 3])
            #expect(await waitUntil { test.transport.openStreams == 0 })
        }
    }
}

/// Polls `condition` (every millisecond, up to 10 s of real time): for what another thread does next.
private func waitUntil(_ condition: () -> Bool) async -> Bool {
    for _ in 0..<10_000 {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(1))
    }
    return condition()
}

/// `sample` once it has not changed for 100 ms (real time; nothing here waits on a wall clock but the test).
private func settledValue(_ sample: () -> Int) async -> Int {
    var last = sample()
    var stable = 0
    for _ in 0..<1_000 where stable < 10 {
        try? await Task.sleep(for: .milliseconds(10))
        let value = sample()
        stable = value == last ? stable + 1 : 0
        last = value
    }
    return last
}
