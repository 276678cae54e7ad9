import HTTP1
import Testing

/// RFC 6455 as values: the handshake's accept key, client frames (masked, fragmented, control) and what is refused.
struct WebSocketTests {
    /// A client frame: masked with `mask`.
    static func clientFrame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, mask: [UInt8] = [1, 2, 3, 4]) -> [UInt8] {
        var bytes: [UInt8] = [(fin ? 0x80 : 0) | opcode]
        if payload.count < 126 {
            bytes.append(0x80 | UInt8(payload.count))
        } else {
            bytes += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xff)]
        }
        bytes += mask
        bytes += payload.enumerated().map { $0.element ^ mask[$0.offset & 3] }
        return bytes
    }

    @Test func theAcceptKeyIsTheRFCsExample() {
        #expect(WebSocket.acceptKey(for: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        let handshake = HTTP1Request(method: "GET", target: "/ws", headers: [
            ("host", "x"), ("upgrade", "WebSocket"), ("connection", "keep-alive, Upgrade"), ("sec-websocket-version", "13"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ])
        #expect(WebSocket.handshakeProblem(handshake) == nil)
        var old = handshake
        old.headers[3].value = "8"
        #expect(WebSocket.handshakeProblem(old) != nil)
    }

    @Test func messagesArriveWholeWhateverTheReads() throws {
        let stream = Self.clientFrame(1, Array("hel".utf8), fin: false) + Self.clientFrame(9, [7]) + Self.clientFrame(0, Array("lo".utf8))
            + Self.clientFrame(2, [UInt8](repeating: 9, count: 300)) + Self.clientFrame(8, [0x03, 0xe8])
        for cut in [1, 3, stream.count] {
            var parser = WebSocketParser()
            var events: [WebSocketParser.Event] = []
            var index = 0
            while index < stream.count {
                parser.append(Array(stream[index..<min(index + cut, stream.count)]))
                index += cut
                while let event = try parser.next() { events.append(event) }
            }
            #expect(events == [.ping([7]), .text("hello"), .binary([UInt8](repeating: 9, count: 300)), .close(1000)], "reads of \(cut)")
        }
    }

    @Test func whatTheRFCForbidsIsRefusedWithItsCloseCode() {
        func failure(_ bytes: [UInt8], max: Int = 65_536) -> UInt16? {
            var parser = WebSocketParser(maxMessageBytes: max)
            parser.append(bytes)
            do {
                while try parser.next() != nil {}
                return nil
            } catch {
                return error.code
            }
        }
        #expect(failure([0x81, 0x02, 0x68, 0x69]) == 1002, "an unmasked client frame")
        #expect(failure(Self.clientFrame(1, [0xff, 0xfe])) == 1007, "text that is not UTF-8")
        #expect(failure(Self.clientFrame(1, [UInt8](repeating: 65, count: 200)), max: 100) == 1009)
        #expect(failure(Self.clientFrame(9, [UInt8](repeating: 0, count: 126))) == 1002, "a long ping")
        #expect(failure(Self.clientFrame(9, [1], fin: false)) == 1002, "a fragmented ping")
        #expect(failure(Self.clientFrame(0, [1])) == 1002, "a continuation of nothing")
        #expect(failure(Self.clientFrame(1, [65], fin: false) + Self.clientFrame(1, [66])) == 1002, "a message inside a message")
        #expect(failure([0xC1, 0x80, 0, 0, 0, 0]) == 1002, "a reserved bit")
        #expect(failure(Self.clientFrame(3, [])) == 1002, "an unknown opcode")
        #expect(failure(Self.clientFrame(1, [65, 65], fin: false) + Self.clientFrame(0, [UInt8](repeating: 65, count: 99)), max: 100) == 1009,
                "fragments count toward the bound")
    }

    @Test func serverFramesAreUnmaskedWithTheirLength() {
        #expect(WebSocket.frame(.text, Array("hi".utf8)) == [0x81, 2, 0x68, 0x69])
        #expect(Array(WebSocket.frame(.binary, [UInt8](repeating: 0, count: 300)).prefix(4)) == [0x82, 126, 1, 44])
        #expect(WebSocket.frame(.binary, [UInt8](repeating: 0, count: 70_000)).prefix(10).elementsEqual([0x82, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]))
        let close = WebSocket.closeFrame(1001, reason: String(repeating: "é", count: 100))
        #expect(close.count <= 127 && close[2] == 0x03 && close[3] == 0xe9)
    }
}
