import EventLoop
import GRPCServices
import RPC
import ServiceStubs
import Synchronization
import TestSupport
import Testing
import Transport

#if canImport(Glibc)
import Glibc
#endif

@Suite struct ChannelTests {
    /// Runs `body` with an address that refuses connections: a port kept bound but not listening until `body`
    /// returns, so that no other test's server can take it meanwhile (a freed port once was, and a call meant to
    /// fail went through).
    static func withRefusingAddress<Result>(_ body: (SocketAddress) async throws -> Result) async throws -> Result {
        let (fd, port) = try Peers.boundSocket()
        defer { close(fd) }
        return try await body(SocketAddress(host: "127.0.0.1", port: port)!)
    }

    static func server(port: Int = 0, tag: String) async throws -> (Server, ControlService, SocketAddress) {
        let control = ControlService(tag: tag)
        let server = try Server(services: [control], configuration: .loopback(port: port))
        let address = try await server.start()[0]
        return (server, control, address)
    }

    static var fastBackoff: ChannelConfiguration {
        var configuration = ChannelConfiguration()
        configuration.backoff.initial = .milliseconds(20)
        configuration.backoff.maximum = .milliseconds(100)
        return configuration
    }

    @Test func callsFailFastWhenNothingListens() async throws {
        try await Self.withRefusingAddress { address in
            let channel = try Channel(addresses: [address])
            let client = Grpc_Testing_TestService.Client(channel)
            let error = await #expect(throws: RPCError.self) { _ = try await client.emptyCall(.init()) }
            #expect(error?.code == .unavailable)
            await channel.shutdown()
        }
    }

    @Test func waitForReadyWaitsForTheServerToStart() async throws {
        let port = try Peers.freePort()
        let channel = try Channel(addresses: [SocketAddress(host: "127.0.0.1", port: port)!], configuration: Self.fastBackoff)
        let client = Grpc_Testing_TestService.Client(channel)
        let call = Task {
            _ = try await client.emptyCall(.init(), options: CallOptions(timeout: .seconds(10), waitForReady: true))
            return ContinuousClock.now
        }
        try await Task.sleep(for: .milliseconds(200))
        let started = ContinuousClock.now
        let (server, _, _) = try await Self.server(port: port, tag: "late")
        let answered = try await call.value
        #expect(answered >= started, "the call was answered before any server listened")
        await channel.shutdown()
        await server.shutdown()
    }

