/// Data queued for one stream, read by nghttp2's data provider as flow control allows.
final class OutboundStream {
    private var chunks: [[UInt8]] = []
    private var head = 0
    private var offset = 0
    private(set) var queuedBytes = 0
    /// No more data will be queued: after the last byte the stream ends (or trailers follow).
    var ended = false
    /// Trailers to send after the data (sent as a HEADERS frame with END_STREAM).
    var trailers: [HTTP2HeaderField]?
    /// nghttp2 was told NGHTTP2_ERR_DEFERRED and must be resumed when data arrives.
    var deferred = false
    /// Passed the high watermark; the delegate hears about it once the queue drains below half of it.
    var blocked = false

    /// Empties the stream for reuse by another (the session keeps a pool: one object and one chunk array less to
    /// allocate per call).
    func reset() {
        chunks.removeAll(keepingCapacity: true)
        head = 0
        offset = 0
        queuedBytes = 0
        ended = false
        trailers = nil
        deferred = false
        blocked = false
    }

    func append(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        chunks.append(bytes)
        queuedBytes += bytes.count
    }

    var isEmpty: Bool { queuedBytes == 0 }

    /// Copies up to `capacity` bytes into `target`; returns how many.
    func read(into target: UnsafeMutablePointer<UInt8>, capacity: Int) -> Int {
        var written = 0
        while written < capacity && head < chunks.count {
            let chunk = chunks[head]
            let count = min(capacity - written, chunk.count - offset)
            chunk.withUnsafeBufferPointer { source in
                (target + written).update(from: source.baseAddress! + offset, count: count)
            }
            written += count
            offset += count
            if offset == chunk.count {
                head += 1
                offset = 0
            }
        }
        if head == chunks.count {
            chunks.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 64 {
            chunks.removeFirst(head)
            head = 0
        }
        queuedBytes -= written
        return written
    }
}
