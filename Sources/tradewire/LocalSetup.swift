import EventLoop
import Foundation
import Gateway
import JSON
import Journal
import Cluster
import Telemetry

/// The files `tradewire local` keeps in its data folder: `cluster.json` (every service's configuration: addresses,
/// the mesh credential, instruments, the price feed, the demo account), `keys.json` (the gateway's API keys, as
/// hashes), `client.json` (what the client commands need: the gateway's and market data's addresses and the demo
/// accounts' API keys — never the mesh credential, which stays inside the cluster), `logs/` and the SQLite files.
/// The three files are created with mode 0600. Made once; later runs reuse them, so
/// orders, positions and candles survive a restart.
struct LocalSetup {
    /// Demo instruments: symbol, starting reference price in cents, and quantity scale (shares in whole units,
    /// crypto pairs in 10^-8).
    static let instruments: [(symbol: String, cents: Int, quantityScale: Int)] = [
        ("ACME", 10_000, 0), ("BOLT", 5_000, 0), ("ZETA", 25_000, 0), ("BTC/USD", 4_500_000, 8), ("ETH/USD", 250_000, 8),
    ]
    /// Two accounts, so that a first order has somebody to trade with (the client commands use the first unless
    /// told `--account`), and eight for load that wants an account per session (`tools/bench-e2e --client
    /// order-entry`: every session of an account hears all of its reports).
    static let accounts = ["demo", "demo-2"] + (1...8).map { "load-\($0)" }

    let directory: String
    var clusterPath: String { directory + "/cluster.json" }
    var clientPath: String { directory + "/client.json" }
    var keysPath: String { directory + "/keys.json" }
    var logDirectory: String { directory + "/logs" }

    var exists: Bool { FileManager.default.fileExists(atPath: clusterPath) && FileManager.default.fileExists(atPath: clientPath) }

    /// Writes a fresh setup; ports from `basePort` upwards (0: free ports, see `Socket.reservablePort`), the
    /// journals at `synchronous`.
    func create(basePort: Int, synchronous: JournalSynchronous = .full) throws {
        try FileManager.default.createDirectory(atPath: logDirectory, withIntermediateDirectories: true)
        let ports = try (0..<6).map { basePort == 0 ? try Socket.reservablePort() : basePort + $0 }
        let address = { (index: Int) in "127.0.0.1:\(ports[index])" }
        let mesh = RandomBytes.hex(24)
        let nodes = (1...3).map { "{\"id\": \"p\($0)\", \"address\": \"\(address(2 + $0))\"}" }
        let instrumentList = Self.instruments.map { instrument in
            // Shares: 1 to 100,000. Pairs: 0.00000001 to 100.
            let scale = instrument.quantityScale
            let maxQuantity = scale == 0 ? "100000" : "10000000000"
            return """
                {"symbol": "\(instrument.symbol)", "quoteCurrency": "USD", "priceScale": 2, "quantityScale": \(scale),
                 "tickSize": {"units": "1", "scale": 2}, "lotSize": {"units": "1", "scale": \(scale)}, "minQuantity": {"units": "1", "scale": \(scale)},
                 "maxQuantity": {"units": "\(maxQuantity)", "scale": \(scale)}, "priceBandBps": 1000, "status": "INSTRUMENT_STATUS_TRADING"}
            """
        }
        let prices = Self.instruments.map { "\"\($0.symbol)\": \($0.cents)" }.joined(separator: ", ")
        let cluster = """
            {
              "epoch": 1,
              "gateway": "\(address(0))",
              "marketdata": "\(address(1))",
              "risk": "\(address(2))",
              "nodes": [\(nodes.joined(separator: ", "))],
              "data_dir": ".",
              "synchronous": "\(synchronous.rawValue.lowercased())",
              "keys_file": "keys.json",
              "mesh_credential": "\(mesh)",
              "orders_per_second": 1000000,
              "settlement_ms": 1000,
              "instruments": [
            \(instrumentList.joined(separator: ",\n"))
              ],
              "feed": {"seed": 1, "interval_ms": 250, "step_bps": 5, "prices": {\(prices)}},
              "accounts": [
            \(Self.accounts.map { "    {\"account\": \"\($0)\", \"balance\": {\"units\": \"100000000\", \"currency\": \"USD\"}}" }.joined(separator: ",\n"))
              ]
            }

            """
        try PrivateFile.write(cluster, to: clusterPath)  // it holds the mesh credential
        let generated = Self.accounts.map { account in (account, APIKeys.generate()) }
        let keys: JSONValue = .object(["keys": .array(generated.map { account, key in
            .object(["id": .string(account + "-key"), "account": .string(account), "sha256": .string(key.sha256)])
        })])
        try PrivateFile.write(keys.text(pretty: true) + "\n", to: keysPath)
        let client: JSONValue = .object([
            "gateway": .string(address(0)), "account": .string(Self.accounts[0]),
            "api_keys": .object(JSONObject(generated.map { account, key in (account, .string(key.key)) })),
            "marketdata": .string(address(1)),
        ])
        try PrivateFile.write(client.text(pretty: true) + "\n", to: clientPath)
    }

}

/// What the client commands read from a data folder's `client.json`.
struct ClientFile {
    var gateway: String?
    /// The account the commands act for unless told otherwise.
    var account: String?
    /// API keys by account.
    var apiKeys: [String: String] = [:]
    var marketData: String?

    static func load(directory: String) throws -> ClientFile? {
        let path = directory + "/client.json"
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let json = try JSONValue.parse(try Files.read(path))
        var keys: [String: String] = [:]
        for (account, key) in json["api_keys"]?.objectValue?.members ?? [] { keys[account] = key.stringValue }
        return ClientFile(gateway: json["gateway"]?.stringValue, account: json["account"]?.stringValue, apiKeys: keys,
                          marketData: json["marketdata"]?.stringValue)
    }

    /// The key of `account` (default: the file's account).
    func apiKey(for account: String?) -> String? {
        (account ?? self.account).flatMap { apiKeys[$0] }
    }
}

struct LocalError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
