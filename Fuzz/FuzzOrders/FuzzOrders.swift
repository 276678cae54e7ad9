import FuzzSupport
@testable import Gateway
import Orders
import Cluster
@testable import Processor
import ProtoCodec
import Protos
@testable import Risk

/// Arbitrary decoded requests through the order path's decisions: the gateway's validation and its command for
/// a place; the node's own checks, its order actor, and a book fed a sequence of commands; risk's checks and the
/// events that follow them; an order's state machine; a node's state machine (`FuzzOrders+Node.swift`); a batch's
/// reconciliation. None may trap (Swift traps on
/// overflow: every number here is the input's), and what they produce must hold its invariants.
enum FuzzOrders {
    static let instrument: Tradewire_V1_Instrument = {
        var instrument = Tradewire_V1_Instrument(
            symbol: "ACME", quoteCurrency: "USD", priceScale: 2, quantityScale: 0, tickSize: Tradewire_V1_Price(units: 5, scale: 2),
            lotSize: Tradewire_V1_Quantity(units: 1), priceBandBps: 1000, status: .trading)
        instrument.maxQuantity = Tradewire_V1_Quantity(units: 1_000_000)
        return instrument
    }()

    static let table: InstrumentTable = {
        let table = InstrumentTable(referenceMaxAge: .seconds(1_000_000_000))
        table.update(instrument)
        table.update(Tradewire_V1_Quote(symbol: "ACME", referencePrice: Tradewire_V1_Price(units: 10_000, scale: 2), updatedAtUnixNanos: 1))
        return table
    }()

    static let shared = GatewayShared(cluster: ClusterClient(config: ClusterConfig(epoch: 1, nodes: [ClusterNode(id: "p1", address: "127.0.0.1:1")])),
                                    keys: APIKeys([]), instruments: table, defaultRate: 1_000)
    static let caller = APIKeys.Entry(id: "k", account: "acct")

    static func run(_ bytes: UnsafeRawBufferPointer) {
        var input = FuzzInput(bytes)
        switch input.byte() % 6 {
        case 0: place(&input)
        case 1: book(&input)
        case 2: risk(&input)
        case 3: state(&input)
        case 5: node(&input)
        default: reconcile(&input)
        }
    }

    static func decode<Message: ProtoMessage>(_ type: Message.Type, _ input: inout FuzzInput) -> Message? {
        let length = Int(input.uint16())
        return try? Message(serializedBytes: input.take(length), limits: .default)
    }

    /// The gateway's validation and command, then the node's checks and its actor.
    static func place(_ input: inout FuzzInput) {
        guard let request = decode(Tradewire_V1_PlaceOrderRequest.self, &input) else { return }
        let order = request.order ?? Tradewire_V1_NewOrder()
        let violations = OrderValidation.violations(order, field: "order", table: table)
        _ = OrderValidation.referenceProblem(order, table: table)
        guard let command = try? shared.place(order, caller: caller, field: "order", idempotencyKey: nil) else {
            precondition(!violations.isEmpty || OrderValidation.referenceProblem(order, table: table) != nil)
            return
        }
        guard case .place(let place) = command.command else { preconditionFailure("not a place") }
        precondition(place.order?.unknownFields.isEmpty == true, "the gateway forwarded unknown fields")
        precondition(NodeState.validate(place) == nil, "the node refuses what the gateway accepted: \(NodeState.validate(place)!)")
        _ = RingKey(routing: command)
        let actor = OrderActor(place: place, requestHash: OrderActor.requestHash(place), now: 1)
        _ = actor.order.serializedBytes()
        _ = actor.report(.new, node: "p1", requestID: "r", averagePrice: actor.averagePrice)
    }

    /// A book fed commands in order, as a node's book actor is: trades never exceed what rests.
    static func book(_ input: inout FuzzInput) {
        var book = BookActor(symbol: "ACME")
        var now: Int64 = 0
        while !input.isAtEnd {
            guard let command = decode(Tradewire_V1_Command.self, &input) else { continue }
            _ = RingKey(routing: command)
            if case .place(let place) = command.command { _ = NodeState.validate(place) }
            now &+= 1
            let outputs = book.apply(command, now: now)
            for trade in outputs.trades { precondition((trade.quantity?.units ?? 0) > 0, "a trade of nothing") }
        }
        _ = book.snapshot.serializedBytes()
    }

    /// Checks and events against one account: cash never goes negative through checks alone.
    static func risk(_ input: inout FuzzInput) {
        var engine = RiskEngine()
        engine.instruments["ACME"] = instrument
        engine.references["ACME"] = ReferencePrice(units: 10_000, at: 0)
        _ = try? engine.setBalance("acct", Tradewire_V1_Money(units: 1_000_000, currency: "USD"), adjust: false)
        var sequence: UInt64 = 0
        while !input.isAtEnd {
            if input.byte() & 1 == 0 {
                guard var request = decode(Tradewire_V1_RiskCheckRequest.self, &input) else { continue }
                if input.byte() & 1 == 0 { request.account = "acct" }
                _ = engine.check(request, now: 1)
                precondition(engine.accounts["acct"]!.available >= 0, "a check took more cash than there was")
            } else if let event = decode(Tradewire_V1_EventRiskView.self, &input) {  // an event as risk reads it
                sequence += 1
                var numbered = event
                numbered.sequence = sequence
                engine.apply(node: "p1", [numbered], now: 2)
            }
            if let limits = decode(Tradewire_V1_AccountLimits.self, &input) { _ = try? engine.setLimits("acct", limits) }
            engine.expire(now: Int64(input.byte()) << 30)
        }
        _ = engine.takeRows()
    }

