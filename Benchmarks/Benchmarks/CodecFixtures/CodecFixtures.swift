// The messages the codec benchmarks measure, shared by the ordo-one benchmark and the callgrind loop.
import Protos

/// An order as the processor journals it and the gateway returns it.
public let order = Tradewire_V1_Order(
    orderID: .init(value: "ord-01HZX4K3M9Q2"), account: "ACME-01", clientOrderID: "cl-000001", symbol: "ACME",
    side: .buy, type: .limit, timeInForce: .gtc, price: .init(units: 1_012_500, scale: 4),
    quantity: .init(units: 300), status: .accepted, leavesQuantity: .init(units: 300),
    createdAtUnixNanos: 1_790_000_000_123_456_789, updatedAtUnixNanos: 1_790_000_000_123_456_789, version: 2)

/// A new order as a client sends it: the message on the hot ingest path.
public let placeOrder = Tradewire_V1_PlaceOrderRequest(
    order: .init(
        clientOrderID: "cl-000001", symbol: "ACME", side: .buy, type: .limit, timeInForce: .gtc,
        price: .init(units: 1_012_500, scale: 4), quantity: .init(units: 300)))
