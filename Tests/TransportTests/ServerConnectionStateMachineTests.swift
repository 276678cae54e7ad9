import Testing
@testable import Transport

/// A server connection's rules for its own life, as a value: keepalive strikes, the two-GOAWAY drain, when it
/// may idle and when it closes. No sockets, no clock but the numbers passed in.
@Suite struct ServerConnectionStateMachineTests {
    static let second: UInt64 = 1_000_000_000

    static func machine(minimumInterval: Duration = .seconds(10), permitWithoutCalls: Bool = false, maxStrikes: Int = 2)
        -> ServerConnectionStateMachine
    {
        var policy = KeepalivePolicy()
        policy.minimumInterval = minimumInterval
        policy.permitWithoutCalls = permitWithoutCalls
        policy.maxStrikes = maxStrikes
        return ServerConnectionStateMachine(keepalive: policy)
    }

    @Test func pingsCloserThanTheIntervalAreStrikesAndOnePastTheLimitEndsTheConnectionOnce() {
        var machine = Self.machine()
        var now = 100 * Self.second
        // The first ping is never a strike; then two close ones are tolerated (maxStrikes 2), the third is not.
        var verdict = machine.pingReceived(now: now, framesSent: 0, hasCalls: true)
        #expect(verdict == .tolerated)
        for strike in 1...2 {
            now += Self.second
            verdict = machine.pingReceived(now: now, framesSent: 0, hasCalls: true)
            #expect(verdict == .tolerated)
            #expect(machine.pingStrikes == strike)
        }
        now += Self.second
        verdict = machine.pingReceived(now: now, framesSent: 0, hasCalls: true)
        #expect(verdict == .tooManyPings)
        #expect(machine.closeAfterFlush)
        // Said once: more pings while the GOAWAY goes out change nothing.
        verdict = machine.pingReceived(now: now + 1, framesSent: 0, hasCalls: true)
        #expect(verdict == .tolerated)
    }

    @Test func framesWrittenSinceThePreviousPingClearTheStrikesAndSpacedPingsAreNone() {
        var machine = Self.machine()
        var now = 100 * Self.second
        _ = machine.pingReceived(now: now, framesSent: 0, hasCalls: true)
        now += Self.second
        _ = machine.pingReceived(now: now, framesSent: 0, hasCalls: true)
        #expect(machine.pingStrikes == 1)
        // grpc-go's BDP pings arrive while a response drains: each follows data written, and none is a strike.
        for frames: UInt64 in 1...50 {
            now += Self.second / 100
            let verdict = machine.pingReceived(now: now, framesSent: frames, hasCalls: true)
            #expect(verdict == .tolerated)
            #expect(machine.pingStrikes == 0)
        }
        // Pings at least the interval apart are never strikes, data or not.
        for _ in 0..<10 {
            now += 10 * Self.second
            let verdict = machine.pingReceived(now: now, framesSent: 50, hasCalls: true)
            #expect(verdict == .tolerated)
        }
        #expect(machine.pingStrikes == 0)
    }

    @Test func withoutCallsTheIntervalIsTwoHoursUnlessPermitted() {
        var strict = Self.machine()
        var permissive = Self.machine(permitWithoutCalls: true)
        let start = 100 * Self.second
        _ = strict.pingReceived(now: start, framesSent: 0, hasCalls: false)
        _ = permissive.pingReceived(now: start, framesSent: 0, hasCalls: false)
        // An hour apart: a strike without calls, unless pings without calls are permitted; then 10 s applies.
        _ = strict.pingReceived(now: start + 3_600 * Self.second, framesSent: 0, hasCalls: false)
        _ = permissive.pingReceived(now: start + 3_600 * Self.second, framesSent: 0, hasCalls: false)
        #expect(strict.pingStrikes == 1 && permissive.pingStrikes == 0)
    }

    @Test func aDrainAnnouncesThenSendsTheFinalGoAwayOnceAfterThePingsAnswer() {
        var machine = Self.machine()
        #expect(machine.acceptsStreams && machine.mayIdle(hasCalls: false))
        // The final GOAWAY comes only after the notice: a stray answer to a ping changes nothing.
        var finalSent = machine.shutdownPingAnswered(hasCalls: true)
        #expect(!finalSent)
        var started = machine.beginDraining()
        #expect(started)
        started = machine.beginDraining()
        #expect(!started, "a second shutdown request sends nothing again")
        #expect(machine.drain == .announced && machine.acceptsStreams && !machine.mayIdle(hasCalls: false))
        // While the PING's answer is awaited the connection stays, even if the session wants nothing more.
        #expect(!machine.isDone(sessionWantsIO: false))
        finalSent = machine.shutdownPingAnswered(hasCalls: true)
        #expect(finalSent)
        finalSent = machine.shutdownPingAnswered(hasCalls: true)
        #expect(!finalSent, "one final GOAWAY")
        #expect(machine.drain == .final && !machine.acceptsStreams && !machine.closeAfterFlush)
        // The last call's end closes it.
        var outcome = machine.callsChanged(hasCalls: true)
        #expect(outcome == .nothing)
        outcome = machine.callsChanged(hasCalls: false)
        #expect(outcome == .close)
        #expect(machine.closeAfterFlush && machine.isDone(sessionWantsIO: true))
    }

    @Test func aDrainWithNoCallsClosesWithItsFinalGoAway() {
        var machine = Self.machine()
        let started = machine.beginDraining()
        #expect(started)
        let outcome = machine.callsChanged(hasCalls: false)
        #expect(outcome == .nothing, "no idle clock while draining")
        let finalSent = machine.shutdownPingAnswered(hasCalls: false)
        #expect(finalSent)
        #expect(machine.closeAfterFlush)
    }

    @Test func anIdleClockRunsOnlyWhileServingWithoutCalls() {
        var machine = Self.machine()
        var outcome = machine.callsChanged(hasCalls: false)
        #expect(outcome == .startIdleClock)
        outcome = machine.callsChanged(hasCalls: true)
        #expect(outcome == .nothing)
        #expect(!machine.mayIdle(hasCalls: true))
        // Serving, the connection is done only when the session wants nothing more.
        #expect(!machine.isDone(sessionWantsIO: true) && machine.isDone(sessionWantsIO: false))
        machine.closeWhenFlushed()
        #expect(machine.isDone(sessionWantsIO: true))
    }
}
