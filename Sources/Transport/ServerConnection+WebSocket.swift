import EventLoop
import HTTP1

/// A WebSocket on an HTTP/1.1 connection whose request was upgraded (``HTTP1Responder/upgradeToWebSocket(maxMessageBytes:)``):
/// client frames parsed as they arrive, pings answered, messages queued for the handler — reads pause while more
/// than ``WebSocketSession/queueBound`` wait — and the handler's messages sent with the connection's backpressure.
/// Loop thread only, except the session's public methods, which hop to the loop.
extension ServerConnection {
    /// Bytes for the upgraded connection.
    func receiveWebSocket(_ bytes: UnsafeRawBufferPointer, _ session: WebSocketSession) {
        session.parser.append(bytes)
        session.parse()
    }
}

/// One accepted WebSocket: ``receive()`` the client's messages, ``send(text:)`` yours, ``close(code:reason:)``.
public final class WebSocketSession: @unchecked Sendable {
    // @unchecked Sendable: the state below is touched on the connection's loop only.
    public enum Message: Sendable, Equatable {
        case text(String)
        case binary([UInt8])
    }

    /// Client messages waiting for ``receive()`` past which reads pause.
    public static let queueBound = 16

    private let loop: EventLoop
    private weak var connection: ServerConnection?
    var parser: WebSocketParser
    private var queue: [Message] = []
    private var receiver: CheckedContinuation<Message?, Never>?
    /// Senders waiting for the output to drain, in the order they came (every subscription of a socket may be
    /// one).
    private var senders: [CheckedContinuation<Bool, Never>] = []
    private(set) var closed = false
    private var readsPaused = false

    init(connection: ServerConnection, maxMessageBytes: Int) {
        loop = connection.loop
        self.connection = connection
        parser = WebSocketParser(maxMessageBytes: maxMessageBytes)
    }

    private func onLoop(_ body: @escaping @Sendable () -> Void) {
        if loop.inEventLoop { body() } else { loop.execute(body) }
    }

    /// The client's next message; nil once the WebSocket is closed (by either side, or the connection).
    public func receive() async -> Message? {
        await withCheckedContinuation { (continuation: CheckedContinuation<Message?, Never>) in
            onLoop { [self] in
                if !queue.isEmpty {
                    continuation.resume(returning: queue.removeFirst())
                    if readsPaused && queue.count < Self.queueBound / 2 {
                        readsPaused = false
                        connection?.resumeReading()
                    }
                } else if closed {
                    continuation.resume(returning: nil)
                } else {
                    receiver = continuation
                }
            }
        }
    }

    /// Sends a text message, waiting while the connection has more than its output limit unsent; false once
    /// the WebSocket is closed (stop producing).
    public func send(text: String) async -> Bool {
        await send(WebSocket.frame(.text, Array(text.utf8)))
    }

    private func send(_ frame: [UInt8]) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            onLoop { [self] in
                guard !closed, let connection, !connection.closed else { return continuation.resume(returning: false) }
                connection.output.append { $0 += frame }
                connection.requestFlush()
                if senders.isEmpty && connection.output.unsent < connection.configuration.connectionOutputLimit {
                    continuation.resume(returning: true)
                } else {
                    senders.append(continuation)
                }
            }
        }
    }

    /// Sends a close frame and closes the connection once it is out. Later sends return false.
    public func close(code: UInt16 = 1000, reason: String = "") {
        onLoop { [self] in
            guard !closed, let connection else { return }
            connection.output.append { $0 += WebSocket.closeFrame(code, reason: reason) }
            connection.closeWhenFlushed()
            end()
        }
    }

    // MARK: - The connection's side

    /// Delivers what the parser has whole. Loop thread.
    func parse() {
        guard let connection else { return }
        while !closed {
            let event: WebSocketParser.Event?
            do {
                event = try parser.next()
            } catch {
                close(code: error.code, reason: error.reason)
                return
            }
            switch event {
            case nil:
                return
            case .text(let text): deliver(.text(text))
            case .binary(let bytes): deliver(.binary(bytes))
            case .ping(let payload):
                connection.output.append { $0 += WebSocket.frame(.pong, payload) }
                connection.requestFlush()
            case .pong:
                break
            case .close(let code):
                // Echo the code (1005 means none was given: answer 1000).
                close(code: code == 1005 ? 1000 : code, reason: "")
            }
        }
    }

    private func deliver(_ message: Message) {
        if let receiver {
            self.receiver = nil
            receiver.resume(returning: message)
            return
        }
        queue.append(message)
        if queue.count >= Self.queueBound && !readsPaused {
            readsPaused = true
            connection?.pauseReading()
        }
    }

    /// The output drained: the waiting senders may go on.
    func outputDrained() {
        guard !senders.isEmpty, let connection, connection.output.unsent < connection.configuration.connectionOutputLimit else { return }
        let waiting = senders
        senders = []
        for sender in waiting { sender.resume(returning: true) }
    }

    /// No more messages either way: waiting callers are told.
    func end() {
        guard !closed else { return }
        closed = true
        receiver?.resume(returning: nil)
        receiver = nil
        let waiting = senders
        senders = []
        for sender in waiting { sender.resume(returning: false) }
    }
}
