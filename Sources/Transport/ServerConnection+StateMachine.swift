import EventLoop

/// What a server connection decides about its own life, as a value with no I/O: the keepalive strikes against its
/// client, the graceful drain (a first GOAWAY with a PING, then — once the PING's answer proves the client saw it
/// — the final GOAWAY naming the last stream processed), and whether it closes once its output is written. The
/// connection asks it and carries out the answers (frames, timers, the socket); `ServerConnectionStateMachineTests`
/// checks its rules alone.
struct ServerConnectionStateMachine {
    enum Drain: Equatable {
        /// Serving.
        case none
        /// The shutdown notice (GOAWAY, last stream 2^31−1) and its PING are out; the answer has not come.
        case announced
        /// The final GOAWAY is out: no new stream is processed.
        case final
    }

    enum PingVerdict: Equatable {
        case tolerated
        /// Past the strikes allowed: send GOAWAY ENHANCE_YOUR_CALM "too_many_pings" and close once it is out.
        /// Answered once.
        case tooManyPings
    }

    enum CallsVerdict: Equatable {
        /// The last call ended after the final GOAWAY: close once the output is written.
        case close
        /// No calls: start the idle clock.
        case startIdleClock
        case nothing
    }

    let keepalive: KeepalivePolicy
    private(set) var drain = Drain.none
    /// Close once the output buffer is written.
    private(set) var closeAfterFlush = false
    private(set) var pingStrikes = 0
    /// When the previous ping arrived (0: none yet), and how many HEADERS and DATA frames had been written then.
    private var lastPingAt: UInt64 = 0
    private var framesSentAtLastPing: UInt64 = 0

    init(keepalive: KeepalivePolicy) {
        self.keepalive = keepalive
    }

    // MARK: - Keepalive

    /// gRPC's ping policy (grpc-go's handlePing, C-core's max_ping_strikes): a ping closer to the previous one than
    /// allowed — `minimumInterval`, or two hours with no calls unless `permitWithoutCalls` — is a strike; a
    /// HEADERS or DATA frame written since the previous ping clears them (written, not queued: a response
    /// draining slowly under flow control is data flowing, and grpc-go's client pings for BDP estimation as it
    /// receives it). More than `maxStrikes`: ``PingVerdict/tooManyPings``.
    /// - Parameters:
    ///   - now: monotonic nanoseconds.
    ///   - framesSent: HEADERS and DATA frames the session has written so far.
    mutating func pingReceived(now: UInt64, framesSent: UInt64, hasCalls: Bool) -> PingVerdict {
        defer {
            lastPingAt = now
            framesSentAtLastPing = framesSent
        }
        if framesSent != framesSentAtLastPing {
            pingStrikes = 0
            return .tolerated
        }
        let interval = hasCalls || keepalive.permitWithoutCalls ? keepalive.minimumInterval : .seconds(7200)
        if lastPingAt != 0 && now &- lastPingAt < interval.nanoseconds { pingStrikes += 1 }
        guard pingStrikes > keepalive.maxStrikes, !closeAfterFlush else { return .tolerated }
        closeAfterFlush = true
        return .tooManyPings
    }

    // MARK: - Draining

    /// Whether a new stream may be processed (refused after the final GOAWAY).
    var acceptsStreams: Bool { drain != .final }

    /// Whether the idle clock may run: serving, with no calls.
    func mayIdle(hasCalls: Bool) -> Bool { drain == .none && !hasCalls }

    /// Starts the drain; false when it had started already (nothing to send again).
    mutating func beginDraining() -> Bool {
        guard drain == .none else { return false }
        drain = .announced
        return true
    }

    /// The shutdown PING was answered: true when the final GOAWAY is to be sent now (once, and only after the
    /// notice). With no calls left the connection then closes once it is written.
    mutating func shutdownPingAnswered(hasCalls: Bool) -> Bool {
        guard drain == .announced else { return false }
        drain = .final
        if !hasCalls { closeAfterFlush = true }
        return true
    }

    /// The set of calls changed.
    mutating func callsChanged(hasCalls: Bool) -> CallsVerdict {
        guard !hasCalls else { return .nothing }
        if drain == .final {
            closeAfterFlush = true
            return .close
        }
        return mayIdle(hasCalls: false) ? .startIdleClock : .nothing
    }

    /// A graceful shutdown has begun.
    var isDraining: Bool { drain != .none }

    /// Close once the output is written (a broken client, an HTTP/1.1 answer, an idle or finished drain).
    mutating func closeWhenFlushed() { closeAfterFlush = true }

    /// Whether the connection is done once its output is written: asked to close, or the HTTP/2 session wants
    /// nothing more — except while a drain waits for its PING's answer (nghttp2 stops wanting reads once any
    /// GOAWAY is out with no stream open, but a stream the client opened meanwhile must still get the final
    /// GOAWAY's word).
    func isDone(sessionWantsIO: Bool) -> Bool {
        closeAfterFlush || (!sessionWantsIO && drain != .announced)
    }
}
