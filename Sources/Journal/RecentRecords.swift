/// The newest committed records of a journal, kept in memory so that subscribers who keep up read them without
/// SQLite: a ring of at most `capacity` records (their payloads shared with the writes that made them, not copied).
/// Older sequences are read from the file.
struct RecentRecords {
    let capacity: Int
    private var ring: [JournalRecord] = []
    /// Index of the oldest record once the ring is full.
    private var oldest = 0

    init(capacity: Int) {
        precondition(capacity > 0, "a ring of at least one record")
        self.capacity = capacity
        ring.reserveCapacity(capacity)
    }

    /// Appends `record`, whose sequence follows the previous one's, dropping the oldest when full.
    mutating func append(_ record: JournalRecord) {
        assert(ring.isEmpty || record.sequence == ring[(oldest + ring.count - 1) % ring.count].sequence + 1, "records in sequence")
        if ring.count < capacity {
            ring.append(record)
        } else {
            ring[oldest] = record
            oldest = (oldest + 1) % capacity
        }
    }

    /// Up to `limit` records from `sequence` on, when the ring holds `sequence` or `sequence` is just past its newest
    /// (then none: nothing newer is committed); nil when `sequence` is older than the ring's oldest, or the ring is
    /// empty (the caller reads the file).
    func records(from sequence: UInt64, limit: Int) -> [JournalRecord]? {
        guard let first = ring.isEmpty ? nil : ring[oldest].sequence, sequence >= first else { return nil }
        let offset = sequence - first
        guard offset < UInt64(ring.count) else { return offset == UInt64(ring.count) ? [] : nil }
        let count = min(limit, ring.count - Int(offset))
        return (0..<count).map { ring[(oldest + Int(offset) + $0) % ring.count] }
    }
}
