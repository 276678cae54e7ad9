public import EventLoop
public import HashRing
public import Journal
import JSON
import Transport

/// One processor node of the cluster file.
public struct ClusterNode: Hashable, Sendable {
    public var id: String
    /// host:port where the node serves gRPC.
    public var address: String

    public init(id: String, address: String) {
        self.id = id
        self.address = address
    }
}

/// The processor cluster as its file describes it: the nodes (which build the ring), the ring's epoch, and the
/// settings every node shares.
///
/// ```json
/// {"epoch": 1,
///  "nodes": [{"id": "p1", "address": "127.0.0.1:7101"}, {"id": "p2", "address": "127.0.0.1:7102"}],
///  "risk": "127.0.0.1:7200", "marketdata": "127.0.0.1:7300", "risk_timeout_ms": 100, "settlement_ms": 1000,
///  "data_dir": "data", "synchronous": "full", "passivate_after_ms": 60000,
///  "mesh_credential": "a long random secret", "gateway": "127.0.0.1:7000", "keys_file": "keys.json",
///  "orders_per_second": 10000}
/// ```
public struct ClusterConfig: Sendable {
    /// Bumped whenever the node list changes: commands routed with an older ring are answered NotOwner, and a
    /// node whose ring is older than a command's refuses to write.
    public var epoch: UInt64
    public var nodes: [ClusterNode]
    /// The risk service's host:port; nil rejects every new order as RISK_UNAVAILABLE (never accepts unchecked).
    public var riskAddress: String?
    /// The market-data service's host:port (risk reads instruments and reference prices there).
    public var marketDataAddress: String?
    public var riskTimeout: Duration = .milliseconds(100)
    /// How long a FILLED order waits before it becomes SETTLED.
    public var settlementDelay: Duration = .seconds(1)
    /// Where each node keeps its journal (`<data_dir>/<node id>.sqlite`), relative to the file's folder.
    public var dataDirectory: String = "."
    public var synchronous: JournalSynchronous = .full
    /// An actor idle this long leaves memory (its state stays in the journal).
    public var passivateAfter: Duration = .seconds(60)
    /// The secret every call between Tradewire's services carries (see `meshAdmission`); nil admits every call.
    public var meshCredential: String?
    /// Where the gateway listens (host:port).
    public var gatewayAddress: String?
    /// The gateway's API keys (see the Gateway target's `APIKeys`), relative to the file's folder.
    public var keysFile: String?
    /// Orders per second the gateway admits per account unless its key says otherwise.
    public var ordersPerSecond = 10_000
    /// A reference price older than this is stale (`ReferencePrice`): the gateway and risk refuse orders that need
    /// one (a price band, a MARKET order's protection) until market data sends a fresh one.
    public var referenceMaxAge: Duration = .seconds(10)
    /// Long-lived streams (OrderEntry sessions and StreamExecutions) a gateway serves one account, and all
    /// accounts together: each holds a subscription on every node's feed connection, whose streams are bounded.
    public var maxStreamsPerAccount = 16
    public var maxStreams = 256
    /// Browser origins (`https://app.example:8443`) the gateway's HTTP/JSON API answers cross-origin requests from
    /// (CORS); empty, none: a page from elsewhere cannot call it. At most 32, each an http(s) origin.
    public var corsOrigins: [String] = []
    /// What risk and market data ask of each node's event stream (`EventFollower`): an empty batch after this long
    /// without events, and a stream that has brought nothing (not even that) for `eventStall` is abandoned for a
    /// new connection.
    public var eventHeartbeat: Duration = .seconds(1)
    public var eventStall: Duration = .seconds(5)

    public init(epoch: UInt64, nodes: [ClusterNode]) {
        self.epoch = epoch
        self.nodes = nodes
    }

    public func node(_ id: String) -> ClusterNode? { nodes.first { $0.id == id } }

