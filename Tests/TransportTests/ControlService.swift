import GRPCServices
import ServiceStubs
import Synchronization
import Transport

/// A request-driven test service (as grpc-swift's ControlService): behaviour chosen per call by the
/// `x-control` request metadata, with what handlers saw recorded for the test to check.
///
/// Behaviours: "sleep" (wait until cancelled, record the cancellation and the deadline it saw), "linger" (a
/// bidirectional call that takes 200 ms even when cancelled; counts how many run at once), "flood" (write
/// responses until the client stops reading; count them), "ignore-requests" (never read the request stream),
/// "huge-headers" (100 KB of response metadata, more than HTTP/2 can send), "huge-status" (an error whose message
/// and trailing metadata are 100 KB each), anything else: behave as the interop service.
final class ControlService: Grpc_Testing_TestService.ServiceProtocol {
    struct Observations {
        var cancelled = 0
        var remainingAtStart: [UInt64] = []
        var written = 0
        var finished = 0
        var calls = 0
        /// StreamingOutputCall and FullDuplexCall handlers started.
        var streamsStarted = 0
        /// `x-key` metadata of the calls served (ring-hash tests).
        var keys: [String] = []
        /// "linger" handlers running now, at most at once, and returned.
        var lingering = 0
        var mostLingering = 0
        var lingered = 0
    }

    let observed = Mutex(Observations())
    private let interop = InteropTestService()

    /// Counts the call, records its `x-key`, and answers with the server's `tag` in the trailers.
    func emptyCall(request: Grpc_Testing_Empty, context: ServerContext) async throws -> Grpc_Testing_Empty {
        observed.withLock {
            $0.calls += 1
            if let key = context.requestMetadata["x-key"] { $0.keys.append(key) }
        }
        context.trailingMetadata.add("x-served-by", tag)
        return try await interop.emptyCall(request: request, context: context)
    }

    let tag: String

    init(tag: String = "") { self.tag = tag }

    func unaryCall(request: Grpc_Testing_SimpleRequest, context: ServerContext) async throws -> Grpc_Testing_SimpleResponse {
        switch context.requestMetadata["x-control"] {
        case "sleep": try await sleepUntilCancelled(context)
        case "huge-headers": context.initialMetadata.add("x-huge", String(repeating: "h", count: 100_000))
        case "huge-status":
            context.trailingMetadata.add("x-huge", String(repeating: "t", count: 100_000))
            throw RPCError(code: .invalidArgument, message: String(repeating: "m", count: 100_000))
        default: break
        }
        return try await interop.unaryCall(request: request, context: context)
    }

    func cacheableUnaryCall(request: Grpc_Testing_SimpleRequest, context: ServerContext) async throws -> Grpc_Testing_SimpleResponse {
        try await interop.cacheableUnaryCall(request: request, context: context)
    }

    func streamingOutputCall(
        request: Grpc_Testing_StreamingOutputCallRequest,
        responses: RPCResponseWriter<Grpc_Testing_StreamingOutputCallResponse>, context: ServerContext
    ) async throws {
        observed.withLock { $0.streamsStarted += 1 }
        guard context.requestMetadata["x-control"] == "flood" else {
            return try await interop.streamingOutputCall(request: request, responses: responses, context: context)
        }
        let message = Grpc_Testing_StreamingOutputCallResponse(payload: .init(body: [UInt8](repeating: 1, count: 16_384)))
        defer { observed.withLock { $0.finished += 1 } }
        while !Task.isCancelled {
            try await responses.write(message)
            observed.withLock { $0.written += 1 }
        }
    }

    func streamingInputCall(
        requests: RPCRequestStream<Grpc_Testing_StreamingInputCallRequest>, context: ServerContext
    ) async throws -> Grpc_Testing_StreamingInputCallResponse {
        if context.requestMetadata["x-control"] == "ignore-requests" {
            try await sleepUntilCancelled(context)
        }
        return try await interop.streamingInputCall(requests: requests, context: context)
    }

