internal import CXXHash

/// A consistent-hash ring with virtual nodes, keyed by XXH64 (seed 0): each node holds many points on a 64-bit
/// circle, and a key belongs to the first point at or after its hash, going clockwise. Adding or removing one node
/// moves only the keys of that node's points. The same ring places orders on processor nodes (the gateway's
/// router, a node's ownership check) and picks backends for a client channel's ring-hash policy.
public struct HashRing<Node: Hashable & Sendable>: Sendable {
    public struct Point: Hashable, Sendable {
        public let hash: UInt64
        /// Index into ``nodes``.
        public let node: Int
    }

    public let nodes: [Node]
    /// Points sorted by hash.
    public let points: [Point]

    /// Builds the ring: every node gets `pointsPerNode` points (so the ring has at least 1024, as gRPC's
    /// ring_hash asks). A node's points are the hashes of "\(key)_\(i)", where `key` names it stably (an address, a
    /// node ID): they depend on the node alone, so adding or removing a node never moves the others' points, and
    /// every process builds the same ring from the same list.
    public init(nodes: [Node], key: (Node) -> String, pointsPerNode: Int = 1024) {
        precondition(!nodes.isEmpty, "a ring needs at least one node")
        precondition(pointsPerNode > 0, "a node needs at least one point")
        self.nodes = nodes
        let perNode = pointsPerNode
        var points: [Point] = []
        points.reserveCapacity(perNode * nodes.count)
        for (index, node) in nodes.enumerated() {
            let name = key(node)
            for replica in 0..<perNode {
                points.append(Point(hash: Self.hash("\(name)_\(replica)"), node: index))
            }
        }
        // Ties (vanishingly rare) break by node order, so that every process sorts identically.
        self.points = points.sorted { $0.hash != $1.hash ? $0.hash < $1.hash : $0.node < $1.node }
    }

    /// XXH64 of the UTF-8 bytes of `key`, seed 0.
    public static func hash(_ key: String) -> UInt64 {
        var key = key
        return key.withUTF8 { XXH64($0.baseAddress, $0.count, 0) }
    }

    /// XXH64 of `bytes`, seed 0.
    public static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        XXH64(bytes.baseAddress, bytes.count, 0)
    }

    /// The index (into ``points``) of the first point at or after `hash`, wrapping around.
    public func pointIndex(for hash: UInt64) -> Int {
        var low = 0
        var high = points.count
        while low < high {
            let middle = (low + high) / 2
            if points[middle].hash < hash { low = middle + 1 } else { high = middle }
        }
        return low == points.count ? 0 : low
    }

    /// The node owning `hash`.
    public func node(for hash: UInt64) -> Node {
        nodes[points[pointIndex(for: hash)].node]
    }

    /// The node owning `key`.
    public func node(forKey key: String) -> Node {
        node(for: Self.hash(key))
    }

    /// Distinct nodes in ring order starting at `hash`'s owner: the owner, then who would own the key if the
    /// nodes before were gone (for failing over to the next node).
    public func successors(for hash: UInt64) -> [Int] {
        var seen = Set<Int>()
        var order: [Int] = []
        var index = pointIndex(for: hash)
        for _ in 0..<points.count where order.count < nodes.count {
            let node = points[index].node
            if seen.insert(node).inserted { order.append(node) }
            index = index + 1 == points.count ? 0 : index + 1
        }
        return order
    }
}