    /// Parses the text of the cluster file at `path` (named in errors; a relative data_dir is taken relative to
    /// its folder). Every number is checked against the bound the README's Limits table gives.
    public static func parse(_ text: String, path: String = "cluster file") throws -> ClusterConfig {
        do {
            return try parse(JSONValue.parse(text), path: path)
        } catch let error as ClusterConfigError {
            throw error
        } catch {
            throw ClusterConfigError("\(path): \(error)")
        }
    }

    private static func parse(_ json: JSONValue, path: String) throws -> ClusterConfig {
        guard let epoch = try json.integer("epoch", in: 1...Int64.max) else {
            throw ClusterConfigError("\(path): \"epoch\" must be a positive integer")
        }
        guard let list = json["nodes"]?.arrayValue, (1...Self.maxNodes).contains(list.count) else {
            throw ClusterConfigError("\(path): \"nodes\" must list 1 to \(Self.maxNodes) nodes")
        }
        var nodes: [ClusterNode] = []
        for (index, entry) in list.enumerated() {
            guard let id = entry["id"]?.stringValue, Self.isNodeID(id), let address = entry["address"]?.stringValue,
                  SocketAddressText.split(address) != nil
            else {
                throw ClusterConfigError(
                    "\(path): nodes[\(index)] needs an \"id\" (1–32 characters of a–z, A–Z, 0–9, '-', '_') and an \"address\" of the form host:port")
            }
            guard !nodes.contains(where: { $0.id == id }) else { throw ClusterConfigError("\(path): node id \(id) appears twice") }
            nodes.append(ClusterNode(id: id, address: address))
        }
        var config = ClusterConfig(epoch: UInt64(epoch), nodes: nodes)
        config.riskAddress = json["risk"]?.stringValue
        config.marketDataAddress = json["marketdata"]?.stringValue
        config.gatewayAddress = json["gateway"]?.stringValue
        config.meshCredential = json["mesh_credential"]?.stringValue
        if let credential = config.meshCredential, credential.utf8.count < 16 || credential.utf8.count > 256
            || !credential.utf8.allSatisfy({ (0x21...0x7e).contains($0) })
        {
            throw ClusterConfigError("\(path): \"mesh_credential\" must be 16–256 printable ASCII characters without spaces")
        }
        config.keysFile = json["keys_file"]?.stringValue.map { Self.relative($0, to: path) }
        if let rate = try json.integer("orders_per_second", in: 1...10_000_000) { config.ordersPerSecond = Int(rate) }
        for (key, address) in [("risk", config.riskAddress), ("marketdata", config.marketDataAddress), ("gateway", config.gatewayAddress)] {
            if let address, SocketAddressText.split(address) == nil {
                throw ClusterConfigError("\(path): \"\(key)\" must be host:port, not \"\(address)\"")
            }
        }
        if let milliseconds = try json.integer("risk_timeout_ms", in: 1...60_000) { config.riskTimeout = .milliseconds(milliseconds) }
        if let milliseconds = try json.integer("settlement_ms", in: 0...86_400_000) { config.settlementDelay = .milliseconds(milliseconds) }
        if let milliseconds = try json.integer("passivate_after_ms", in: 1...86_400_000) {
            config.passivateAfter = .milliseconds(milliseconds)
        }
        if let count = try json.integer("max_streams", in: 1...1000) { config.maxStreams = Int(count) }
        if let count = try json.integer("max_streams_per_account", in: 1...1000) { config.maxStreamsPerAccount = Int(count) }
        if let milliseconds = try json.integer("reference_max_age_ms", in: 1...86_400_000) {
            config.referenceMaxAge = .milliseconds(milliseconds)
        }
        if let origins = json["cors_origins"] {
            let invalid = ClusterConfigError("\(path): \"cors_origins\" must be a list of at most 32 origins such as \"https://app.example\" (no path)")
            guard let list = origins.arrayValue, list.count <= 32 else { throw invalid }
            let texts = list.compactMap(\.stringValue)
            guard texts.count == list.count, texts.allSatisfy(Self.isOrigin) else { throw invalid }
            config.corsOrigins = texts
        }
        if let milliseconds = try json.integer("event_heartbeat_ms", in: 100...60_000) {
            config.eventHeartbeat = .milliseconds(milliseconds)
        }
        if let milliseconds = try json.integer("event_stall_ms", in: 300...600_000) { config.eventStall = .milliseconds(milliseconds) }
        guard config.eventStall >= config.eventHeartbeat * 3 else {
            throw ClusterConfigError("\(path): \"event_stall_ms\" must be at least three heartbeats (\"event_heartbeat_ms\")")
        }
        if let directory = json["data_dir"]?.stringValue { config.dataDirectory = directory }
        if let mode = json["synchronous"]?.stringValue {
            guard let synchronous = JournalSynchronous(rawValue: mode.uppercased()) else {
                throw ClusterConfigError("\(path): \"synchronous\" is \"full\" or \"normal\", not \"\(mode)\"")
            }
            config.synchronous = synchronous
        }
        config.dataDirectory = relative(config.dataDirectory, to: path)
        return config
    }

