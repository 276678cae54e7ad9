/// A protobuf enum as a Swift enum. Values the schema does not know decode to an `unrecognized` case that
/// encodes back to the same number, so nothing is lost between schema versions.
public protocol ProtoEnum: RawRepresentable, CaseIterable, Hashable, Sendable where RawValue == Int32 {
    /// The full protobuf name, e.g. `tradewire.v1.Side`.
    static var protoEnumName: String { get }

    /// The case for `rawValue`: a named case, or `unrecognized` for a number the schema does not know.
    init(rawValue: Int32)
}
