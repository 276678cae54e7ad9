import EventLoop

/// What a connection's HTTP/2 session produced and its socket has not taken yet, and the one way both connection
/// kinds hand it over: write what is buffered, refill from the session when it runs dry, until the kernel's buffer
/// is full or nothing is left. The connection arms EPOLLOUT while ``isWritten`` is false.
struct SocketOutput {
    private(set) var buffer: [UInt8] = []
    private var offset = 0

    /// Everything buffered has gone to the socket.
    var isWritten: Bool { offset == buffer.count }

    /// Bytes buffered and not written yet.
    var unsent: Int { buffer.count - offset }

    /// Replaces what is buffered (nothing may be half-written) with what `fill` appends.
    mutating func reset(_ fill: (inout [UInt8]) throws -> Void) rethrows {
        buffer.removeAll(keepingCapacity: true)
        offset = 0
        try fill(&buffer)
    }

    /// Appends to what is buffered, without writing.
    mutating func append(_ fill: (inout [UInt8]) throws -> Void) rethrows {
        try fill(&buffer)
    }

    /// Writes to `fd` until the socket is full or nothing is left; when the buffer runs dry, `refill` may append
    /// more (the session's next frames; appending nothing ends the flush). Throws the socket's or `refill`'s error.
    mutating func flush(to fd: Int32, refill: (inout [UInt8]) throws -> Void) throws {
        while true {
            if isWritten {
                try reset(refill)
                if buffer.isEmpty { return }
            }
            let sent = try buffer.withUnsafeBytes { bytes in
                try Socket.send(fd, UnsafeRawBufferPointer(rebasing: bytes[offset...]))
            }
            guard case .processed(let count) = sent else { return }  // The kernel's buffer is full.
            offset += count
        }
    }

    /// One write of what is left, as far as the socket takes it now (on the way to closing); errors are ignored.
    mutating func writeOnce(to fd: Int32) {
        guard !isWritten else { return }
        if case .processed(let count)? = try? buffer.withUnsafeBytes({ try Socket.send(fd, UnsafeRawBufferPointer(rebasing: $0[offset...])) }) {
            offset += count
        }
    }
}
