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
///
/// It also knows which places are in flight: a replace of an order whose place has not been answered yet waits for
/// that answer (which brings the order's terms) instead of asking the node about an order it may not have yet.
/// Entries are bounded by the place commands in flight, waiters by the replaces in flight.
final class OrderTerms: Sendable {
    struct Terms: Equatable {
        var account: String
        var symbol: String
        var side: Tradewire_V1_Side
        var type: Tradewire_V1_OrderType
        var timeInForce: Tradewire_V1_TimeInForce
        var price: Tradewire_V1_Price?
        var quantity: Tradewire_V1_Quantity?

        init(_ order: Tradewire_V1_Order) {
            account = order.account
            symbol = order.symbol
            side = order.side
            type = order.type
            timeInForce = order.timeInForce
            price = order.price
            quantity = order.quantity
        }

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
        /// Places sent and not yet answered, by OrderId (a retry may overlap its first send), and who waits for them.
        var placing: [String: (count: Int, waiters: [@Sendable () -> Void])] = [:]
        /// Order ids in the order they came in, oldest at `head` once full (an order forgotten and remembered again
        /// has two; the older one, reached first, forgets it early).
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
        let terms = Terms(order)
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

    /// A place of order `id` is being sent.
    func placeSent(_ id: String) {
        state.withLock { state in state.placing[id, default: (0, [])].count += 1 }
    }

    /// A place of order `id` was answered or failed (its order, if any, already remembered): once none is in flight,
    /// whoever waits goes on.
    func placeAnswered(_ id: String) {
        let waiters = state.withLock { state -> [@Sendable () -> Void] in
            guard var placing = state.placing[id] else { return [] }
            placing.count -= 1
            guard placing.count == 0 else {
                state.placing[id] = placing
                return []
            }
            state.placing[id] = nil
            return placing.waiters
        }
        for waiter in waiters { waiter() }
    }

    /// Returns once no place of order `id` is in flight (at once when none is).
    func placesAnswered(_ id: String) async {
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                guard state.placing[id] != nil else { return true }
                state.placing[id]!.waiters.append { continuation.resume() }
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// Follows a report about an order it knows: its price and quantity now.
    func update(_ report: Tradewire_V1_ExecutionReportRoutingView) {
        guard let id = report.orderID?.value else { return }
        state.withLock { state in
            guard let index = state.terms.index(forKey: id) else { return }  // one lookup per report
            if let price = report.price { state.terms.values[index].price = price }
            if let quantity = report.orderQuantity { state.terms.values[index].quantity = quantity }
        }
    }
}
