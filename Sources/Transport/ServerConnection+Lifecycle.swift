import EventLoop
import HTTP2
import RPC

/// Keepalive enforcement, idle and age limits, graceful shutdown.
extension ServerConnection {
    /// A PING arrived: past the keepalive policy's strikes (`ServerConnectionStateMachine.pingReceived`), GOAWAY
    /// ENHANCE_YOUR_CALM "too_many_pings" and close.
    func enforceKeepalive() {
        let verdict = machine.pingReceived(now: Monotonic.now(), framesSent: session.streamFramesSent, hasCalls: !calls.isEmpty)
        guard verdict == .tooManyPings else { return }
        session.goAway(errorCode: .enhanceYourCalm, debug: "too_many_pings")
        requestFlush()  // Not at once: this runs inside the session's read, which must not send.
    }

    func armIdleTimer() {
        guard let idle = configuration.maxConnectionIdle, machine.mayIdle(hasCalls: !calls.isEmpty), !closed else { return }
        idleTimer?.cancel()
        idleTimer = loop.schedule(at: Monotonic.now() + idle.nanoseconds) { [weak self] in
            self?.beginGracefulShutdown(grace: .seconds(1))
        }
    }

    /// A call ended: close a draining connection that has no calls left, or start the idle clock.
    func callsChanged() {
        switch machine.callsChanged(hasCalls: !calls.isEmpty) {
        case .close: requestFlush()  // The final GOAWAY already went out.
        case .startIdleClock: armIdleTimer()
        case .nothing: break
        }
    }

    /// gRPC's graceful shutdown: a GOAWAY announcing the shutdown, a PING, and once its answer proves the client
    /// has seen the first GOAWAY, a final GOAWAY with the last stream processed. Calls in flight finish; after
    /// `grace` those left are cancelled and the connection closes.
    func beginGracefulShutdown(grace: Duration) {
        guard !closed, machine.beginDraining() else { return }
        idleTimer?.cancel()
        if http1 != nil {
            drainHTTP1()
            graceTimer = loop.schedule(at: Monotonic.now() + grace.nanoseconds) { [weak self] in self?.close() }
            return
        }
        session.submitShutdownNotice()
        session.ping(opaque: Self.shutdownPingOpaque)
        requestFlush()
        graceTimer = loop.schedule(at: Monotonic.now() + grace.nanoseconds) { [weak self] in
            guard let self else { return }
            for call in calls.values { call.cancelForShutdown() }
            session.goAway(errorCode: .noError, lastStreamID: session.lastProcessedStreamID)
            sendWhatIsQueuedAndClose()
        }
    }

    /// The shutdown PING was answered: the final GOAWAY (once); with no calls left, close once it is out.
    func sendFinalGoAway() {
        guard machine.shutdownPingAnswered(hasCalls: !calls.isEmpty) else { return }
        session.goAway(errorCode: .noError, lastStreamID: session.lastProcessedStreamID)
        requestFlush()
    }

    /// Closes once the output buffer has been written (the next flush, or the one after a full socket).
    func closeWhenFlushed() {
        machine.closeWhenFlushed()
        requestFlush()
    }
}
