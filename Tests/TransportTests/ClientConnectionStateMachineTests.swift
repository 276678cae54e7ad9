import Testing
@testable import Transport

/// A client connection's rules for its own life, as a value: when calls may start, how a GOAWAY or a close drains
/// it, when it closes, and that every change is announced once and nothing moves a closed connection. (`#expect`
/// cannot call a mutating method, hence the answers bound first.)
@Suite struct ClientConnectionStateMachineTests {
    static func ready() -> ClientConnectionStateMachine {
        var machine = ClientConnectionStateMachine()
        _ = machine.connected()
        return machine
    }

    @Test func callsStartOnlyOnceConnectedAndALateConnectAfterAFailureIsIgnored() {
        var machine = ClientConnectionStateMachine()
        #expect(!machine.acceptsCalls && !machine.isOpen)
        let first = machine.connected()
        #expect(first && machine.state == .ready && machine.acceptsCalls && machine.isOpen)
        let second = machine.connected()
        #expect(!second, "connected once")

        var failed = ClientConnectionStateMachine()
        let timedOut = failed.closing()
        let late = failed.connected()
        #expect(timedOut && !late, "the socket's late completion after the connect timed out changes nothing")
        #expect(failed.state == .closed && !failed.acceptsCalls && !failed.isOpen)
    }

    @Test func aGoAwayDrainsAnnouncedOnceAndClosesWhenTheLastCallEndedAndTheOutputIsWritten() {
        var machine = Self.ready()
        let first = machine.goAwayReceived(tooManyPings: false)
        #expect(first == .drain(announce: true))
        #expect(machine.state == .draining && !machine.acceptsCalls && machine.isOpen, "open calls may finish")
        let second = machine.goAwayReceived(tooManyPings: false)
        #expect(second == .drain(announce: false), "a second GOAWAY is not news")

        #expect(!machine.flushesToClose(hasCalls: true))
        #expect(!machine.closesAfterFlush(hasCalls: true, outputWritten: true), "a call is still open")
        #expect(machine.flushesToClose(hasCalls: false), "the last stream closed")
        #expect(!machine.closesAfterFlush(hasCalls: false, outputWritten: false), "output still queued")
        #expect(machine.closesAfterFlush(hasCalls: false, outputWritten: true))
        let close = machine.closeRequested(hasCalls: false)
        let announce = machine.closing()
        #expect(close == .closeNow && announce && machine.state == .closed)
    }

    @Test func tooManyPingsFailsAtOnceWhateverTheState() {
        var ready = Self.ready()
        let fromReady = ready.goAwayReceived(tooManyPings: true)
        #expect(fromReady == .fail)
        var draining = Self.ready()
        _ = draining.goAwayReceived(tooManyPings: false)
        let fromDraining = draining.goAwayReceived(tooManyPings: true)
        let announce = draining.closing()
        #expect(fromDraining == .fail && announce, "the failure closes it")
    }

    @Test func aCloseWithoutCallsClosesNowAndWithCallsDrainsFirst() {
        var idle = Self.ready()
        let idleClose = idle.closeRequested(hasCalls: false)
        #expect(idleClose == .closeNow)
        var connecting = ClientConnectionStateMachine()
        let connectingClose = connecting.closeRequested(hasCalls: false)
        #expect(connectingClose == .closeNow, "a connection still connecting just closes")

        var busy = Self.ready()
        let busyClose = busy.closeRequested(hasCalls: true)
        #expect(busyClose == .drain && busy.state == .draining && !busy.acceptsCalls)
        let again = busy.closeRequested(hasCalls: true)
        #expect(again == .nothing, "draining already")
        let drained = busy.closeRequested(hasCalls: false)
        #expect(drained == .closeNow, "nothing left to wait for")
    }

    @Test func aCloseFromInsideACallbackOnlyDrainsSoThatTheNextFlushCloses() {
        var machine = Self.ready()
        let first = machine.closeFromCallback()
        let second = machine.closeFromCallback()
        #expect(first && !second && machine.state == .draining, "draining is announced once")
        #expect(machine.closesAfterFlush(hasCalls: false, outputWritten: true))
        var connecting = ClientConnectionStateMachine()
        let early = connecting.closeFromCallback()
        #expect(!early && connecting.state == .connecting)
    }

    @Test func aClosedConnectionIsClosedOnceAndNothingMovesIt() {
        var machine = Self.ready()
        let first = machine.closing()
        let second = machine.closing()
        #expect(first && !second, "a second failure is not reported again")
        let close = machine.closeRequested(hasCalls: false)
        let busyClose = machine.closeRequested(hasCalls: true)
        let fromCallback = machine.closeFromCallback()
        let goAway = machine.goAwayReceived(tooManyPings: false)
        let connect = machine.connected()
        #expect(close == .nothing && busyClose == .nothing && !fromCallback && !connect)
        #expect(goAway == .drain(announce: false))
        #expect(!machine.flushesToClose(hasCalls: false) && !machine.closesAfterFlush(hasCalls: false, outputWritten: true))
        #expect(machine.state == .closed && !machine.isOpen)
    }
}
