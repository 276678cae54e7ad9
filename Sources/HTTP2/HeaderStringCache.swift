/// Recently seen header texts, so that the same `:path`, `content-type` or `user-agent` on every request becomes
/// the same String instead of a new allocation each time. Direct-mapped by length and a few bytes; a miss simply
/// creates the String (and remembers it). Texts of 15 bytes or less are Swift small strings and skip the cache.
struct HeaderStringCache {
    private var slots: [(bytes: [UInt8], string: String)?] = Array(repeating: nil, count: 64)

    mutating func string(_ pointer: UnsafePointer<UInt8>?, _ count: Int) -> String {
        let buffer = UnsafeBufferPointer(start: pointer, count: count)
        guard count > 15, let pointer else { return String(decoding: buffer, as: UTF8.self) }
        let index = (count &* 31 &+ Int(pointer[count - 1]) &* 7 &+ Int(pointer[count / 2])) & 63
        if let slot = slots[index], slot.bytes.count == count,
            slot.bytes.withUnsafeBufferPointer({ memcmp($0.baseAddress!, pointer, count) == 0 })
        {
            return slot.string
        }
        let string = String(decoding: buffer, as: UTF8.self)
        slots[index] = (Array(buffer), string)
        return string
    }
}

#if canImport(Glibc)
import Glibc
#endif
