internal import CXXHash

/// The keys of every order row a journal holds, as a Bloom filter that grows with them: `mayContain` is false only
/// for a key never inserted (there are no false negatives), and true for 1–2% of the others. A node asks its
/// journal for the row of every order that is not in its memory — each new place, to tell a new order from a retry
/// of one that left memory — and the filter answers "no such row" for almost every new order without the SQLite
/// read (a read transaction and an index lookup: 4% of a node's samples at OrderEntry saturation).
///
/// Layers grow as keys come: the first holds `firstCapacity` keys (a journal opens with room for twice the rows it
/// holds), each next one as many as all before it, and a layer's bits per key grow by one (10, 11, 12, …, with the
/// best number of hashes for each), so that the false positives of all layers together stay near 2% however many
/// there are. Memory: 10 bits per key of room in the first layer; 2.5–4 bytes per key held within 100 times the
/// keys it opened with, about 5 past 1,000 times (the README's limits table).
struct KnownKeys {
    private var layers: [Layer] = []
    let firstCapacity: Int

    init(firstCapacity: Int = 1 << 16) {
        precondition(firstCapacity > 0, "a layer holds at least one key")
        self.firstCapacity = firstCapacity
    }

    /// Bytes of bits held.
    var bytes: Int { layers.reduce(0) { $0 + $1.words.count * 8 } }
    var count: Int { layers.reduce(0) { $0 + $1.count } }

    /// Adds `key` unless the filter already says it may hold it (each change of an order writes its row again: a
    /// key counts once towards its layer's room).
    mutating func insert(_ key: String) {
        let hash = Self.hash(key)
        if layers.contains(where: { $0.mayContain(hash) }) { return }
        if layers.isEmpty || layers[layers.count - 1].count >= layers[layers.count - 1].capacity {
            let room = layers.isEmpty ? firstCapacity : layers.reduce(0) { $0 + $1.capacity }
            layers.append(Layer(capacity: room, bitsPerKey: 10 + layers.count))
        }
        layers[layers.count - 1].insert(hash)
    }

    func mayContain(_ key: String) -> Bool {
        guard !layers.isEmpty else { return false }
        let hash = Self.hash(key)
        return layers.contains { $0.mayContain(hash) }
    }

    /// Two independent 64-bit hashes of the key's UTF-8 bytes (XXH3's 128 bits), for double hashing.
    private static func hash(_ key: String) -> (UInt64, UInt64) {
        var key = key
        let hash = key.withUTF8 { bytes in XXH3_128bits(bytes.baseAddress, bytes.count) }
        return (hash.low64, hash.high64 | 1)
    }

    private struct Layer {
        let capacity: Int
        let hashes: Int
        var words: [UInt64]
        var count = 0
        private let bits: UInt64

        init(capacity: Int, bitsPerKey: Int) {
            self.capacity = capacity
            // The false-positive rate of m bits per key is lowest with m · ln 2 hashes.
            hashes = max(1, Int((Double(bitsPerKey) * 0.693).rounded()))
            words = Array(repeating: 0, count: (capacity * bitsPerKey + 63) / 64)
            bits = UInt64(words.count * 64)
        }

        mutating func insert(_ hash: (UInt64, UInt64)) {
            for index in 0..<hashes {
                let bit = (hash.0 &+ UInt64(index) &* hash.1) % bits
                words[Int(bit / 64)] |= 1 << (bit % 64)
            }
            count += 1
        }

        func mayContain(_ hash: (UInt64, UInt64)) -> Bool {
            for index in 0..<hashes {
                let bit = (hash.0 &+ UInt64(index) &* hash.1) % bits
                if words[Int(bit / 64)] & (1 << (bit % 64)) == 0 { return false }
            }
            return true
        }
    }
}
