import Foundation
import JSON
import Locks
public import RPC

/// The API keys of the cluster's clients, from the keys file (the gateway authenticates every call with them,
/// market data its read calls). Only SHA-256 digests of the keys are stored: a key is 32 random
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
    private let recent = RecentKeys()

    public init(_ entries: [(sha256: String, entry: Entry)]) {
        byDigest = Dictionary(entries.map { ($0.sha256, $0.entry) }, uniquingKeysWith: { first, _ in first })
    }

    public var count: Int { byDigest.count }

    public static func load(path: String) throws -> APIKeys {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw KeysFileError("cannot read the keys file \(path)") }
        return try parse(text, path: path)
    }

    public static func parse(_ text: String, path: String = "keys file") throws -> APIKeys {
        let json: JSONValue
        do { json = try JSONValue.parse(text) } catch { throw KeysFileError("\(path): \(error)") }
        guard let list = json["keys"]?.arrayValue else { throw KeysFileError("\(path): \"keys\" must be a list") }
        var entries: [(String, Entry)] = []
        for (index, item) in list.enumerated() {
            guard let id = item["id"]?.stringValue, let account = item["account"]?.stringValue, !account.isEmpty,
                  let digest = item["sha256"]?.stringValue, digest.count == 64, digest.allSatisfy({ $0.isHexDigit && !$0.isUppercase })
            else {
                throw KeysFileError("\(path): keys[\(index)] needs \"id\", \"account\" and \"sha256\" (64 lower-case hex digits)")
            }
            let rate = item["orders_per_second"]?.int64Value.map(Int.init)
            if let rate, rate <= 0 { throw KeysFileError("\(path): keys[\(index)]: \"orders_per_second\" must be positive") }
            entries.append((digest, Entry(id: id, account: account, ordersPerSecond: rate)))
        }
        return APIKeys(entries)
    }

    /// The entry of the key in `authorization: Bearer <key>`; UNAUTHENTICATED without one, for an unknown key, or
    /// when the header is sent twice (which one would win depends on header order: neither does). The scheme is
    /// case-insensitive (RFC 9110 §11.1); spaces around the key are not part of it.
    public func authenticate(_ metadata: Metadata) throws(RPCError) -> Entry {
        let headers = metadata.values("authorization")
        guard let header = headers.first else {
            throw RPCError(code: .unauthenticated, message: "no API key: send \"authorization: Bearer <key>\"")
        }
        guard headers.count == 1 else {
            throw RPCError(code: .unauthenticated, message: "\(headers.count) authorization headers: send exactly one")
        }
        guard let key = Self.bearerToken(header) else {
            throw RPCError(code: .unauthenticated, message: "the authorization header is not \"Bearer <key>\"")
        }
        guard let entry = entry(forKey: key) else { throw RPCError(code: .unauthenticated, message: "the API key is not valid") }
        return entry
    }

    /// The entry of a presented key. Looked up by digest: the time taken does not depend on how much of a stored
    /// key the presented one shares.
    /// Keys that passed are remembered (see ``RecentKeys``), so that a client's every call does not pay for a digest.
    public func entry(forKey key: some StringProtocol) -> Entry? {
        let token = Array(key.utf8)
        if let entry = recent.entry(for: token) { return entry }
        guard let entry = byDigest[SHA256.hex(token)] else { return nil }
        recent.remember(token, entry)
        return entry
    }

    /// The token of a "Bearer <token>" header value (scheme in any case, spaces or tabs between, at most 512
    /// bytes of token without spaces); nil for anything else.
    public static func bearerToken(_ header: String) -> Substring? {
        let text = Substring(header).trimmingWhitespace
        guard let space = text.utf8.firstIndex(where: { $0 == 0x20 || $0 == 0x09 }) else { return nil }
        let scheme = text[..<space]
        guard scheme.utf8.count == 6, scheme.lowercased() == "bearer" else { return nil }
        let token = text[space...].trimmingWhitespace
        guard (1...512).contains(token.utf8.count), !token.utf8.contains(where: { $0 == 0x20 || $0 == 0x09 }) else { return nil }
        return token
    }

    /// A new random key and the digest to store for it.
    public static func generate() -> (key: String, sha256: String) {
        let key = "tw_" + RandomBytes.hex(32)
        return (key, SHA256.hex(key.utf8))
    }
}

/// A keys file that cannot be read or is not well-formed.
public struct KeysFileError: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) { self.description = description }
}

extension Substring {
    /// Without leading and trailing spaces and tabs.
    var trimmingWhitespace: Substring {
        var text = self
        while let first = text.utf8.first, first == 0x20 || first == 0x09 { text = text.dropFirst() }
        while let last = text.utf8.last, last == 0x20 || last == 0x09 { text = text.dropLast() }
        return text
    }
}

/// Keys that authenticated lately, by a hash with this process's random seed, compared in full in constant time: a
/// presented key's time to be refused does not depend on how much of a remembered key it shares. Only keys that
/// passed are remembered, at most `capacity` (then it starts over), so that garbage keys cannot grow it.
final class RecentKeys: Sendable {
    static let capacity = 1024
    private let keys = Lock<[Int: (token: [UInt8], entry: APIKeys.Entry)]>([:])

    func entry(for token: [UInt8]) -> APIKeys.Entry? {
        guard let known = keys.withLock({ $0[Self.hash(token)] }), Self.equal(known.token, token) else { return nil }
        return known.entry
    }

    func remember(_ token: [UInt8], _ entry: APIKeys.Entry) {
        keys.withLock { keys in
            if keys.count >= Self.capacity { keys.removeAll(keepingCapacity: true) }
            keys[Self.hash(token)] = (token, entry)
        }
    }

    private static func hash(_ token: [UInt8]) -> Int {
        var hasher = Hasher()
        token.withUnsafeBytes { hasher.combine(bytes: $0) }
        return hasher.finalize()
    }

    /// Equal bytes, in time that depends on the lengths only.
    private static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
