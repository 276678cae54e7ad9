import Foundation
import JSON
public import RPC

/// The gateway's API keys, from the keys file. Only SHA-256 digests of the keys are stored: a key is 32 random
/// bytes (`tw_` and 64 hex digits), so an unsalted digest cannot be reversed, and the file can be read by
/// operators without giving anyone a key.
///
/// ```json
/// {"keys": [{"id": "desk-1", "account": "acct-1", "sha256": "<64 hex digits>", "orders_per_second": 5000}]}
/// ```
public struct APIKeys: Sendable {
    /// Who a key speaks for.
    public struct Entry: Sendable {
        public var id: String
        public var account: String
        /// The key's own rate limit (nil: the gateway's default).
        public var ordersPerSecond: Int?
        /// The account's OrderIds.
        public var ids: OrderIDs

        public init(id: String, account: String, ordersPerSecond: Int? = nil) {
            self.id = id
            self.account = account
            self.ordersPerSecond = ordersPerSecond
            ids = OrderIDs(account: account)
        }
    }

    private let byDigest: [String: Entry]

    public init(_ entries: [(sha256: String, entry: Entry)]) {
        byDigest = Dictionary(entries.map { ($0.sha256, $0.entry) }, uniquingKeysWith: { first, _ in first })
    }

    public var count: Int { byDigest.count }

    public static func load(path: String) throws -> APIKeys {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw GatewayError("cannot read the keys file \(path)") }
        return try parse(text, path: path)
    }

    public static func parse(_ text: String, path: String = "keys file") throws -> APIKeys {
        let json: JSONValue
        do { json = try JSONValue.parse(text) } catch { throw GatewayError("\(path): \(error)") }
        guard let list = json["keys"]?.arrayValue else { throw GatewayError("\(path): \"keys\" must be a list") }
        var entries: [(String, Entry)] = []
        for (index, item) in list.enumerated() {
            guard let id = item["id"]?.stringValue, let account = item["account"]?.stringValue, !account.isEmpty,
                  let digest = item["sha256"]?.stringValue, digest.count == 64, digest.allSatisfy({ $0.isHexDigit && !$0.isUppercase })
            else {
                throw GatewayError("\(path): keys[\(index)] needs \"id\", \"account\" and \"sha256\" (64 lower-case hex digits)")
            }
            let rate = item["orders_per_second"]?.int64Value.map(Int.init)
            if let rate, rate <= 0 { throw GatewayError("\(path): keys[\(index)]: \"orders_per_second\" must be positive") }
            entries.append((digest, Entry(id: id, account: account, ordersPerSecond: rate)))
        }
        return APIKeys(entries)
    }

    /// The entry of the key in `authorization: Bearer <key>`; UNAUTHENTICATED without one or for an unknown key.
    public func authenticate(_ metadata: Metadata) throws(RPCError) -> Entry {
        guard let header = metadata["authorization"] else {
            throw RPCError(code: .unauthenticated, message: "no API key: send \"authorization: Bearer <key>\"")
        }
        guard header.hasPrefix("Bearer ") else {
            throw RPCError(code: .unauthenticated, message: "the authorization header is not \"Bearer <key>\"")
        }
        // Looked up by digest: the time taken does not depend on how much of a stored key the presented one shares.
        guard let entry = byDigest[SHA256.hex(header.utf8.dropFirst(7))] else {
            throw RPCError(code: .unauthenticated, message: "the API key is not valid")
        }
        return entry
    }

    /// A new random key and the digest to store for it.
    public static func generate() -> (key: String, sha256: String) {
        var generator = SystemRandomNumberGenerator()
        let key = "tw_" + Hex.encode((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
        return (key, SHA256.hex(key.utf8))
    }
}

public struct GatewayError: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) { self.description = description }
}
