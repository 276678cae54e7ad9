import Locks
import Protos

/// What the gateway remembers of recent orders so that a replace is checked against its instrument without a
/// `GetOrder` round trip to the order's node: the order's symbol, side, type and time in force (fixed for its
/// life) and its price and quantity as the node last reported them.
///
/// Filled only from the nodes' own answers (the order an acknowledgement or a `GetOrder` carries) and updated from
/// the execution reports the gateway follows, never from a request: it may lag the node by the reports in flight
/// (a price a REPLACED report is still carrying), never name another instrument. The node and risk check every
/// replace against the order's real state again — and refuses one of an order that is done, which a trading client
/// sends often (a replace racing a fill), so done orders are remembered too. At most ``capacity`` orders (about
/// 200 bytes each); the oldest leave first.
final class OrderTerms: Sendable {
    struct Terms: Equatable {
        var account: String
        var symbol: String
        var side: Tradewire_V1_Side
        var type: Tradewire_V1_OrderType
        var timeInForce: Tradewire_V1_TimeInForce
        var price: Tradewire_V1_Price?
        var quantity: Tradewire_V1_Quantity?

        /// The order with `replace`'s new price or quantity, the rest as it is.
        func replaced(price newPrice: Tradewire_V1_Price?, quantity newQuantity: Tradewire_V1_Quantity?) -> Tradewire_V1_NewOrder {
            var order = Tradewire_V1_NewOrder(symbol: symbol, side: side, type: type, timeInForce: timeInForce,
                                              price: newPrice ?? price, quantity: newQuantity ?? quantity)
            if type == .market { order.price = nil }
            return order
        }
    }

    let capacity: Int
    private let state: Lock<State>

    private struct State {
        var terms: [String: Terms] = [:]
        /// Order ids in the order they came in, oldest at `head` once full (an id may stay after its order left).
        var arrivals: [String] = []
        var head = 0
    }

    init(capacity: Int = 65_536) {
        precondition(capacity > 0)
        self.capacity = capacity
        state = Lock(State())
    }

    subscript(id: String) -> Terms? { state.withLock { $0.terms[id] } }

    var count: Int { state.withLock { $0.terms.count } }

    /// Remembers `order` as its node answered it (an order already known keeps its newer reported terms).
    func remember(_ order: Tradewire_V1_Order) {
        guard let id = order.orderID?.value, !id.isEmpty else { return }
        let terms = Terms(account: order.account, symbol: order.symbol, side: order.side, type: order.type,
                          timeInForce: order.timeInForce, price: order.price, quantity: order.quantity)
        state.withLock { state in
            guard state.terms[id] == nil else { return }
            if state.arrivals.count < capacity {
                state.arrivals.append(id)
            } else {
                state.terms[state.arrivals[state.head]] = nil
                state.arrivals[state.head] = id
                state.head = (state.head + 1) % capacity
            }
            state.terms[id] = terms
        }
    }

    /// Follows a report about an order it knows: its price and quantity now.
    func update(_ report: Tradewire_V1_ExecutionReport) {
        guard let id = report.orderID?.value else { return }
        state.withLock { state in
            guard state.terms[id] != nil else { return }
            if let price = report.price { state.terms[id]!.price = price }
            if let quantity = report.orderQuantity { state.terms[id]!.quantity = quantity }
        }
    }
}