    /// Nodes a cluster file may list.
    public static let maxNodes = 256

    /// A node id: 1–32 characters of a–z, A–Z, 0–9, '-' and '_' (it appears in cursors, file names and ids).
    public static func isNodeID(_ text: some StringProtocol) -> Bool {
        (1...32).contains(text.utf8.count)
            && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x41...0x5a).contains($0) || (0x61...0x7a).contains($0) || $0 == 0x2d || $0 == 0x5f }
    }

    /// `file` taken relative to the folder of the cluster file at `path`.
    private static func relative(_ file: String, to path: String) -> String {
        guard !file.hasPrefix("/"), let slash = path.lastIndex(of: "/") else { return file }
        return String(path[...slash]) + file
    }
}

public struct ClusterConfigError: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) { self.description = description }
}

/// host:port text, split at the last colon ("[::1]:80" keeps its brackets off the host).
public enum SocketAddressText {
    public static func split(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            return nil
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host.isEmpty ? nil : (host, port)
    }

    /// A numeric host:port to listen on.
    public static func socketAddress(_ text: String) -> SocketAddress? {
        split(text).flatMap { SocketAddress(host: $0.host, port: $0.port) }
    }
}

/// The ring of one epoch: which node owns an order (by OrderId) or a book (by symbol).
public struct ClusterRing: Sendable {
    public let epoch: UInt64
    public let ring: HashRing<ClusterNode>

    public init(_ config: ClusterConfig) {
        epoch = config.epoch
        ring = HashRing(nodes: config.nodes, key: \.id)
    }

    public func owner(of key: RingKey) -> ClusterNode { ring.node(forKey: key.text) }

    /// The hash ranges `node` owns: each is (exclusive lower bound, inclusive upper bound] on the 64-bit circle,
    /// the last one wrapping past 2^64 − 1 to the ring's first point.
    public func ranges(of nodeID: String) -> [(after: UInt64, through: UInt64)] {
        let points = ring.points
        return points.indices.compactMap { index in
            guard ring.nodes[points[index].node].id == nodeID else { return nil }
            let previous = points[index == 0 ? points.count - 1 : index - 1].hash
            return (previous, points[index].hash)
        }
    }

    /// The share of the 64-bit hash space `node` owns (0…1).
    public func share(of nodeID: String) -> Double {
        ranges(of: nodeID).reduce(0.0) { $0 + Double($1.through &- $1.after) } / 18_446_744_073_709_551_616.0
    }
}

extension ClusterConfig {
    /// `http(s)://host[:port]`, nothing after: what a browser sends as `Origin`.
    static func isOrigin(_ text: String) -> Bool {
        let rest = text.hasPrefix("https://") ? text.dropFirst(8) : text.hasPrefix("http://") ? text.dropFirst(7) : nil
        guard let rest, !rest.isEmpty, text.utf8.count <= 256 else { return false }
        return rest.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-.:[]".contains($0)) }
    }
}
