import ServiceStubs
import Synchronization
import Testing
import Transport

@Suite struct LimitsTests {
    @Test func messagesOverFourMebibytesAreRefusedBeforeBuffering() async throws {
        try await TestServer.with { test in
            let limit = 4 << 20
            // The payload's own framing adds a few bytes: stay just under, then go just over.
            let fits = Grpc_Testing_SimpleRequest(payload: .init(body: [UInt8](repeating: 1, count: limit - 16)))
            _ = try await test.client.unaryCall(fits)
            let over = Grpc_Testing_SimpleRequest(payload: .init(body: [UInt8](repeating: 1, count: limit + 1)))
            let error = await #expect(throws: RPCError.self) { _ = try await test.client.unaryCall(over) }
            #expect(error?.code == .resourceExhausted)
            #expect(error?.message.contains("exceeds the limit of 4194304") == true)
            // The connection survives for the next call.
            _ = try await test.client.emptyCall(Grpc_Testing_Empty())
        }
    }

    /// A response the transport cannot send as asked still ends the call at once: a status too big for trailers is
    /// cut (its code kept, the message saying so), and headers nghttp2 cannot encode reset the stream (INTERNAL)
    /// instead of leaving the client waiting for its deadline.
    @Test func responsesTooBigForHeadersEndTheCallAtOnce() async throws {
        try await TestServer.with { test in
            // Waiting for the deadline would end either call DEADLINE_EXCEEDED: the codes show neither waited.
            let options = CallOptions(timeout: .seconds(20))
            let status = await #expect(throws: RPCError.self) {
                _ = try await test.client.unaryCall(Grpc_Testing_SimpleRequest(), metadata: ["x-control": "huge-status"], options: options)
            }
            #expect(status?.code == .invalidArgument && (status?.message.utf8.count ?? .max) < 1100 && status?.message.contains("cut") == true,
                    "\(String(describing: status?.message.prefix(100)))")
            let headers = await #expect(throws: RPCError.self) {
                _ = try await test.client.unaryCall(Grpc_Testing_SimpleRequest(), metadata: ["x-control": "huge-headers"], options: options)
            }
            #expect(headers?.code == .internal, "\(String(describing: headers))")
            _ = try await test.client.emptyCall(Grpc_Testing_Empty())  // the connection is fine
        }
    }

    @Test func aWriterFasterThanItsReaderWaitsInsteadOfBuffering() async throws {
        try await TestServer.with { test in
            // The client reads one response, then stops reading while the handler keeps writing 16 KiB messages.
            let task = Task {
                try await test.client.streamingOutputCall(Grpc_Testing_StreamingOutputCallRequest(), metadata: ["x-control": "flood"]) {
                    responses in
                    var iterator = responses.makeAsyncIterator()
                    _ = try await iterator.next()
                    try await Task.sleep(for: .seconds(30))
                }
            }
            // Writes stop once flow-control windows and bounded buffers are full: about 5 MiB of 16 KiB messages
            // (stream and connection windows, one output buffer, one stream watermark), never growing.
            let written = { test.control.observed.withLock { $0.written } }
            let stalled = try #require(await settled(written), "still changing after 30 s, at \(written())")
            #expect(stalled > 0 && stalled < 400)
            task.cancel()
            _ = await task.result
            #expect(await test.control.waitFor { $0.finished == 1 })
        }
    }

    @Test func aHandlerThatDoesNotReadStopsTheClient() async throws {
        try await TestServer.with { test in
            let sent = Mutex(0)
            let task = Task {
                _ = try await test.client.streamingInputCall(metadata: ["x-control": "ignore-requests"]) { requests in
                    let message = Grpc_Testing_StreamingInputCallRequest(payload: .init(body: [UInt8](repeating: 1, count: 16_384)))
                    while true {
                        try await requests.write(message)
                        sent.withLock { $0 += 1 }
                    }
                }
            }
            // Windows (1 MiB stream, 4 MiB connection) and the unread-message bound (1 MiB) stop it well below 1000.
            let stalled = try #require(await settled { sent.withLock { $0 } }, "still changing after 30 s, at \(sent.withLock { $0 })")
            #expect(stalled > 0 && stalled < 1000)
            task.cancel()
            _ = await task.result
        }
    }
}

