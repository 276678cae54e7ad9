import EventLoop
import HTTP2
import RPC

/// Keepalive enforcement, idle and age limits, graceful shutdown.
extension ServerConnection {
    /// gRPC's ping policy (grpc-go's handlePing, C-core's max_ping_strikes): pings closer together than allowed
    /// are strikes; a HEADERS or DATA frame written since the previous ping clears them — written, not queued: a
    /// response draining slowly under flow control is data flowing, and grpc-go's client pings (BDP estimation)
    /// as it receives it. Past the limit, GOAWAY ENHANCE_YOUR_CALM "too_many_pings".
    func enforceKeepalive() {
        let now = Monotonic.now()
        let sent = session.streamFramesSent
        defer {
            lastPingAt = now
            framesSentAtLastPing = sent
        }
        if sent != framesSentAtLastPing {
            pingStrikes = 0
            return
        }
        let policy = configuration.keepalive
        let interval =
            calls.isEmpty && !policy.permitWithoutCalls ? Duration.seconds(7200).nanoseconds : policy.minimumInterval.nanoseconds
        if lastPingAt != 0 && now - lastPingAt < interval { pingStrikes += 1 }
        if pingStrikes > policy.maxStrikes && !closeAfterFlush {
            session.goAway(errorCode: .enhanceYourCalm, debug: "too_many_pings")
            closeWhenFlushed()  // Not at once: this runs inside the session's read, which must not send.
        }
    }

    func armIdleTimer() {
        guard let idle = configuration.maxConnectionIdle, calls.isEmpty, !draining, !closed else { return }
        idleTimer?.cancel()
        idleTimer = loop.schedule(at: Monotonic.now() + idle.nanoseconds) { [unowned self] in
            beginGracefulShutdown(grace: .seconds(1))
        }
    }

    /// A call ended: close a draining connection that has no calls left, or start the idle clock.
    func callsChanged() {
        if calls.isEmpty {
            if draining && finalGoAwaySent {
                closeWhenFlushed()  // The final GOAWAY already went out.
            } else {
                armIdleTimer()
            }
        }
    }

    /// gRPC's graceful shutdown: a GOAWAY announcing the shutdown, a PING, and once its answer proves the client
    /// has seen the first GOAWAY, a final GOAWAY with the last stream processed. Calls in flight finish; after
    /// `grace` those left are cancelled and the connection closes.
    func beginGracefulShutdown(grace: Duration) {
        guard !draining, !closed else { return }
        draining = true
        idleTimer?.cancel()
        session.submitShutdownNotice()
        session.ping(opaque: Self.shutdownPingOpaque)
        requestFlush()
        graceTimer = loop.schedule(at: Monotonic.now() + grace.nanoseconds) { [unowned self] in
            for call in calls.values { call.cancelForShutdown() }
            session.goAway(errorCode: .noError, lastStreamID: session.lastProcessedStreamID)
            sendWhatIsQueuedAndClose()
        }
    }

    func sendFinalGoAway() {
        guard draining, !finalGoAwaySent else { return }
        finalGoAwaySent = true
        session.goAway(errorCode: .noError, lastStreamID: session.lastProcessedStreamID)
        requestFlush()
        if calls.isEmpty { closeWhenFlushed() }
    }

    /// Closes once the output buffer has been written (the next flush, or the one after a full socket).
    func closeWhenFlushed() {
        closeAfterFlush = true
        requestFlush()
    }
}
