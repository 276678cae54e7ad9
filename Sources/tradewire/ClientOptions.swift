import ArgumentParser
import Foundation
import Cluster
import ProtoCodec
import ProtoJSON
import Protos
import RPC
import Transport

/// Where the client commands find the gateway, market data and their credentials: flags, then environment
/// variables, then the `client.json` that `tradewire local` wrote into its data folder.
struct ClientOptions: ParsableArguments {
    @Option(help: "The data folder of `tradewire local` (its client.json names the addresses and keys). Environment: TRADEWIRE_DATA.")
    var data: String?

    @Option(help: "The gateway's host:port. Environment: TRADEWIRE_GATEWAY.")
    var gateway: String?

    @Option(help: "The API key for the gateway. Environment: TRADEWIRE_API_KEY.")
    var apiKey: String?

    @Option(help: "Act for this account of client.json (`tradewire local` makes demo and demo-2; default: demo).")
    var account: String?

    @Option(help: "Market data's host:port. Environment: TRADEWIRE_MARKETDATA.")
    var marketdata: String?

    @Option(help: "An operator's mesh credential for market data, instead of the API key (its admin calls need it). Environment: TRADEWIRE_MESH_CREDENTIAL.")
    var meshCredential: String?

    @Option(help: "Sent as x-request-id, and logged with it by every service the call reaches (default: a new one).")
    var requestID: String?

    @Option(help: "Seconds a call may take.")
    var timeout: Double = 10

    private func file() throws -> ClientFile? {
        try ClientFile.load(directory: data ?? Environment.value("TRADEWIRE_DATA") ?? ".tradewire")
    }

    var callOptions: CallOptions { CallOptions(timeout: .milliseconds(Int64(timeout * 1000))) }

    /// A channel to the gateway whose calls carry the API key and a request id.
    func gatewayChannel() throws -> Channel {
        let saved = try file()
        guard let address = gateway ?? Environment.value("TRADEWIRE_GATEWAY") ?? saved?.gateway else {
            throw ValidationError("no gateway: pass --gateway, set TRADEWIRE_GATEWAY, or run where `tradewire local` keeps .tradewire (or pass --data)")
        }
        return try channel(address, bearer: try apiKeyToUse(saved))
    }

    /// A channel to market data whose calls carry the API key (its read calls take one), or an operator's mesh
    /// credential when given explicitly.
    func marketDataChannel() throws -> Channel {
        let saved = try file()
        guard let address = marketdata ?? Environment.value("TRADEWIRE_MARKETDATA") ?? saved?.marketData else {
            throw ValidationError("no market data: pass --marketdata, set TRADEWIRE_MARKETDATA, or pass --data")
        }
        if let mesh = meshCredential ?? Environment.value("TRADEWIRE_MESH_CREDENTIAL") { return try channel(address, bearer: mesh) }
        return try channel(address, bearer: try apiKeyToUse(saved))
    }

    private func apiKeyToUse(_ saved: ClientFile?) throws -> String {
        guard let key = apiKey ?? Environment.value("TRADEWIRE_API_KEY") ?? saved?.apiKey(for: account) else {
            throw ValidationError("no API key: pass --api-key or set TRADEWIRE_API_KEY" + (account.map { " (client.json has no key for \($0))" } ?? ""))
        }
        return key
    }

    private func channel(_ address: String, bearer: String?) throws -> Channel {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) else {
            throw ValidationError("\(address) is not host:port")
        }
        var configuration = ChannelConfiguration()
        var metadata: Metadata = ["x-request-id": .string(requestID ?? "cli-" + UUID().uuidString.lowercased())]
        if let bearer { metadata.add("authorization", "Bearer \(bearer)") }
        configuration.metadata = metadata
        return try Channel(host: String(address[..<colon]), port: port, configuration: configuration)
    }
}

/// Output of the client commands: messages as proto3 JSON.
enum Output {
    static let codec = ProtoJSON(catalog: .protos)

    static func print<Message: ProtoMessage>(_ message: Message, pretty: Bool = true) {
        do {
            Swift.print(try codec.decode(message.serializedBytes(), as: Message.self).text(pretty: pretty))
        } catch {
            Swift.print("(\(Message.protoMessageName) that does not map to JSON: \(error))")
        }
        fflush(nil)
    }

    /// A stream's messages, one JSON line each, until it ends or `count` have been printed.
    static func printLines<Message: ProtoMessage>(_ messages: RPCResponseStream<Message>, count: Int?) async throws {
        var seen = 0
        for try await message in messages {
            print(message, pretty: false)
            seen += 1
            if let count, seen >= count { return }
        }
    }
}

/// Decimal text ("100.25") as units and scale (10025, 2), for prices and quantities.
enum DecimalText {
    static func parse(_ text: String, name: String) throws -> (units: Int64, scale: UInt32) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        let digitsOnly = parts.allSatisfy { !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }
        guard (1...2).contains(parts.count), digitsOnly, let units = Int64(parts.joined()) else {
            throw ValidationError("--\(name) \(text) is not a decimal number such as 100 or 100.25")
        }
        return (units, UInt32(parts.count == 2 ? parts[1].count : 0))
    }

    static func price(_ text: String) throws -> Tradewire_V1_Price {
        let (units, scale) = try parse(text, name: "price")
        return Tradewire_V1_Price(units: units, scale: scale)
    }

    static func quantity(_ text: String) throws -> Tradewire_V1_Quantity {
        let (units, scale) = try parse(text, name: "quantity")
        return Tradewire_V1_Quantity(units: units, scale: scale)
    }
}

/// Channels close when the command is done with them.
func withChannel<Result>(_ channel: Channel, _ body: (Channel) async throws -> Result) async throws -> Result {
    do {
        let result = try await body(channel)
        await channel.shutdown()
        return result
    } catch {
        await channel.shutdown()
        throw error
    }
}
