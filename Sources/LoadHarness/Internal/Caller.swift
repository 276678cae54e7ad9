import EventLoop
import RPC
import Transport

/// Makes the calls of a plan on a channel: requests framed once when they never change, metadata rendered per
/// call when it has placeholders.
struct Caller: Sendable {
    let method: MethodDescriptor
    let kind: RPCKind
    let options: CallOptions
    let streamMessages: Int
    let compression: CompressionAlgorithm
    private let fixedRequest: [UInt8]?
    private let generate: (@Sendable (Int) throws -> [UInt8])?
    private let mixed: (@Sendable (Int) throws -> (MethodDescriptor, [UInt8]))?
    private let fixedMetadata: Metadata?
    private let metadataTemplates: [(name: String, value: Template)]

    init(plan: LoadPlan) {
        method = plan.method
        kind = plan.kind
        compression = plan.compression
        var options = CallOptions(timeout: plan.kind == .bidirectionalStreaming ? nil : plan.timeout, compression: plan.compression)
        options.maxReceiveMessageSize = 64 << 20
        self.options = options
        streamMessages = plan.streamMessages
        switch plan.requests.storage {
        case .fixed(let bytes):
            fixedRequest = MessageFramer.frame(serialized: bytes, compression: plan.compression)
            generate = nil
            mixed = nil
        case .generated(let make):
            fixedRequest = nil
            generate = make
            mixed = nil
        case .mixed(let make):
            fixedRequest = nil
            generate = { try make($0).1 }
            mixed = make
        }
        metadataTemplates = plan.metadata
        if plan.metadata.allSatisfy(\.value.isConstant) {
            var metadata = Metadata()
            for (name, value) in plan.metadata { metadata.add(name, value.render(counter: 0)) }
            fixedMetadata = metadata
        } else {
            fixedMetadata = nil
        }
    }

    /// Whether requests or metadata need the request's number.
    var numbersRequests: Bool { fixedRequest == nil || fixedMetadata == nil }

    func request(_ number: Int) throws(RPCError) -> [UInt8] {
        if let fixedRequest { return fixedRequest }
        do {
            return MessageFramer.frame(serialized: try generate!(number), compression: compression)
        } catch {
            throw RPCError(code: .invalidArgument, message: "could not make request \(number): \(error)")
        }
    }

    func metadata(_ number: Int) -> Metadata {
        if let fixedMetadata { return fixedMetadata }
        var metadata = Metadata()
        for (name, value) in metadataTemplates { metadata.add(name, value.render(counter: number)) }
        return metadata
    }

    /// The method and framed request of a mixed source's request `number`.
    private func mixedCall(_ number: Int) throws(RPCError) -> (MethodDescriptor, [UInt8]) {
        do {
            let (method, bytes) = try mixed!(number)
            return (method, MessageFramer.frame(serialized: bytes, compression: compression))
        } catch {
            throw RPCError(code: .invalidArgument, message: "could not make request \(number): \(error)")
        }
    }

    /// One unary, client-streaming or server-streaming call, start to status.
    func call(on channel: Channel, number: Int) async -> (outcome: Outcome, sent: Int, received: Int) {
        let call: ClientCall
        var method = method
        var framed: [UInt8]?
        do throws(RPCError) {
            if mixed != nil { (method, framed) = try mixedCall(number) }
            call = try await channel.startCall(method: method, metadata: metadata(number), options: options)
        } catch {
            return (error.code == .deadlineExceeded ? .timeout : .transportError(error), 0, 0)
        }
        var sent = 0
        var received = 0
        // No task cancellation handler here (registering one on every call took the task's status lock): at the
        // end of a run, operations still in flight are ended by closing the channel.
        let outcome: Outcome
        do throws(RPCError) {
            let requests = kind == .clientStreaming ? max(1, streamMessages) : 1
            for index in 0..<requests {
                if let framed {
                    try await call.send(framed: framed)
                } else {
                    try await call.send(framed: request(requests == 1 ? number : number &* requests &+ index))
                }
                sent += 1
            }
            call.closeRequest()
            while try await call.receive() != nil { received += 1 }
            outcome = kind != .serverStreaming && received != 1
                ? .status(RPCError(code: .internal, message: "the server answered OK with \(received) response messages"))
                : .ok
        } catch {
            outcome = Self.outcome(error, source: call.statusSource)
        }
        return (outcome, sent, received)
    }

    /// Opens a bidi stream.
    func openStream(on channel: Channel, number: Int) async throws(RPCError) -> BidiStream {
        BidiStream(call: try await channel.startCall(method: method, metadata: metadata(number), options: options))
    }

    /// One request and its response on an open bidi stream.
    func roundTrip(on stream: BidiStream, number: Int) async -> Outcome {
        do throws(RPCError) {
            try await stream.call.send(framed: request(number))
            guard try await stream.call.receive() != nil else {
                return .status(RPCError(code: .internal, message: "the server ended the stream in the middle of a round trip"))
            }
            stream.exchanges += 1
            return .ok
        } catch {
            return Self.outcome(error, source: stream.call.statusSource)
        }
    }

    /// Whether a stream that completed a round trip should be closed (it has done its `streamMessages`).
    func isSpent(_ stream: BidiStream) -> Bool { streamMessages > 0 && stream.exchanges >= streamMessages }

    /// Ends a stream politely: closes the request side and reads to the status.
    func close(_ stream: BidiStream) async {
        stream.call.closeRequest()
        while (try? await stream.call.receive()) ?? nil != nil {}
    }

    static func outcome(_ error: RPCError, source: ClientCall.StatusSource) -> Outcome {
        switch source {
        case .server: .status(error)
        case .deadline: .timeout
        case .cancellation, .transport: .transportError(error)
        }
    }
}

/// An open bidi stream and the round trips it has done. Used by one worker at a time.
final class BidiStream: @unchecked Sendable {
    // @unchecked Sendable: handed from worker to worker through a lock, never used by two at once.
    let call: ClientCall
    var exchanges = 0

    init(call: ClientCall) {
        self.call = call
    }
}
