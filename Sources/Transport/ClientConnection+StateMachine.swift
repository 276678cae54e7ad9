/// What a client connection decides about its own life, as a value with no I/O: connecting, ready, draining after
/// the server's GOAWAY or a local close, closed. The connection asks it and carries out the answers (the socket,
/// the GOAWAY it sends, failing calls, telling the subchannel); `ClientConnectionStateMachineTests` checks its rules
/// alone. Every change the subchannel must hear of is returned as `announce` exactly once, and nothing moves a
/// closed connection.
struct ClientConnectionStateMachine {
    enum State: Equatable {
        case connecting
        case ready
        /// No new calls; existing ones may finish (the server sent GOAWAY, or the channel closes gracefully).
        case draining
        case closed
    }

    enum CloseVerdict: Equatable {
        /// No call is open: send GOAWAY, close the socket, announce `.closed`.
        case closeNow
        /// Calls are open: they may finish; announce `.draining`, and close once the last ends and the output is
        /// written.
        case drain
        /// Closed already, or draining with calls still open.
        case nothing
    }

    enum GoAwayVerdict: Equatable {
        /// The server called our pings abusive (ENHANCE_YOUR_CALM "too_many_pings"): fail every call now.
        case fail
        /// Calls above the GOAWAY's last stream fail (the server never processed them); the rest may finish.
        /// `announce`: the connection was ready and now drains.
        case drain(announce: Bool)
    }

    private(set) var state = State.connecting

    /// Whether a call may open a stream now.
    var acceptsCalls: Bool { state == .ready }

    /// Whether the connection reads and writes its session (connected, not closed).
    var isOpen: Bool { state == .ready || state == .draining }

    /// The socket connected; false when the connection was not connecting (a late completion after a failure).
    mutating func connected() -> Bool {
        guard state == .connecting else { return false }
        state = .ready
        return true
    }

    /// A graceful close asked by the channel. Not from inside a session callback (see ``closeFromCallback()``).
    mutating func closeRequested(hasCalls: Bool) -> CloseVerdict {
        switch state {
        case .closed: return .nothing
        case .draining: return hasCalls ? .nothing : .closeNow
        case .connecting: return .closeNow
        case .ready:
            guard hasCalls else { return .closeNow }
            state = .draining
            return .drain
        }
    }

    /// A close asked from inside a session callback, where writing would re-enter the session: the connection
    /// drains, and the next flush closes it once no call is left. True when `.draining` is to be announced.
    mutating func closeFromCallback() -> Bool {
        guard state == .ready else { return false }
        state = .draining
        return true
    }

    /// The server's GOAWAY.
    mutating func goAwayReceived(tooManyPings: Bool) -> GoAwayVerdict {
        guard !tooManyPings else { return .fail }
        return .drain(announce: closeFromCallback())
    }

    /// After a flush: whether the connection is done (draining, no call left, everything written).
    func closesAfterFlush(hasCalls: Bool, outputWritten: Bool) -> Bool {
        state == .draining && !hasCalls && outputWritten
    }

    /// A stream closed: whether to flush now so that a drained connection closes (otherwise, waiting calls may
    /// take the freed stream).
    func flushesToClose(hasCalls: Bool) -> Bool {
        state == .draining && !hasCalls
    }

    /// The socket is being closed (a failure, or a close with nothing left); true when `.closed` is to be
    /// announced, false when it was closed already (a failure is reported once).
    mutating func closing() -> Bool {
        guard state != .closed else { return false }
        state = .closed
        return true
    }
}
