import Orders

/// The page token of ListOrders: "<created_at>/<order id>", the last order of the previous page (newest first).
/// The gateway and the nodes share it, and both check it strictly where it enters.
public enum PageToken {
    public static func text(createdAt: Int64, orderID: String) -> String { "\(createdAt)/\(orderID)" }

    /// The position a token names, or nil when it is not one this API gave.
    public static func parse(_ token: String) -> (createdAt: Int64, key: String)? {
        guard token.utf8.count <= 96 else { return nil }
        let parts = token.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[0].utf8.allSatisfy({ (0x30...0x39).contains($0) || $0 == 0x2d }),
              let createdAt = Int64(parts[0]), OrderBounds.isIdentifier(parts[1])
        else { return nil }
        return (createdAt, String(parts[1]))
    }
}
