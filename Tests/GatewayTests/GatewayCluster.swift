import ClusterTestSupport
import Foundation
import Gateway
import Cluster
import Protos
import RPC
import ServiceStubs
import Testing
import TestSupport
import Transport
import EventLoop

/// A gateway in this process in front of three processor processes, the real risk and market data, with the mesh
/// credential on: what a trading client sees on 127.0.0.1.
final class GatewayCluster: @unchecked Sendable {
    // @unchecked Sendable: used by one test at a time.
    static let extra = """
        , "mesh_credential": "mesh-credential-for-tests-0123",
          "instruments": [
            {"symbol": "ACME", "quoteCurrency": "USD", "priceScale": 2, "quantityScale": 0, "tickSize": {"units": "5", "scale": 2},
             "lotSize": {"units": "10"}, "minQuantity": {"units": "10"}, "maxQuantity": {"units": "10000"}, "priceBandBps": 1000,
             "status": "INSTRUMENT_STATUS_TRADING"},
            {"symbol": "BOLT", "quoteCurrency": "USD", "priceScale": 2, "quantityScale": 0, "tickSize": {"units": "1", "scale": 2},
             "lotSize": {"units": "1"}, "priceBandBps": 2000, "status": "INSTRUMENT_STATUS_TRADING"},
            {"symbol": "HALT", "quoteCurrency": "USD", "priceScale": 2, "quantityScale": 0, "tickSize": {"units": "1", "scale": 2},
             "lotSize": {"units": "1"}, "status": "INSTRUMENT_STATUS_HALTED"}],
          "feed": {"seed": 7, "interval_ms": 50, "step_bps": 0, "prices": {"ACME": 10000, "BOLT": 5000}},
          "accounts": [
            {"account": "alice", "balance": {"units": "100000000", "currency": "USD"}},
            {"account": "bob", "balance": {"units": "100000000", "currency": "USD"}},
            {"account": "slow", "balance": {"units": "100000000", "currency": "USD"}}]
        """

    let cluster: ProcessorCluster
    let keys: [String: String]
    let apiKeys: APIKeys
    let port: Int
    private(set) var gateway: GatewayServer?
    private var channels: [Channel] = []

    private init(cluster: ProcessorCluster, keys: [String: String], apiKeys: APIKeys) async throws {
        self.cluster = cluster
        self.keys = keys
        self.apiKeys = apiKeys
        port = try Peers.freePort()
        try await startGateway()
    }

    /// The accounts' keys, and a keys file with their digests (market data reads it: clients read market data
    /// with their API keys).
    static func makeKeys() throws -> (keys: [String: String], apiKeys: APIKeys, file: String) {
        var keys: [String: String] = [:]
        var entries: [(sha256: String, entry: APIKeys.Entry)] = []
        var lines: [String] = []
        for (account, rate) in [("alice", nil), ("bob", nil), ("slow", 2)] as [(String, Int?)] {
            let (key, digest) = APIKeys.generate()
            keys[account] = key
            entries.append((digest, APIKeys.Entry(id: account, account: account, ordersPerSecond: rate)))
            lines.append("{\"id\": \"\(account)\", \"account\": \"\(account)\", \"sha256\": \"\(digest)\"}")
        }
        let file = try ProcessorCluster.temporaryDirectory() + "/keys.json"
        try "{\"keys\": [\(lines.joined(separator: ", "))]}".write(toFile: file, atomically: true, encoding: .utf8)
        return (keys, APIKeys(entries), file)
    }

    /// - Parameter extraConfig: more members of the cluster file, each starting with a comma.
    static func with(extraConfig: String = "", _ body: (GatewayCluster) async throws -> Void) async throws {
        let (keys, apiKeys, file) = try makeKeys()
        defer { try? FileManager.default.removeItem(atPath: (file as NSString).deletingLastPathComponent) }
        try await ProcessorCluster.with(extra: extra + ", \"keys_file\": \"\(file)\"" + extraConfig, services: true) { cluster in
            let gateway = try await GatewayCluster(cluster: cluster, keys: keys, apiKeys: apiKeys)
            do {
                try await body(gateway)
            } catch {
                await gateway.stop()
                throw error
            }
            await gateway.stop()
        }
    }

    /// Starts (or restarts) the gateway on its port and waits until it knows the instruments and ACME's price.
    func startGateway() async throws {
        let server = try GatewayServer(config: cluster.config, configPath: cluster.configPath, keys: apiKeys,
                                       listen: SocketAddress(host: "127.0.0.1", port: port)!)
        try await server.start()
        gateway = server
        let client = try client("alice")
        let ready = try await waitUntil {
            do {
                // Never placed: 15 is not a multiple of ACME's lot.
                _ = try await client.placeOrder(Tradewire_V1_PlaceOrderRequest(order: Self.order("probe", side: .buy, price: 1_000_000, quantity: 15)))
                return false
            } catch {
                // A price far off the reference is refused by the band too, once the reference price is known.
                let error = RPCError(from: error)
                return error.code == .invalidArgument && error.message.contains("reference price")
            }
        }
        #expect(ready, "the gateway never learned the instruments and ACME's reference price")
    }

    func stopGateway() async {
        await gateway?.shutdown()
        gateway = nil
    }

    func stop() async {
        await stopGateway()
        for channel in channels { await channel.shutdown() }
    }

    /// A gateway client whose calls carry `account`'s API key (or `key` as given).
    func client(_ account: String? = nil, key: String? = nil) throws -> Tradewire_V1_Gateway.Client {
        var configuration = ChannelConfiguration()
        if let bearer = key ?? account.flatMap({ keys[$0] }) { configuration.metadata = ["authorization": .string("Bearer \(bearer)")] }
        let channel = try Channel(host: "127.0.0.1", port: port, configuration: configuration)
        channels.append(channel)
        return Tradewire_V1_Gateway.Client(channel)
    }

    static func order(_ clientOrderID: String, symbol: String = "ACME", side: Tradewire_V1_Side, type: Tradewire_V1_OrderType = .limit,
                      tif: Tradewire_V1_TimeInForce = .gtc, price: Int64?, quantity: Int64) -> Tradewire_V1_NewOrder
    {
        var order = Tradewire_V1_NewOrder(clientOrderID: clientOrderID, symbol: symbol, side: side, type: type, timeInForce: tif,
                                          quantity: Tradewire_V1_Quantity(units: quantity))
        if let price { order.price = Tradewire_V1_Price(units: price, scale: 2) }
        return order
    }

    /// Polls GetOrder until the order reaches one of `statuses`.
    static func waitFor(_ client: Tradewire_V1_Gateway.Client, _ id: String, _ statuses: Tradewire_V1_OrderStatus...) async throws
        -> Tradewire_V1_Order
    {
        var last = Tradewire_V1_Order()
        let reached = try await waitUntil {
            last = try await client.getOrder(Tradewire_V1_GetOrderRequest(order: Tradewire_V1_OrderRef(orderID: Tradewire_V1_OrderId(value: id))))
            return statuses.contains(last.status)
        }
        #expect(reached, "order \(id) stayed \(last.status), never \(statuses)")
        return last
    }
}
