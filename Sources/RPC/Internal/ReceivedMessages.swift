/// Complete messages a call received and its reader has not taken, first in first out, and the bytes they hold
/// (5-byte prefixes included) for flow control. Shared by server and client calls.
struct ReceivedMessages {
    private var messages: [[UInt8]] = []
    private var head = 0
    /// Bytes of the messages held.
    private(set) var bytes = 0

    var isEmpty: Bool { head == messages.count }

    mutating func append(_ message: [UInt8]) {
        messages.append(message)
        bytes += message.count + 5
    }

    /// The oldest message; nil when none is held. The array is reused once emptied.
    mutating func takeFirst() -> [UInt8]? {
        guard head < messages.count else { return nil }
        let message = messages[head]
        messages[head] = []
        head += 1
        if head == messages.count {
            messages.removeAll(keepingCapacity: true)
            head = 0
        }
        bytes -= message.count + 5
        return message
    }
}
