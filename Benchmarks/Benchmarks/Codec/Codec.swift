// Encode and decode+convert cost of a typical order message (tradewire.v1.Order, ~100 bytes on the wire).
import Benchmark
import CodecFixtures
import Protos

let benchmarks: @Sendable () -> Void = {
    // 1000 operations per sample: one operation is well under a microsecond, less than the cost of taking a
    // sample. The tool divides by the scaling factor: figures are per operation.
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuUser, .mallocCountTotal], timeUnits: .nanoseconds,
        warmupIterations: 10, scalingFactor: .kilo, maxDuration: .seconds(3), maxIterations: 100_000)

    let orderBytes = order.serializedBytes()
    let placeBytes = placeOrder.serializedBytes()

    Benchmark("Order encode (\(orderBytes.count) B)") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(order.serializedBytes()) }
    }
    Benchmark("Order decode+convert (\(orderBytes.count) B)") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try Tradewire_V1_Order(serializedBytes: orderBytes)) }
    }
    Benchmark("PlaceOrderRequest encode (\(placeBytes.count) B)") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(placeOrder.serializedBytes()) }
    }
    Benchmark("PlaceOrderRequest decode+convert (\(placeBytes.count) B)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try Tradewire_V1_PlaceOrderRequest(serializedBytes: placeBytes))
        }
    }
}
