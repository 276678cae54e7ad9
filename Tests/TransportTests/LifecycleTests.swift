import EventLoop
import HTTP2
import HTTP2TestSupport
import RPC
import ServiceStubs
import Testing
import Transport

@Suite struct LifecycleTests {
    @Test func gracefulShutdownLetsInFlightCallsFinish() async throws {
        try await TestServer.with { test in
            // A call that takes 300 ms (a server stream with a pause) is in flight when shutdown begins.
            let call = Task {
                try await test.client.streamingOutputCall(
                    Grpc_Testing_StreamingOutputCallRequest(responseParameters: [.init(size: 10, intervalUs: 300_000)])
                ) { responses in
                    var count = 0
                    for try await _ in responses { count += 1 }
                    return count
                }
            }
            #expect(await test.control.waitFor { $0.streamsStarted == 1 })
            // The grace is far longer than the call needs: it must finish by itself, even on a starved machine.
            test.server.beginGracefulShutdown(grace: .seconds(30))
            let responses = try await call.value
            #expect(responses == 1)
        }
    }

    @Test func shutdownGracefullyReturnsOnceTheCallsInFlightHaveFinished() async throws {
        try await TestServer.with { test in
            let began = ContinuousClock.now
            let call = Task {
                try await test.client.streamingOutputCall(
                    Grpc_Testing_StreamingOutputCallRequest(responseParameters: [.init(size: 10, intervalUs: 300_000)])
                ) { responses in
                    var count = 0
                    for try await _ in responses { count += 1 }
                    return count
                }
            }
            #expect(await test.control.waitFor { $0.streamsStarted == 1 })
            await test.server.shutdownGracefully(grace: .seconds(5))
            // The call's one response comes 300 ms after it started: returning earlier would have cut it short.
            #expect(ContinuousClock.now - began >= .milliseconds(300))
            let responses = try await call.value
            #expect(responses == 1)
        }
    }

    @Test func gracefulShutdownSendsGoAwayPingThenFinalGoAway() async throws {
        try await TestServer.with { test in
            let raw = try await RawClient(port: test.port)
            try await raw.startSession()
            // A call in flight that the client ends only once both GOAWAYs are in: it keeps the client's session
            // reading (nghttp2 ignores frames on a session that got a GOAWAY and has no stream open), however
            // slowly a loaded machine gets through the PING round trip.
            let stream = try raw.session!.submitRequest(
                headers: RawClient.grpcHeaders(path: "/grpc.testing.TestService/FullDuplexCall"), endStream: false)
            await raw.pump()
            #expect(await test.control.waitFor { $0.streamsStarted == 1 })  // the server has the call
            // The grace is far longer than the call needs: it must finish by itself, even on a starved machine.
            test.server.beginGracefulShutdown(grace: .seconds(30))
            #expect(await raw.pump(until: { raw.recorder.goAways.count >= 2 }, timeout: .seconds(20)))
            // First GOAWAY announces the shutdown (last stream 2^31-1); after the PING round trip the final one
            // names the last stream processed.
            #expect(raw.recorder.goAways.map(\.0) == [Int32.max, stream])
            #expect(raw.recorder.pings.contains { !$0.1 })
            // The call in flight still completes, and then the server closes the connection.
            raw.session!.finish(streamID: stream, trailers: nil)
            #expect(await raw.waitForClose(within: .seconds(20)))
            let trailers = raw.recorder.headers.last { $0.streamID == stream }
            #expect(trailers?.headers.first { $0.name == "grpc-status" }?.value == "0")
        }
    }

    @Test func idleConnectionsAreClosed() async throws {
        try await TestServer.with(configure: { $0.maxConnectionIdle = .milliseconds(100) }) { test in
            let raw = try await RawClient(port: test.port)
            try await raw.startSession()
            #expect(await raw.waitForClose(within: .seconds(3)))
            #expect(raw.recorder.goAways.first?.1 == .noError)
            try await LifecycleTests.stillServes(test)  // the channel reconnects
        }
    }

