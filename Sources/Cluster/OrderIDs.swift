/// OrderIds the gateway makes: 16 hex digits naming the account, "-", and 32 hex digits naming the order within
/// it. The order part is derived from the client order id (or the idempotency key), so a retry names the same
/// order and reaches the same actor, whose durable state then decides whether it is a duplicate; without either,
/// it is random. The account part lets the gateway refuse another account's OrderId without looking it up, so
/// the answer cannot reveal whether that order exists.
public struct OrderIDs: Sendable {
    /// This account's part of every OrderId.
    public let prefix: String

    public init(account: String) {
        prefix = Hex.encode(SHA256.digest("tradewire/account\0\(account)".utf8).prefix(8))
    }

    /// The OrderId for `clientOrderID`.
    public func forClientOrder(_ clientOrderID: String) -> String { derived("client-order", clientOrderID) }

    /// The OrderId for an `idempotency-key` value (a different space from client order ids).
    public func forIdempotencyKey(_ key: String) -> String { derived("idempotency-key", key) }

    /// A new OrderId that no retry can name.
    public func random() -> String {
        prefix + "-" + RandomBytes.hex(16)
    }

    /// Whether `id` has the form of an OrderId the gateway makes (of any account).
    public static func isOrderID(_ id: String) -> Bool {
        let bytes = Array(id.utf8)
        func hex(_ byte: UInt8) -> Bool { (0x30...0x39).contains(byte) || (0x61...0x66).contains(byte) }
        return bytes.count == 49 && bytes[16] == UInt8(ascii: "-") && bytes[..<16].allSatisfy(hex) && bytes[17...].allSatisfy(hex)
    }

    /// Whether `id` is an OrderId of this account.
    public func owns(_ id: String) -> Bool { id.utf8.count == 49 && id.hasPrefix(prefix + "-") }

    /// `prefix`, "-", and the first 16 bytes of SHA-256("tradewire/<space>\0<prefix>\0<value>") in hex. Built in
    /// place: the message in a temporary buffer, the digest as words, the OrderId written once (one allocation,
    /// on every order; concatenating and encoding took six).
    private func derived(_ space: StaticString, _ value: String) -> String {
        var value = value
        return value.withUTF8 { value in
            let head = Self.namespace.utf8CodeUnitCount + space.utf8CodeUnitCount + 1 + prefix.utf8.count + 1
            let words = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: head + value.count) { message in
                var at = 0
                func put(_ bytes: UnsafeBufferPointer<UInt8>) {
                    _ = UnsafeMutableBufferPointer(rebasing: message[at...]).initialize(fromContentsOf: bytes)
                    at += bytes.count
                }
                put(UnsafeBufferPointer(start: Self.namespace.utf8Start, count: Self.namespace.utf8CodeUnitCount))
                put(UnsafeBufferPointer(start: space.utf8Start, count: space.utf8CodeUnitCount))
                message[at] = 0
                at += 1
                var prefix = prefix
                prefix.withUTF8 { put($0) }
                message[at] = 0
                at += 1
                put(value)
                return SHA256.words(UnsafeRawBufferPointer(UnsafeMutableBufferPointer(rebasing: message[0..<at])))
            }
            return String(unsafeUninitializedCapacity: prefix.utf8.count + 33) { text in
                var at = 0
                var prefix = prefix
                prefix.withUTF8 { for byte in $0 { text[at] = byte; at += 1 } }
                text[at] = UInt8(ascii: "-")
                at += 1
                func hex(_ word: UInt32) {
                    for shift in stride(from: 28, through: 0, by: -4) {
                        text[at] = Hex.digit(UInt8(truncatingIfNeeded: word >> UInt32(shift)) & 0x0f)
                        at += 1
                    }
                }
                hex(words.0)
                hex(words.1)
                hex(words.2)
                hex(words.3)
                return at
            }
        }
    }

    private static let namespace: StaticString = "tradewire/"
}