    func fullDuplexCall(
        requests: RPCRequestStream<Grpc_Testing_StreamingOutputCallRequest>,
        responses: RPCResponseWriter<Grpc_Testing_StreamingOutputCallResponse>, context: ServerContext
    ) async throws {
        observed.withLock { $0.streamsStarted += 1 }
        switch context.requestMetadata["x-control"] {
        case "sleep": try await sleepUntilCancelled(context)
        case "linger": return await lingerPastCancellation()
        default: break
        }
        try await interop.fullDuplexCall(requests: requests, responses: responses, context: context)
    }

    func halfDuplexCall(
        requests: RPCRequestStream<Grpc_Testing_StreamingOutputCallRequest>,
        responses: RPCResponseWriter<Grpc_Testing_StreamingOutputCallResponse>, context: ServerContext
    ) async throws {
        try await interop.halfDuplexCall(requests: requests, responses: responses, context: context)
    }

    func unimplementedCall(request: Grpc_Testing_Empty, context: ServerContext) async throws -> Grpc_Testing_Empty {
        try await interop.unimplementedCall(request: request, context: context)
    }

    private func sleepUntilCancelled(_ context: ServerContext) async throws {
        observed.withLock { $0.remainingAtStart.append(context.remainingNanoseconds ?? .max) }
        do {
            try await Task.sleep(for: .seconds(30))
        } catch {
            observed.withLock { $0.cancelled += 1 }
            throw error
        }
    }

    /// A handler that takes 200 ms whether or not its call is cancelled (as one waiting on a slow disk would).
    private func lingerPastCancellation() async {
        observed.withLock {
            $0.lingering += 1
            $0.mostLingering = max($0.mostLingering, $0.lingering)
        }
        await Task.detached { try? await Task.sleep(for: .milliseconds(200)) }.value  // Detached: not cancelled.
        observed.withLock {
            $0.lingering -= 1
            $0.lingered += 1
        }
    }

    /// Polls until `condition` holds on the observations (up to 10 s): for state a handler sets after the
    /// client has already seen the outcome.
    func waitFor(_ condition: (Observations) -> Bool) async -> Bool {
        for _ in 0..<1000 {
            if observed.withLock({ condition($0) }) { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return false
    }
}

/// A server on 127.0.0.1 with a free port, and a channel to it; both stopped by `stop()`.
struct TestServer {
    let server: Server
    let channel: Channel
    let port: Int
    let control: ControlService

    static func start(
        configure: (inout ServerConfiguration) -> Void = { _ in }, channel: ChannelConfiguration = ChannelConfiguration()
    ) async throws -> TestServer {
        var configuration = ServerConfiguration.loopback()
        configuration.loops = 1
        configure(&configuration)
        let control = ControlService()
        let server = try Server(services: [control, HealthService(services: ["grpc.testing.TestService"])], configuration: configuration)
        let address = try await server.start()[0]
        let client = try Channel(addresses: [address], configuration: channel)
        return TestServer(server: server, channel: client, port: address.port, control: control)
    }

    /// Runs `body` with a started server, stopping it afterwards whatever happens.
    static func with<Result>(
        configure: (inout ServerConfiguration) -> Void = { _ in }, channel: ChannelConfiguration = ChannelConfiguration(),
        _ body: (TestServer) async throws -> Result
    ) async throws -> Result {
        let test = try await start(configure: configure, channel: channel)
        do {
            let result = try await body(test)
            await test.stop()
            return result
        } catch {
            await test.stop()
            throw error
        }
    }

    var client: Grpc_Testing_TestService.Client { Grpc_Testing_TestService.Client(channel) }

    func stop() async {
        await channel.shutdown()
        await server.shutdown()
    }
}

/// The value of `sample` once it has stopped changing for 300 ms (checked every 50 ms, for up to 30 s): how tests
/// see that flow control has stopped a writer without guessing how long that takes on a loaded machine (where a
/// starved writer can trickle on for seconds before the windows are full).
func settled(_ sample: () -> Int) async -> Int? {
    var last = sample()
    var stableSince = ContinuousClock.now
    let end = ContinuousClock.now + .seconds(30)
    while ContinuousClock.now < end {
        try? await Task.sleep(for: .milliseconds(50))
        let value = sample()
        if value != last {
            last = value
            stableSince = ContinuousClock.now
        } else if value > 0 && ContinuousClock.now - stableSince >= .milliseconds(300) {
            return value
        }
    }
    return nil
}
