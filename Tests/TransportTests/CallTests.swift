import EventLoop
import GRPCServices
import ServiceStubs
import Testing
import Transport

@Suite struct CallTests {
    @Test(arguments: InteropTestCase.allCases)
    func everyInteropCasePassesInProcess(_ testCase: InteropTestCase) async throws {
        try await TestServer.with { test in try await InteropClient(transport: test.channel).run(testCase) }
    }

    @Test func serversListenOnIPv6AndReportTheBoundPort() async throws {
        let server = try Server(
            services: [InteropTestService()],
            configuration: ServerConfiguration(addresses: [SocketAddress(host: "::1", port: 0)!]))
        let address = try await server.start()[0]
        #expect(address.port > 0)
        #expect(address.host == "::1")
        let channel = try Channel(addresses: [address])
        _ = try await Grpc_Testing_TestService.Client(channel).emptyCall(Grpc_Testing_Empty())
        await channel.shutdown()
        await server.shutdown()
    }

    @Test func asciiAndBinaryMetadataTravelBothWays() async throws {
        try await TestServer.with { test in
            var metadata = Metadata()
            metadata.add("x-grpc-test-echo-initial", "value with spaces")
            metadata.add("x-grpc-test-echo-trailing-bin", binary: [0, 1, 2, 0xff, 0xfe])
            let response = try await test.channel.unaryWithMetadata(
                Grpc_Testing_TestService.Method.unaryCall, Grpc_Testing_SimpleRequest(responseSize: 1),
                responseType: Grpc_Testing_SimpleResponse.self, metadata: metadata)
            #expect(response.initialMetadata["x-grpc-test-echo-initial"] == "value with spaces")
            #expect(response.trailingMetadata.binary("x-grpc-test-echo-trailing-bin") == [0, 1, 2, 0xff, 0xfe])
        }
    }

    @Test func statusDetailsAndPercentEncodedMessagesArrive() async throws {
        try await TestServer.with { test in
            let message = "50% done ☺ \r\n"
            let error = await #expect(throws: RPCError.self) {
                _ = try await test.client.unaryCall(Grpc_Testing_SimpleRequest(responseStatus: .init(code: 9, message: message)))
            }
            #expect(error?.code == .failedPrecondition)
            #expect(error?.message == message)
        }
    }

    @Test func gzipCompressedRequestsAndResponses() async throws {
        try await TestServer.with { test in
            let request = Grpc_Testing_SimpleRequest(
                responseSize: 100_000, payload: .init(body: [UInt8](repeating: 7, count: 100_000)),
                responseCompressed: .init(value: true))
            let response = try await test.client.unaryCall(request, options: CallOptions(compression: .gzip))
            #expect(response.payload?.body.count == 100_000)
        }
    }

    @Test func unknownMethodsAndServicesAreUnimplementedWithAUsefulMessage() async throws {
        try await TestServer.with { test in
            let method = await #expect(throws: RPCError.self) {
                _ = try await test.client.unimplementedCall(Grpc_Testing_Empty())
            }
            #expect(method?.code == .unimplemented)
            let service = await #expect(throws: RPCError.self) {
                _ = try await test.channel.unary(
                    MethodDescriptor(service: "no.such.Service", method: "Call"), Grpc_Testing_Empty(),
                    responseType: Grpc_Testing_Empty.self)
            }
            #expect(service?.code == .unimplemented)
            #expect(service?.message.contains("unknown service \"no.such.Service\"") == true)
        }
    }

    @Test func healthChecksAndWatches() async throws {
        let health = HealthService(services: ["grpc.testing.TestService"])
        let server = try Server(services: [health], configuration: .loopback())
        let channel = try Channel(addresses: try await server.start())
        let client = Grpc_Health_V1_Health.Client(channel)
        #expect(try await client.check(.init(service: "grpc.testing.TestService")).status == .serving)
        let unknown = await #expect(throws: RPCError.self) { _ = try await client.check(.init(service: "nope")) }
        #expect(unknown?.code == .notFound)
        let statuses = try await client.watch(.init(service: "grpc.testing.TestService")) { responses in
            var seen: [Grpc_Health_V1_HealthCheckResponse.ServingStatus] = []
            for try await response in responses {
                seen.append(response.status)
                if seen.count == 1 { health.setStatus(.notServing, for: "grpc.testing.TestService") }
                if seen.count == 2 { break }
            }
            return seen
        }
        #expect(statuses == [.serving, .notServing])
        await channel.shutdown()
        await server.shutdown()
    }
}