    @Test func waitForReadyStillHonoursTheDeadline() async throws {
        try await Self.withRefusingAddress { address in
            let channel = try Channel(addresses: [address])
            let error = await #expect(throws: RPCError.self) {
                _ = try await Grpc_Testing_TestService.Client(channel).emptyCall(
                    .init(), options: CallOptions(timeout: .milliseconds(150), waitForReady: true))
            }
            #expect(error?.code == .deadlineExceeded)
            await channel.shutdown()
        }
    }

    @Test func theChannelReconnectsAfterTheServerRestarts() async throws {
        // A port that no other test's server can take while this one is down.
        var (server, _, address) = try await Self.server(port: try Socket.reservablePort(), tag: "first")
        let channel = try Channel(addresses: [address], configuration: Self.fastBackoff)
        let client = Grpc_Testing_TestService.Client(channel)
        _ = try await client.emptyCall(.init())
        await server.shutdown()
        (server, _, _) = try await Self.server(port: address.port, tag: "second")
        _ = try await client.emptyCall(.init(), options: CallOptions(timeout: .seconds(10), waitForReady: true))
        await channel.shutdown()
        await server.shutdown()
    }

    /// A channel released without a shutdown closes its connections; the server closing afterwards finds nothing
    /// of the channel to call back into.
    @Test func aChannelReleasedWithoutShutdownClosesItsConnections() async throws {
        let connections = OpenConnections()
        var configuration = ServerConfiguration.loopback()
        configuration.observer = connections
        let server = try Server(services: [ControlService()], configuration: configuration)
        let address = try await server.start()[0]
        var channel: Channel? = try Channel(addresses: [address])
        _ = try await Grpc_Testing_TestService.Client(channel!).emptyCall(.init())
        #expect(connections.open.load(ordering: .relaxed) == 1)
        channel = nil
        for _ in 0..<500 where connections.open.load(ordering: .relaxed) > 0 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(connections.open.load(ordering: .relaxed) == 0)
        await server.shutdown()
    }

    /// Counts a server's open connections, and those it ever opened.
    final class OpenConnections: ServerObserver {
        struct Calls: CallObserver {
            func started() {}
            func ended(_ code: RPCError.Code, nanoseconds: UInt64) {}
        }

        let open = Atomic<Int>(0)
        let opened = Atomic<Int>(0)
        func callObserver(for method: MethodDescriptor) -> any CallObserver { Calls() }
        func connectionOpened() {
            open.add(1, ordering: .relaxed)
            opened.add(1, ordering: .relaxed)
        }
        func connectionClosed() { open.subtract(1, ordering: .relaxed) }
    }

    @Test func pickFirstSkipsAnAddressThatRefuses() async throws {
        let (server, control, address) = try await Self.server(tag: "second")
        try await Self.withRefusingAddress { dead in
            let channel = try Channel(addresses: [dead, address], configuration: Self.fastBackoff)
            for _ in 0..<3 {
                _ = try await Grpc_Testing_TestService.Client(channel).emptyCall(
                    .init(), options: CallOptions(timeout: .seconds(10), waitForReady: true))
            }
            #expect(control.observed.withLock { $0.calls } == 3)
            await channel.shutdown()
        }
        await server.shutdown()
    }

    @Test func roundRobinSpreadsCallsOverEveryBackend() async throws {
        let backends = [try await Self.server(tag: "a"), try await Self.server(tag: "b"), try await Self.server(tag: "c")]
        let channel = try Channel(addresses: backends.map(\.2), configuration: ChannelConfiguration(loadBalancing: .roundRobin))
        let client = Grpc_Testing_TestService.Client(channel)
        _ = try await client.emptyCall(.init(), options: CallOptions(waitForReady: true))
        while Set(try await (0..<3).asyncMap { _ in try await Self.servedBy(client) }).count < 3 {
            try await Task.sleep(for: .milliseconds(10))  // until all three subchannels are ready
        }
        let before = backends.map { $0.1.observed.withLock { $0.calls } }
        for _ in 0..<30 { _ = try await client.emptyCall(.init()) }
        let shares = zip(backends, before).map { $0.0.1.observed.withLock { $0.calls } - $0.1 }
        #expect(shares == [10, 10, 10])
        await channel.shutdown()
        for backend in backends { await backend.0.shutdown() }
    }

    @Test func ringHashSendsEachKeyToOneBackend() async throws {
        let backends = [try await Self.server(tag: "a"), try await Self.server(tag: "b"), try await Self.server(tag: "c")]
        let channel = try Channel(addresses: backends.map(\.2), configuration: ChannelConfiguration(loadBalancing: .ringHash))
        let client = Grpc_Testing_TestService.Client(channel)
        let keys = (0..<30).map { "order-\($0)" }
        for _ in 0..<3 {
            for key in keys {
                _ = try await client.emptyCall(
                    .init(), metadata: ["x-key": .string(key)], options: CallOptions(waitForReady: true, hashKey: key))
            }
        }
        let seen = backends.map { Set($0.1.observed.withLock { $0.keys }) }
        for key in keys { #expect(seen.filter { $0.contains(key) }.count == 1, "\(key) went to more than one backend") }
        #expect(seen.filter { !$0.isEmpty }.count == 3)  // and the keys spread over all three
        await channel.shutdown()
        for backend in backends { await backend.0.shutdown() }
    }

    @Test func backoffGrowsBy1Point6WithJitterUpTo120Seconds() {
        let backoff = Backoff.grpc
        #expect(backoff.delay(attempt: 0, random: 0) == .seconds(1))
        #expect(backoff.delay(attempt: 1, random: 0) == .milliseconds(1600))
        #expect(backoff.delay(attempt: 2, random: 0) == .milliseconds(2560))
        #expect(backoff.delay(attempt: 0, random: 1) == .milliseconds(1200))
        #expect(backoff.delay(attempt: 0, random: -1) == .milliseconds(800))
        #expect(backoff.delay(attempt: 50, random: 0) == .seconds(120))
    }

    @Test func aBackoffCountsItsFailuresAndAMaximumBelowASecondHolds() {
        var backoff = Backoff.mesh
        #expect(backoff.next(random: 0) == .milliseconds(50))
        #expect(backoff.next(random: 0) == .milliseconds(80))
        #expect(backoff.failures == 2)
        for _ in 0..<20 { _ = backoff.next(random: 0) }
        // Sub-second maxima were once read as whole seconds (0): every retry went out at once.
        #expect(backoff.next(random: 0) == .milliseconds(500))
        #expect(backoff.next(random: 1) == .milliseconds(600))
        backoff.reset()
        #expect(backoff.next(random: 0) == .milliseconds(50))
    }

    static func servedBy(_ client: Grpc_Testing_TestService.Client) async throws -> String {
        let response = try await client.transport.unaryWithMetadata(
            Grpc_Testing_TestService.Method.emptyCall, Grpc_Testing_Empty(), responseType: Grpc_Testing_Empty.self)
        return response.trailingMetadata["x-served-by"] ?? ""
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
