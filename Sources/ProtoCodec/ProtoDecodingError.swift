/// Why bytes could not be decoded as a message. Decoding never traps on bad input; it throws this.
public struct ProtoDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        /// Truncated input, a bad tag or wire type, a length past the end, a broken varint.
        case malformed
        /// A string field whose bytes are not valid UTF-8.
        case invalidUTF8
        /// Decoding would allocate more than the ``ProtoDecodingLimits`` allow.
        case tooLarge
    }

    public var kind: Kind
    /// What failed, e.g. `tradewire.v1.Order: malformed wire format` or `tradewire.v1.Order.symbol: ...`.
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
