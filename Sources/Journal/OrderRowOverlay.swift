import SQLite

/// The order rows committed to the journal's order log but not yet written into its `orders` table: the newest row
/// of each such order, by OrderId. Reads lay it over what the table returns, so that every committed row is seen
/// at once although the table is written only every so often (`Journal.materialiseOrderRows`).
///
/// Each row is an order's whole current state: the newest one written replaces everything before it.
///
/// Keys must be in Unicode's NFC (the OrderIds the journal keeps are ASCII hex): Swift's String equality is
/// canonical equivalence, SQLite's is byte equality, and the two agree only on normalised text.
struct OrderRowOverlay {
    private var rows: [String: OrderRow] = [:]

    var isEmpty: Bool { rows.isEmpty }
    var count: Int { rows.count }

    subscript(key: String) -> OrderRow? { rows[key] }

    mutating func update(with written: [OrderRow]) {
        for row in written { rows[row.key] = row }
    }

    /// The rows in creation order (then by key), as the table should receive them: a rowid table keeps rows in the
    /// order they arrive, so orders created together stay on the same pages.
    var inCreationOrder: [OrderRow] {
        rows.values.sorted { OrderQuery.precedes(($0.createdAt, $0.key), ($1.createdAt, $1.key)) }
    }

    mutating func removeAll() {
        rows.removeAll(keepingCapacity: true)
    }

    /// `query`'s answer: the table's rows this overlay does not replace, read through `page` (the table's answer to
    /// a query, at most its limit) a page at a time until there are enough, and this overlay's rows that match; newest
    /// first, at most `query.limit`.
    func answer(_ query: OrderQuery, page: (OrderQuery) throws(SQLiteError) -> [OrderRow]) throws(SQLiteError) -> [OrderRow] {
        let limit = max(1, query.limit)
        var merged: [OrderRow] = []
        var next = query
        while true {
            let stored = try page(next)
            merged += stored.filter { rows[$0.key] == nil }
            // Every row after a full page is older than the `limit` kept so far.
            guard stored.count == limit, merged.count < limit, let last = stored.last else { break }
            next.after = (last.createdAt, last.key)
        }
        merged += rows.values.filter(query.matches)
        merged.sort(by: OrderQuery.newestFirst)
        return Array(merged.prefix(limit))
    }

    /// Per status, how many orders there are, from the table's counts (`stored`) and the table's current row of
    /// each order this overlay holds (`storedRow`).
    func counts(_ stored: [Int32: Int], storedRow: (String) throws(SQLiteError) -> OrderRow?) throws(SQLiteError) -> [Int32: Int] {
        var counts = stored
        for (key, row) in rows {
            if let old = try storedRow(key) { counts[old.status, default: 0] -= 1 }
            counts[row.status, default: 0] += 1
        }
        return counts.filter { $0.value != 0 }
    }

    /// The stored rows with one of `statuses` that this overlay does not replace, and this overlay's rows with one.
    func merge(_ stored: [OrderRow], statuses: [Int32]) -> [OrderRow] {
        stored.filter { rows[$0.key] == nil } + rows.values.filter { statuses.contains($0.status) }
    }
}

extension OrderQuery {
    /// Whether `row` is in this query's answer (before its limit): the same conditions `JournalStore.orders`
    /// gives SQLite, where text compares as bytes (SQLite's BINARY collation, not Swift's Unicode order).
    func matches(_ row: OrderRow) -> Bool {
        guard row.account == account else { return false }
        if !statuses.isEmpty && !statuses.contains(row.status) { return false }
        if !symbol.isEmpty && row.symbol != symbol { return false }
        if createdAfter != 0 && !(row.createdAt > createdAfter) { return false }
        if createdBefore != 0 && !(row.createdAt < createdBefore) { return false }
        if !batchID.isEmpty && row.batchID != batchID { return false }
        if let after, !Self.precedes((row.createdAt, row.key), after) { return false }
        return true
    }

    /// The answer's order: by creation time, then key (as bytes), descending.
    static func newestFirst(_ left: OrderRow, _ right: OrderRow) -> Bool {
        precedes((right.createdAt, right.key), (left.createdAt, left.key))
    }

    /// (createdAt, key) < (createdAt, key), keys compared as UTF-8 bytes.
    fileprivate static func precedes(_ left: (Int64, String), _ right: (Int64, String)) -> Bool {
        left.0 != right.0 ? left.0 < right.0 : left.1.utf8.lexicographicallyPrecedes(right.1.utf8)
    }
}
