import Testing

@testable import RPC

@Suite struct ServerStreamStateMachineTests {
    @Test func aNormalCallGoesHeadersMessagesStatus() throws {
        var machine = ServerStreamStateMachine()
        try machine.receiveHeaders(endStream: false)
        try machine.receiveData()
        try machine.receiveEnd()
        #expect(try machine.sendMessage() == .sendHeadersAndMessage)
        #expect(try machine.sendMessage() == .sendMessage)
        #expect(try machine.sendStatus() == .trailers)
        #expect(machine.isClosed)
    }

    @Test func aStatusWithNothingSentIsTrailersOnly() throws {
        var machine = ServerStreamStateMachine()
        try machine.receiveHeaders(endStream: true)
        #expect(try machine.sendStatus() == .trailersOnly)
    }

    @Test func dataBeforeHeadersIsThePeersProtocolError() {
        var machine = ServerStreamStateMachine()
        #expect(throws: ServerStreamStateMachine.Violation.peerProtocolError("data before request headers")) {
            try machine.receiveData()
        }
    }

    @Test func dataAfterTheEndIsThePeersProtocolError() throws {
        var machine = ServerStreamStateMachine()
        try machine.receiveHeaders(endStream: true)
        #expect(throws: ServerStreamStateMachine.Violation.peerProtocolError("data after the end of the request stream")) {
            try machine.receiveData()
        }
    }

    @Test func writesAfterTheStatusAreDroppedSilently() throws {
        var machine = ServerStreamStateMachine()
        try machine.receiveHeaders(endStream: false)
        _ = try machine.sendStatus()
        #expect(throws: ServerStreamStateMachine.Violation.silentDrop) { _ = try machine.sendMessage() }
        #expect(throws: ServerStreamStateMachine.Violation.silentDrop) { _ = try machine.sendStatus() }
    }

    @Test func aResetClosesBothDirections() throws {
        var machine = ServerStreamStateMachine()
        try machine.receiveHeaders(endStream: false)
        machine.reset()
        #expect(machine.isClosed)
        #expect(machine.inbound == .ended)
        #expect(throws: ServerStreamStateMachine.Violation.silentDrop) { _ = try machine.sendMessage() }
    }

    @Test func requestTrailersMustEndTheStream() throws {
        var machine = ServerStreamStateMachine()
        try machine.receiveHeaders(endStream: false)
        #expect(throws: ServerStreamStateMachine.Violation.self) { try machine.receiveHeaders(endStream: false) }
    }
}
