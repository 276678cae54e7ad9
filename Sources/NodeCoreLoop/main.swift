// A node's decision logic alone, per order (``Processor/NodeCoreLoop``): `node-core-loop [rounds]`. Not a product
// command: a small binary that callgrind can run (`tools/node-instructions`), which it cannot the whole `tradewire`.
import Processor

#if canImport(Glibc)
import Glibc
#endif

let arguments = CommandLine.arguments.dropFirst()
guard arguments.count <= 1, let rounds = Int(arguments.first ?? "100000"), (0...10_000_000).contains(rounds) else {
    print("usage: node-core-loop [rounds: 0–10,000,000, default 100,000]")
    exit(64)
}
let started = ContinuousClock.now
let summary = NodeCoreLoop.run(rounds: rounds)
let elapsed = ContinuousClock.now - started
let nanoseconds = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
print("\(summary.orders) orders, \(summary.requests) requests in \(summary.turns) turns, \(summary.writes) writes, "
    + "\(summary.replies) replies, \(summary.filled) fill events: \(rounds == 0 ? 0 : Int(nanoseconds / Double(summary.orders))) ns per order")
guard summary.ranAsDesigned else {
    print("the flow did not run as designed (\(summary.requests) requests, \(summary.rounds) trades expected): the figures mean nothing")
    exit(70)
}