    /// An order's state machine under arbitrary events: quantities stay consistent.
    static func state(_ input: inout FuzzInput) {
        // A new order's quantity is positive (validated before an actor exists); events are anything.
        var state = OrderState(quantity: Int64(UInt64(input.uint16()) << 47 | UInt64(input.uint16())) + 1, price: 100)
        while !input.isAtEnd {
            let a = Int64(bitPattern: UInt64(input.uint16()) << 48 | UInt64(input.uint16()) << 16 | UInt64(input.uint16()))
            let b = Int64(input.uint16()) - 30_000
            let event: OrderEvent = switch input.byte() % 10 {
            case 0: .accepted
            case 1: .rejected(reason: "r")
            case 2: .filled(quantity: a, price: b)
            case 3: .cancelRequested
            case 4: .cancelled
            case 5: .cancelRefused
            case 6: .replaced(quantity: a, price: b)
            case 7: .replaceRequested(quantity: a, price: b)
            case 8: .replaceRefused
            default: .settled
            }
            guard let next = try? state.applying(event) else { continue }
            state = next
            precondition(state.filled >= 0 && state.filled <= state.quantity && state.leaves >= 0, "inconsistent quantities: \(state)")
        }
    }

    /// A batch's totals over arbitrary orders and an arbitrary expected P&L.
    static func reconcile(_ input: inout FuzzInput) {
        guard let page = decode(Tradewire_V1_ListOrdersResponse.self, &input) else { return }
        let expected = decode(Tradewire_V1_Money.self, &input)
        _ = try? Reconciliation(orders: page.orders, instruments: table).response(batchID: "b", expected: expected)
    }

    static func seeds() -> [[UInt8]] {
        func framed(_ message: some ProtoMessage) -> [UInt8] {
            let bytes = message.serializedBytes(headroom: 0)
            return [UInt8(bytes.count & 0xff), UInt8(bytes.count >> 8)] + bytes
        }
        var order = Tradewire_V1_NewOrder(clientOrderID: "c-1", symbol: "ACME", side: .buy, type: .limit, timeInForce: .gtc)
        order.price = Tradewire_V1_Price(units: 10_000, scale: 2)
        order.quantity = Tradewire_V1_Quantity(units: 10)
        var resting = Tradewire_V1_Order(orderID: Tradewire_V1_OrderId(value: "o-1"), account: "acct", symbol: "ACME", side: .sell,
                                         type: .limit, timeInForce: .gtc, price: order.price, quantity: order.quantity)
        resting.status = .accepted
        var taker = resting
        taker.orderID = Tradewire_V1_OrderId(value: "o-2")
        taker.side = .buy
        var sell = Tradewire_V1_Command()
        sell.command = .bookOrder(Tradewire_V1_BookOrderCommand(order: resting, orderNodeID: "p1"))
        var buy = Tradewire_V1_Command()
        buy.command = .bookOrder(Tradewire_V1_BookOrderCommand(order: taker, orderNodeID: "p2"))
        var replace = Tradewire_V1_Command()
        replace.command = .bookReplace(Tradewire_V1_BookReplaceCommand(symbol: "ACME", orderID: resting.orderID, price: order.price,
                                                                       quantity: Tradewire_V1_Quantity(units: 5), orderNodeID: "p1"))
        let check = Tradewire_V1_RiskCheckRequest(orderID: Tradewire_V1_OrderId(value: "o"), account: "acct", symbol: "ACME", side: .buy,
                                                  type: .limit, price: order.price, quantity: order.quantity)
        return [
            [0] + framed(Tradewire_V1_PlaceOrderRequest(order: order)),
            [1] + framed(sell) + framed(replace) + framed(buy),
            [2, 0] + framed(check) + [0],
            [3, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 100, 7],
            [4] + framed(Tradewire_V1_ListOrdersResponse(orders: [resting, taker])) + framed(Tradewire_V1_Money(units: 5, scale: 40)),
            // Node: a place of o1 (price 1000 at scale 2, quantity 5), risk approves, the write commits, the book
            // order is delivered; then a cancel, committed.
            [5, 0, 1, 0, 0xe8, 0x03, 0, 2, 5, 0, 0, 0, 1, 0, 0, 1, 2, 1, 3, 0, 0, 4, 1, 5, 0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 2, 4, 1],
        ]
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzOrders.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

#if FUZZING
@_cdecl("FuzzOrders_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    LibFuzzer.run(argc, argv, fuzzOne)
}
#else
@main struct Runner {
    static func main() { FuzzMain.run(seeds: FuzzOrders.seeds, FuzzOrders.run) }
}
#endif