    @Test func connectionsPastTheirMaximumAgeAreClosed() async throws {
        try await TestServer.with(configure: {
            $0.maxConnectionAge = .milliseconds(150)
            $0.maxConnectionAgeGrace = .milliseconds(100)
        }) { test in
            let raw = try await RawClient(port: test.port)
            try await raw.startSession()
            #expect(await raw.waitForClose(within: .seconds(3)))
        }
    }

    @Test func theGracePeriodEndsCallsThatDoNotFinish() async throws {
        try await TestServer.with { test in
            let call = Task {
                try await test.client.unaryCall(Grpc_Testing_SimpleRequest(), metadata: ["x-control": "sleep"])
            }
            #expect(await test.control.waitFor { $0.remainingAtStart.count == 1 })
            test.server.beginGracefulShutdown(grace: .milliseconds(100))
            let result = await call.result
            #expect((try? result.get()) == nil)
            #expect(await test.control.waitFor { $0.cancelled == 1 })
        }
    }

    @Test func cancellingRunStopsTheServer() async throws {
        let server = try Server(services: [ControlService()], configuration: .loopback())
        let running = Task { try await server.run() }
        while server.listeningAddresses.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
        let address = server.listeningAddresses[0]
        let before = try Channel(addresses: [address])
        _ = try await Grpc_Testing_TestService.Client(before).emptyCall(.init())  // it serves
        running.cancel()
        try await running.value
        // The listener is gone: a new connection is refused.
        let after = try Channel(addresses: [address])
        let error = await #expect(throws: RPCError.self) { _ = try await Grpc_Testing_TestService.Client(after).emptyCall(.init()) }
        #expect(error?.code == .unavailable)
        await before.shutdown()
        await after.shutdown()
    }

    /// A client connection draining after the server's GOAWAY closes once its last call ends — here by the
    /// client's own RST_STREAM, so the stream closes while the session writes, and closing must not write again
    /// from inside that write (it once crashed with an exclusivity violation on the output buffer).
    @Test func aDrainingClientConnectionClosesWhenItsLastCallIsCancelled() async throws {
        try await TestServer.with { test in
            let call = Task {
                try await test.client.fullDuplexCall(metadata: ["x-control": "sleep"]) { _, responses in
                    for try await _ in responses {}
                }
            }
            #expect(await test.control.waitFor { $0.remainingAtStart.count == 1 })
            test.server.beginGracefulShutdown(grace: .seconds(10))
            // Once the client has read the GOAWAY, a new call needs a new connection, which the stopped listener
            // refuses.
            var refused = false
            for _ in 0..<500 where !refused {
                refused = (try? await test.client.emptyCall(Grpc_Testing_Empty())) == nil
                if !refused { try await Task.sleep(for: .milliseconds(10)) }
            }
            #expect(refused)
            call.cancel()
            #expect((try? await call.result.get()) == nil)
            #expect(await test.control.waitFor { $0.cancelled == 1 })
            await test.server.shutdown()
        }
    }

    /// A server released without a shutdown closes its listener and connections, and nothing it leaves running
    /// on its loops touches it after it is gone (a client closing afterwards once crashed a test run).
    @Test func aServerReleasedWithoutShutdownClosesEverything() async throws {
        // A port no other test's server gets by binding port 0, so that refusing it below means the listener closed.
        var server: Server? = try Server(services: [ControlService()], configuration: .loopback(port: try Socket.reservablePort()))
        let address = try await server!.start()[0]
        let channel = try Channel(addresses: [address])
        _ = try await Grpc_Testing_TestService.Client(channel).emptyCall(Grpc_Testing_Empty())
        let raw = try await RawClient(port: address.port)
        try await raw.startSession()
        server = nil
        #expect(await raw.waitForClose(within: .seconds(5)))
        await channel.shutdown()
        await #expect(throws: (any Error).self) { try await RawClient(port: address.port) }
    }

    static func stillServes(_ test: TestServer) async throws {
        _ = try await test.client.emptyCall(Grpc_Testing_Empty())
    }
}
