import ClusterTestSupport
import EventLoop
@testable import MarketData
import Protos
import SQLite
import Testing

/// The market-data core on a real store file: event batches share a transaction, committed within
/// ``MarketDataCore/commitDelay``; what another connection (or a restart) sees is what committed, cursor included.
struct MarketDataCoreTests {
    static func batch(_ sequence: UInt64, price: Int64) -> Tradewire_V1_EventBatch {
        var event = Tradewire_V1_Event(sequence: sequence, nodeID: "p1")
        event.event = .trade(Tradewire_V1_Trade(
            tradeID: "ACME-\(sequence)", symbol: "ACME", price: Tradewire_V1_Price(units: price, scale: 2),
            quantity: Tradewire_V1_Quantity(units: 1), executedAtUnixNanos: 1_795_305_600_000_000_000 + Int64(sequence)))
        return Tradewire_V1_EventBatch(events: [event])
    }

    /// The cursor and trades another connection reads from the file (what committed).
    static func committed(_ path: String) throws -> (cursor: Int64?, trades: Int64) {
        let reader = try SQLiteDatabase.open(path: path)
        let cursor = try reader.prepare("SELECT sequence FROM cursors WHERE node = 'p1'")
        let count = try reader.prepare("SELECT count(*) FROM trades")
        _ = try count.step()
        return (try cursor.step() ? cursor.int64(0) : nil, count.int64(0))
    }

    static func core(_ path: String, _ loop: EventLoop) throws -> MarketDataCore {
        try MarketDataCore(store: try MarketStore(path: path), settings: MarketDataSettings(), loop: loop,
                           fatal: { message, error in Issue.record("fatal: \(message): \(error)") }, tradesCurrentAsOf: { _ in nil })
    }

    @Test func batchesShareACommitWithinItsDelayAndARestartResumesAfterWhatCommitted() async throws {
        let path = try ProcessorCluster.temporaryDirectory() + "/marketdata.sqlite"
        let loop = try EventLoop(name: "marketdata-test")
        defer { loop.shutdown() }
        let core = try await loop.submit { try Self.core(path, loop) }

        // Applied and served at once, committed together a little later. What the file holds is read in the same
        // loop job as the applies: the commit timer runs on that loop, so a slow machine cannot commit in between.
        let (applied, committedThen) = try await loop.submit {
            try core.apply(node: "p1", Self.batch(1, price: 10_000))
            try core.apply(node: "p1", Self.batch(2, price: 10_100))
            return ((core.cursor("p1"), try core.trades("ACME", before: .max, limit: 10).count), try Self.committed(path))
        }
        #expect(applied == (2, 2))
        #expect(committedThen == (nil, 0), "not committed yet")
        #expect(try await waitUntil { try Self.committed(path) == (2, 2) }, "committed within the delay")

        // What is applied after the last commit is lost with the process; the store's cursor says where to resume.
        let beforeStop = try await loop.submit {
            try core.apply(node: "p1", Self.batch(3, price: 10_200))
            return try Self.committed(path)
        }
        #expect(beforeStop == (2, 2))
        try await loop.submit { core.stop() }  // A stop commits.
        #expect(try Self.committed(path) == (3, 3))

        let again = try await loop.submit { try Self.core(path, loop) }
        let resumed = try await loop.submit {
            try again.apply(node: "p1", Self.batch(3, price: 10_200))  // at the cursor: skipped
            return (again.cursor("p1"), again.quote("ACME")?.lastPrice?.units)
        }
        #expect(resumed == (3, 10_200))
        try await loop.submit { again.stop() }
        #expect(try Self.committed(path) == (3, 3))
    }
}
