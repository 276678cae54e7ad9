// Runs one codec operation N times, for instruction counts under callgrind (tools/codec-instructions):
//   CodecLoop order-encode|order-decode|place-encode|place-decode N
import CodecFixtures
import Protos

@inline(never) func run(_ operation: String, _ count: Int) -> Int {
    let orderBytes = order.serializedBytes()
    let placeBytes = placeOrder.serializedBytes()
    var sink = 0
    switch operation {
    case "order-encode":
        for _ in 0..<count { sink &+= order.serializedBytes().count }
    case "order-decode":
        for _ in 0..<count { sink &+= Int((try? Tradewire_V1_Order(serializedBytes: orderBytes))?.version ?? 0) }
    case "place-encode":
        for _ in 0..<count { sink &+= placeOrder.serializedBytes().count }
    case "place-decode":
        for _ in 0..<count {
            sink &+= Int((try? Tradewire_V1_PlaceOrderRequest(serializedBytes: placeBytes))?.order?.quantity?.units ?? 0)
        }
    default: fatalError("unknown operation \(operation)")
    }
    return sink
}

let arguments = CommandLine.arguments
guard arguments.count == 3, let count = Int(arguments[2]) else {
    fatalError("usage: CodecLoop order-encode|order-decode|place-encode|place-decode N")
}
print(run(arguments[1], count))
