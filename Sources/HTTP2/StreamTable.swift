/// A map from stream ID to a value, for the per-stream state of one connection. Stream IDs of one side are
/// sequential (1, 3, 5… or 2, 4, 6…), so `id >> 1` modulo a power of two gives live streams distinct slots: a
/// lookup is one array access, no hashing and no probing. The rare ID that lands on a slot a long-lived stream
/// still holds goes to a small overflow dictionary; when that fills up, the table doubles.
///
/// Inlinable so that each user's table (`StreamTable<ServerCall>` in Transport) is specialized: a generic
/// lookup across modules would look up type metadata on every frame.
public struct StreamTable<Value> {
    @usableFromInline var keys: [Int32]
    @usableFromInline var slots: [Value?]
    @usableFromInline var mask: Int
    @usableFromInline var overflow: [Int32: Value] = [:]
    @usableFromInline var storedCount = 0

    @inlinable
    public var count: Int { storedCount }

    @inlinable
    public init(capacity: Int = 256) {
        var size = 16
        while size < capacity { size *= 2 }
        keys = Array(repeating: 0, count: size)
        slots = Array(repeating: nil, count: size)
        mask = size - 1
    }

    @inlinable
    public var isEmpty: Bool { storedCount == 0 }

    @inlinable
    public subscript(id: Int32) -> Value? {
        get {
            let index = Int(id >> 1) & mask
            if keys[index] == id { return slots[index] }
            return overflow.isEmpty ? nil : overflow[id]
        }
        set {
            if let newValue { insert(id, newValue) } else { removeValue(forKey: id) }
        }
    }

    @usableFromInline
    mutating func insert(_ id: Int32, _ value: Value) {
        precondition(id > 0, "stream IDs are positive")
        let index = Int(id >> 1) & mask
        if keys[index] == id {
            slots[index] = value
        } else if keys[index] == 0 {
            // The ID may already sit in the overflow (it arrived while another held this slot): move it here
            // rather than keep two copies.
            if overflow.isEmpty || overflow.removeValue(forKey: id) == nil { storedCount += 1 }
            keys[index] = id
            slots[index] = value
        } else {
            if overflow.updateValue(value, forKey: id) == nil { storedCount += 1 }
            if overflow.count * 8 > keys.count { grow() }
        }
    }

    @inlinable @discardableResult
    public mutating func removeValue(forKey id: Int32) -> Value? {
        let index = Int(id >> 1) & mask
        if keys[index] == id {
            let value = slots[index]
            keys[index] = 0
            slots[index] = nil
            storedCount -= 1
            return value
        }
        guard let value = overflow.removeValue(forKey: id) else { return nil }
        storedCount -= 1
        return value
    }

    @usableFromInline
    mutating func grow() {
        var entries: [(Int32, Value)] = overflow.map { ($0.key, $0.value) }
        for index in keys.indices where keys[index] != 0 { entries.append((keys[index], slots[index]!)) }
        let size = keys.count * 2
        keys = Array(repeating: 0, count: size)
        slots = Array(repeating: nil, count: size)
        mask = size - 1
        overflow.removeAll()
        storedCount = 0
        for (key, value) in entries { insert(key, value) }
    }

    /// Every value (no particular order).
    @inlinable
    public var values: [Value] { slots.compactMap { $0 } + overflow.values }

    @inlinable
    public mutating func removeAll() {
        for index in keys.indices where keys[index] != 0 {
            keys[index] = 0
            slots[index] = nil
        }
        overflow.removeAll()
        storedCount = 0
    }
}
