import LoadHarness
import Protos
import RPC
import ServiceStubs

/// `tradewire load --scenario order-flow`: a trading client's traffic against the gateway, as unary calls. Of each
/// ten requests, six place a LIMIT GTC order, two cancel and two replace one placed ten to twenty requests
/// earlier (by its client order id). Buys and sells alternate across the symbols, priced from `spread` ticks short
/// of each symbol's mid to `spread` ticks through it, so some rest and some cross and fill: cancels and replaces
/// of orders that already filled are
/// answered FAILED_PRECONDITION, as a real client would see, and counted by status.
public struct OrderFlow: Sendable {
    /// A symbol and its mid price, in units of its price scale.
    public struct Market: Sendable {
        public var symbol: String
        public var mid: Int64

        public init(symbol: String, mid: Int64) {
            self.symbol = symbol
            self.mid = mid
        }
    }

    public let markets: [Market]
    public let priceScale: UInt32
    public let tick: Int64
    public let spread: Int64
    public let lot: Int64
    /// Prefixes client order ids so that runs do not collide (each run's orders are new).
    public let run: String

    public init(markets: [Market], priceScale: UInt32, tick: Int64, spread: Int64, lot: Int64, run: String) {
        precondition(!markets.isEmpty && tick > 0 && spread >= 0 && lot > 0, "an order flow needs a market, a tick and a lot")
        self.markets = markets
        self.priceScale = priceScale
        self.tick = tick
        self.spread = spread
        self.lot = lot
        self.run = run
    }

    public static let place = MethodDescriptor(service: "tradewire.v1.Gateway", method: "PlaceOrder")
    public static let cancel = MethodDescriptor(service: "tradewire.v1.Gateway", method: "CancelOrder")
    public static let replace = MethodDescriptor(service: "tradewire.v1.Gateway", method: "ReplaceOrder")

    /// "ACME:10000,BOLT:5000".
    public static func markets(_ text: String) throws(BenchError) -> [Market] {
        var markets: [Market] = []
        for item in text.split(separator: ",") {
            let parts = item.split(separator: ":")
            guard parts.count == 2, !parts[0].isEmpty, let mid = Int64(parts[1]), mid > 0 else {
                throw BenchError("--symbols: \"\(item)\" is not SYMBOL:MID (the mid in units of the price scale)")
            }
            markets.append(Market(symbol: String(parts[0]), mid: mid))
        }
        guard !markets.isEmpty else { throw BenchError("--symbols names no market") }
        return markets
    }

    public var source: RequestSource {
        .mixed { number in self.request(number) }
    }

    public func request(_ number: Int) -> (MethodDescriptor, [UInt8]) {
        switch entry(number).request {
        case .newOrder(let order): (Self.place, Tradewire_V1_PlaceOrderRequest(order: order).serializedBytes())
        case .cancel(let cancel): (Self.cancel, cancel.serializedBytes())
        case .replace(let replace): (Self.replace, replace.serializedBytes())
        }
    }

    /// Request `number` as an OrderEntry request's body, and the client order id it places or names.
    public func entry(_ number: Int) -> (request: Tradewire_V1_OrderEntryRequest.OneOf_Request, clientOrderID: String) {
        let slot = number % 10
        let target = number - 10 - slot + (slot % 6)  // A place of the block before.
        guard slot >= 6, target >= 0 else { return (.newOrder(place(number).order!), clientOrderID(number)) }
        let reference = Tradewire_V1_OrderRef(clientOrderID: clientOrderID(target))
        if slot < 8 { return (.cancel(Tradewire_V1_CancelOrderRequest(order: reference)), clientOrderID(target)) }
        let original = place(target).order!
        return (.replace(Tradewire_V1_ReplaceOrderRequest(order: reference, quantity: Tradewire_V1_Quantity(units: original.quantity!.units + lot))),
                clientOrderID(target))
    }

    public func place(_ number: Int) -> Tradewire_V1_PlaceOrderRequest {
        let market = markets[number % markets.count]
        let buy = (number / markets.count) % 2 == 0
        // From `spread` ticks short of the mid (resting) to `spread` ticks through it (crossing).
        let through = (Int64(number % Int(2 * spread + 1)) - spread) * tick
        var order = Tradewire_V1_NewOrder(
            clientOrderID: clientOrderID(number), symbol: market.symbol, side: buy ? .buy : .sell, type: .limit, timeInForce: .gtc,
            quantity: Tradewire_V1_Quantity(units: lot * Int64(1 + number % 3)))
        order.price = Tradewire_V1_Price(units: market.mid + (buy ? through : -through), scale: priceScale)
        return Tradewire_V1_PlaceOrderRequest(order: order)
    }

    public func clientOrderID(_ number: Int) -> String { "\(run)-\(number)" }
}
