import JSON
import Protos
import ProtoJSON

/// The risk service's part of the cluster file:
///
/// ```json
/// {"risk": "127.0.0.1:7200",
///  "accounts": [{"account": "acct-1", "balance": {"units": "1000000", "currency": "USD"},
///                "limits": {"maxOrderQuantity": {"units": "10000"}, "maxOpenOrders": 100}}],
///  "unconfirmed_reservation_ms": 30000}
/// ```
///
/// Accounts are in the proto3 JSON form of `tradewire.v1.Account` (balance and limits are read); they are set up
/// the first time the service sees them (afterwards SetLimits and SetBalance change them, and the store wins).
public struct RiskSettings: Sendable {
    public var accounts: [Tradewire_V1_Account] = []
    /// How long a check's reservation is held when its order never appears in the processors' events.
    public var unconfirmedTTL: Duration = .seconds(30)

    public init() {}

    public static func parse(_ text: String, path: String = "cluster file") throws -> RiskSettings {
        let json: JSONValue
        do { json = try JSONValue.parse(text) } catch { throw RiskError("\(path): \(error)") }
        var settings = RiskSettings()
        let codec = ProtoJSON(catalog: .protos)
        for (index, entry) in (json["accounts"]?.arrayValue ?? []).enumerated() {
            do {
                settings.accounts.append(try Tradewire_V1_Account(serializedBytes: codec.encode(entry, as: Tradewire_V1_Account.self)))
            } catch {
                throw RiskError("\(path): accounts[\(index)]: \(error)")
            }
        }
        for (index, account) in settings.accounts.enumerated() {
            if let problem = RiskEngine.problem(account.limits ?? Tradewire_V1_AccountLimits()) {
                throw RiskError("\(path): accounts[\(index)].limits: \(problem)")
            }
            if let balance = account.balance, Cash.units(balance.units, scale: balance.scale) == nil {
                throw RiskError("\(path): accounts[\(index)].balance has more than \(Cash.scale) decimals or does not fit in 64 bits")
            }
        }
        do {
            if let milliseconds = try json.integer("unconfirmed_reservation_ms", in: 1...86_400_000) {
                settings.unconfirmedTTL = .milliseconds(milliseconds)
            }
        } catch {
            throw RiskError("\(path): \(error)")
        }
        return settings
    }
}

public struct RiskError: Error, CustomStringConvertible {
    public var description: String

    init(_ description: String) { self.description = description }
}
