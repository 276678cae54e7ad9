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

    private func derived(_ space: String, _ value: String) -> String {
        prefix + "-" + Hex.encode(SHA256.digest("tradewire/\(space)\0\(prefix)\0\(value)".utf8).prefix(16))
    }
}
