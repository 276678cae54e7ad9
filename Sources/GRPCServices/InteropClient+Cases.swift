import ServiceStubs

extension InteropClient {
    func emptyUnary() async throws {
        _ = try await client.emptyCall(Grpc_Testing_Empty())
    }

    func largeUnary() async throws {
        let response = try await client.unaryCall(
            Grpc_Testing_SimpleRequest(responseType: .compressable, responseSize: 314_159, payload: Self.payload(271_828)))
        try expect(response.payload?.body == [UInt8](repeating: 0, count: 314_159), "response payload is not 314159 zero bytes")
    }

    func clientStreaming() async throws {
        let response = try await client.streamingInputCall { requests in
            for size in [27_182, 8, 1828, 45_904] {
                try await requests.write(Grpc_Testing_StreamingInputCallRequest(payload: Self.payload(size)))
            }
        }
        try expect(response.message.aggregatedPayloadSize == 74_922, "aggregated size \(response.message.aggregatedPayloadSize), not 74922")
    }

    func serverStreaming() async throws {
        let sizes: [Int32] = [31_415, 9, 2653, 58_979]
        let request = Grpc_Testing_StreamingOutputCallRequest(
            responseType: .compressable, responseParameters: sizes.map { .init(size: $0) })
        let received = try await client.streamingOutputCall(request) { responses in
            var received: [Int] = []
            for try await response in responses { received.append(response.payload?.body.count ?? -1) }
            return received
        }
        try expect(received == sizes.map(Int.init), "response sizes \(received), not \(sizes)")
    }

    func pingPong() async throws {
        let steps: [(Int32, Int)] = [(31_415, 27_182), (9, 8), (2653, 1828), (58_979, 45_904)]
        try await client.fullDuplexCall { requests, responses in
            var iterator = responses.makeAsyncIterator()
            for (responseSize, payloadSize) in steps {
                try await requests.write(Self.streamingRequest(respond: responseSize, payload: payloadSize))
                let response = try await iterator.next()
                try expect(response?.payload?.body.count == Int(responseSize), "expected a \(responseSize)-byte response")
            }
            requests.finish()
            try expect(try await iterator.next() == nil, "the stream did not end after the last response")
        }
    }

    func emptyStream() async throws {
        try await client.fullDuplexCall { requests, responses in
            requests.finish()
            var count = 0
            for try await _ in responses { count += 1 }
            try expect(count == 0, "expected no responses, got \(count)")
        }
    }

    func timeoutOnSleepingServer() async throws {
        try await expectStatus(.deadlineExceeded) {
            try await client.fullDuplexCall(options: CallOptions(timeout: .milliseconds(1))) { requests, responses in
                try await requests.write(Grpc_Testing_StreamingOutputCallRequest(payload: Self.payload(27_182)))
                for try await _ in responses {}
            }
        }
    }

    func cancelAfterBegin() async throws {
        let call = try await transport.startCall(
            method: Grpc_Testing_TestService.Method.streamingInputCall, metadata: [:], options: CallOptions())
        call.cancel()
        let status = await call.finalStatus()
        try expect(status.code == .cancelled, "expected CANCELLED, got \(status)")
    }

    func cancelAfterFirstResponse() async throws {
        let call = try await transport.startCall(
            method: Grpc_Testing_TestService.Method.fullDuplexCall, metadata: [:], options: CallOptions())
        let request = Self.streamingRequest(respond: 31_415, payload: 27_182)
        try await call.send(request)
        let first = try await call.receive()
        try expect(first != nil, "no first response")
        call.cancel()
        let status = await call.finalStatus()
        try expect(status.code == .cancelled, "expected CANCELLED, got \(status)")
    }

    func statusCodeAndMessage() async throws {
        let echo = Grpc_Testing_EchoStatus(code: 2, message: "test status message")
        let unary = try await expectStatus(.unknown) {
            _ = try await client.unaryCall(Grpc_Testing_SimpleRequest(responseStatus: echo))
        }
        try expect(unary.message == "test status message", "unary status message \"\(unary.message)\"")
        let duplex = try await expectStatus(.unknown) {
            try await client.fullDuplexCall { requests, responses in
                try await requests.write(Grpc_Testing_StreamingOutputCallRequest(responseStatus: echo))
                requests.finish()
                for try await _ in responses {}
            }
        }
        try expect(duplex.message == "test status message", "full duplex status message \"\(duplex.message)\"")
    }

    func specialStatusMessage() async throws {
        let text = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n"
        let status = try await expectStatus(.unknown) {
            _ = try await client.unaryCall(Grpc_Testing_SimpleRequest(responseStatus: .init(code: 2, message: text)))
        }
        try expect(status.message == text, "status message \(status.message.debugDescription), not \(text.debugDescription)")
    }

    func unimplementedMethod() async throws {
        try await expectStatus(.unimplemented) { _ = try await client.unimplementedCall(Grpc_Testing_Empty()) }
    }

    func unimplementedService() async throws {
        let other = Grpc_Testing_UnimplementedService.Client(transport)
        try await expectStatus(.unimplemented) { _ = try await other.unimplementedCall(Grpc_Testing_Empty()) }
    }

    func customMetadata() async throws {
        var metadata = Metadata()
        metadata.add("x-grpc-test-echo-initial", "test_initial_metadata_value")
        metadata.add("x-grpc-test-echo-trailing-bin", binary: [0xab, 0xab, 0xab])
        let unary = try await transport.unaryWithMetadata(
            Grpc_Testing_TestService.Method.unaryCall,
            Grpc_Testing_SimpleRequest(responseSize: 314_159, payload: Self.payload(271_828)),
            responseType: Grpc_Testing_SimpleResponse.self, metadata: metadata)
        try checkEchoed(initial: unary.initialMetadata, trailing: unary.trailingMetadata, call: "UnaryCall")
        try await client.fullDuplexCall(metadata: metadata) { requests, responses in
            try await requests.write(Self.streamingRequest(respond: 314_159, payload: 271_828))
            requests.finish()
            for try await _ in responses {}
            let status = await responses.status
            try checkEchoed(initial: await responses.initialMetadata, trailing: status.metadata, call: "FullDuplexCall")
        }
    }

    private func checkEchoed(initial: Metadata, trailing: Metadata, call: String) throws {
        try expect(initial["x-grpc-test-echo-initial"] == "test_initial_metadata_value",
                   "\(call): initial metadata not echoed: \(initial)")
        try expect(trailing.binary("x-grpc-test-echo-trailing-bin") == [0xab, 0xab, 0xab],
                   "\(call): trailing metadata not echoed: \(trailing)")
    }
}
