import ClusterTestSupport
import HTTP2
import HTTP2TestSupport
import MarketData
import Cluster
import Protos
import RPC
import ServiceStubs
import Synchronization
import Telemetry
import Testing
import TestSupport
import Transport

/// The real market-data service (in this process, on 127.0.0.1) following three processor processes, with the
/// real risk service approving the orders: what it serves agrees with the trades and book changes in the
/// processors' journals, streams deliver in order, and a subscriber that stops reading is dropped alone.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct MarketDataClusterTests {
    static let extra = """
        , "instruments": [
            {"symbol": "ACME", "quoteCurrency": "USD", "priceScale": 2, "quantityScale": 0, "tickSize": {"units": "1", "scale": 2},
             "lotSize": {"units": "1"}, "priceBandBps": 2000, "status": "INSTRUMENT_STATUS_TRADING"}],
          "feed": {"seed": 7, "interval_ms": 50, "step_bps": 0, "prices": {"ACME": 10000}},
          "subscriber_queue": 32, "event_batch": 8,
          "accounts": [
            {"account": "acct-1", "balance": {"units": "1000000", "currency": "USD"}},
            {"account": "acct-2", "balance": {"units": "1000000", "currency": "USD"}}]
        """

    /// Collects what a stream delivers, in order.
    final class Collected<Element: Sendable>: Sendable {
        let items = Mutex<[Element]>([])
        var all: [Element] { items.withLock { $0 } }
    }

    static func collect<Element: Sendable>(
        _ open: @escaping @Sendable (@escaping @Sendable (Element) -> Void) async throws -> Void
    ) -> (Collected<Element>, Task<Void, Never>) {
        let collected = Collected<Element>()
        let task = Task { _ = try? await open { element in collected.items.withLock { $0.append(element) } } }
        return (collected, task)
    }

    @Test func servesWhatTheProcessorsJournaledAndDropsOnlyTheStalledSubscriber() async throws {
        try await ProcessorCluster.with(extra: Self.extra, services: true) { cluster in
            let (host, port) = SocketAddressText.split(cluster.config.marketDataAddress!)!
            let channel = try Channel(host: host, port: port)
            defer { channel.close() }
            let market = Tradewire_V1_MarketData.Client(channel)
            let acme = Tradewire_V1_StreamMarketDataRequest(symbols: ["ACME"])

            // A fast subscriber of each stream, and one that opens StreamTrades with a window of 0 bytes (so the
            // server can send it nothing) and never reads again.
            let (trades, tradeTask) = Self.collect { (push: @escaping @Sendable (Tradewire_V1_Trade) -> Void) in
                try await market.streamTrades(acme) { for try await trade in $0 { push(trade) } }
            }
            let (books, bookTask) = Self.collect { (push: @escaping @Sendable (Tradewire_V1_BookUpdate) -> Void) in
                try await market.streamBook(acme) { for try await update in $0 { push(update) } }
            }
            let (quotes, quoteTask) = Self.collect { (push: @escaping @Sendable (Tradewire_V1_Quote) -> Void) in
                try await market.streamQuotes(acme) { for try await quote in $0 { push(quote) } }
            }
            defer { [tradeTask, bookTask, quoteTask].forEach { $0.cancel() } }
            let stalled = try await RawClient(port: port)
            var settings = HTTP2Settings()
            settings.initialWindowSize = 0
            try await stalled.startSession(settings: settings)
            let stream = try stalled.session!.submitRequest(
                headers: RawClient.grpcHeaders(path: "/tradewire.v1.MarketData/StreamTrades"), endStream: false)
            stalled.session!.enqueue(streamID: stream, RawClient.frame(acme.serializedBytes()))
            stalled.session!.finish(streamID: stream, trailers: nil)
            await stalled.pump()
            #expect(try await waitUntil { !books.all.isEmpty && !quotes.all.isEmpty })  // subscribed: snapshots arrived

            // Crossing orders: resting sells at three prices, buys that take part or all of them.
            for index in 0..<30 {
                let sell = cluster.orderID("s-\(index)", symbol: "ACME")
                let buy = cluster.orderID("b-\(index)", symbol: "ACME")
                _ = try await cluster.client.send(ProcessorCluster.place(
                    sell, account: "acct-2", symbol: "ACME", side: .sell, price: 10_000 + Int64(index % 3) * 10, quantity: 5 + Int64(index % 4)))
                let bought = try await cluster.client.send(ProcessorCluster.place(
                    buy, account: "acct-1", symbol: "ACME", side: .buy, price: 10_050, quantity: 3 + Int64(index % 5)))
                #expect(bought.order?.status == .accepted, "\(bought)")
            }

            // The processors' journals: every trade, and the book's level changes.
            var journaled: [Tradewire_V1_Trade] = []
            var changes: [Tradewire_V1_BookChange] = []
            for node in cluster.config.nodes {
                for event in try await cluster.events(node.id) {
                    switch event.event {
                    case .trade(let trade): journaled.append(trade)
                    case .bookChange(let change): changes.append(change)
                    default: break
                    }
                }
            }
            journaled.sort { Self.number($0.tradeID) < Self.number($1.tradeID) }
            #expect(journaled.count > 33)  // more than the stalled subscriber's queue holds

            // The fast subscriber got every trade, in order, while the stalled one (which can be sent nothing) sat
            // on its stream: it holds its own queue, not the publisher.
            #expect(try await waitUntil { trades.all.count >= journaled.count })
            #expect(trades.all == journaled.map(Self.anonymous), "the tape shows no accounts or OrderIds")
            #expect(stalled.recorder.data[stream] == nil)

            // Book: the stream's snapshot then changes in sequence; GetOrderBook equals the journal's last levels.
            #expect(books.all.first?.snapshot == true)
            let sequences = books.all.dropFirst().map(\.bookSequence)
            #expect(sequences == sequences.sorted() && Set(sequences).count == sequences.count)
            var levels: [Int64: (Tradewire_V1_Side, Int64)] = [:]
            for change in changes.sorted(by: { $0.bookSequence < $1.bookSequence }) {
                levels[change.level!.price!.units] = (change.side, change.level!.quantity!.units)
            }
            let expectedAsks = levels.filter { $0.value.0 == .sell && $0.value.1 > 0 }.keys.sorted()
            let bookReady = try await waitUntil {
                try await market.getOrderBook(Tradewire_V1_GetOrderBookRequest(symbol: "ACME")).bookSequence == UInt64(changes.count)
            }
            #expect(bookReady)
            let book = try await market.getOrderBook(Tradewire_V1_GetOrderBookRequest(symbol: "ACME"))
            #expect(book.asks.map { $0.price!.units } == expectedAsks)
            #expect(book.asks.map { $0.quantity!.units } == expectedAsks.map { levels[$0]!.1 })

            // Quotes: the last one carries the last trade as last and reference price.
            #expect(try await waitUntil { quotes.all.last?.lastPrice == journaled.last?.price })
            #expect(quotes.all.last?.referenceSource == .lastTrade)
            let times = quotes.all.map(\.updatedAtUnixNanos)
            #expect(times == times.sorted())

            // Trades newest first; candles equal OHLCV computed here from the journaled trades.
            let recent = try await market.getTrades(Tradewire_V1_GetTradesRequest(symbol: "ACME", limit: 5)).trades
            #expect(recent == Array(journaled.reversed().prefix(5)).map(Self.anonymous))
            #expect(journaled.allSatisfy { !$0.buyAccount.isEmpty && $0.buyOrderID != nil }, "the journal's trades name the parties")
            for interval in [Tradewire_V1_CandleInterval._1s, ._1m] {
                let length: Int64 = interval == ._1s ? 1_000_000_000 : 60_000_000_000
                let candles = try await market.getCandles(Tradewire_V1_GetCandlesRequest(symbol: "ACME", interval: interval)).candles
                #expect(candles.map(Self.ohlcv) == Self.expectedCandles(journaled, length: length), "\(interval)")
            }

            await #expect(throws: RPCError.self) { try await market.getQuote(Tradewire_V1_GetQuoteRequest(symbol: "NOPE")) }
            await #expect(throws: RPCError.self) { try await market.getCandles(Tradewire_V1_GetCandlesRequest(symbol: "ACME")) }
            await #expect(throws: RPCError.self) { try await market.getOrderBook(Tradewire_V1_GetOrderBookRequest(symbol: "ACME", depth: 101)) }
        }
    }

    /// The stream market data follows the node holding ACME's book on goes silent without closing (the connection
    /// runs through a proxy that freezes it). Heartbeats stop; after `event_stall_ms` market data abandons the
    /// stream, follows the node again over a new connection and catches up — by itself, with the lag and the
    /// replaced stream in its `/readyz` status lines.
    @Test func aStalledEventStreamIsReplacedAndMarketDataCatchesUpByItself() async throws {
        let extra = Self.extra + #", "event_heartbeat_ms": 200, "event_stall_ms": 1000"#
        try await ProcessorCluster.with(extra: extra, services: true) { cluster in
            let owner = ClusterRing(cluster.config).owner(of: .book("ACME"))
            let proxy = try TCPProxy(target: SocketAddressText.split(owner.address)!.port)
            defer { proxy.stop() }
            func trade(_ index: Int) async throws {
                for (prefix, account, side) in [("s", "acct-2", Tradewire_V1_Side.sell), ("b", "acct-1", .buy)] {
                    let id = cluster.orderID("stall-\(prefix)-\(index)", symbol: "ACME")
                    _ = try await cluster.client.send(
                        ProcessorCluster.place(id, account: account, symbol: "ACME", side: side, price: 10_000, quantity: 1))
                }
            }
            try await trade(1)  // followed by the first market-data server, which stores its cursors
            try await Task.sleep(for: .milliseconds(500))
            await cluster.stopMarketData()
            var config = cluster.config
            config.nodes = config.nodes.map { $0.id == owner.id ? ClusterNode(id: $0.id, address: "127.0.0.1:\(proxy.port)") : $0 }
            let server = try MarketDataServer(config: config, settings: try MarketDataSettings.parse(cluster.text, path: cluster.configPath))
            let telemetry = server.host.telemetry
            try await server.start()
            let (host, port) = SocketAddressText.split(config.marketDataAddress!)!
            let channel = try Channel(host: host, port: port)
            let market = Tradewire_V1_MarketData.Client(channel)
            func trades() async throws -> Int {
                try await market.getTrades(Tradewire_V1_GetTradesRequest(symbol: "ACME", limit: 10)).trades.count
            }

            // Resumed from its stored cursors, with nothing new: heartbeats alone make it current with every node.
            #expect(try await waitUntil {
                let lines = telemetry.statusLines()
                return lines.count == 3 && lines.allSatisfy { $0.contains("caught up") && $0.contains("current as of") }
            }, "\(telemetry.statusLines())")
            #expect(try await trades() == 1)
            proxy.freeze()
            try await trade(2)
            // Nothing comes through the frozen stream; the follower notices within a second and reconnects. The tape
            // can show the second trade through the other nodes' events before the owner's stream is replaced (at
            // least `event_stall_ms` after the freeze), so its status line is waited for too.
            #expect(try await waitUntil { try await trades() == 2 }, "market data did not catch up: \(telemetry.statusLines())")
            #expect(try await waitUntil {
                telemetry.statusLines().contains {
                    $0.contains("node \(owner.id):") && $0.contains("caught up") && $0.contains("1 stalled stream replaced")
                }
            }, "\(telemetry.statusLines())")
            channel.close()
            await server.shutdown()
        }
    }

    static func number(_ tradeID: String) -> Int { Int(tradeID.split(separator: "-").last!)! }

    struct OHLCV: Equatable {
        var openTime: Int64, open: Int64, high: Int64, low: Int64, close: Int64, volume: Int64, notional: Int64, count: UInt32
    }

    /// A journaled trade as the public tape shows it: without the parties.
    static func anonymous(_ trade: Tradewire_V1_Trade) -> Tradewire_V1_Trade {
        var trade = trade
        (trade.buyAccount, trade.sellAccount, trade.buyOrderID, trade.sellOrderID) = ("", "", nil, nil)
        return trade
    }

    static func ohlcv(_ candle: Tradewire_V1_Candle) -> OHLCV {
        OHLCV(openTime: candle.openTimeUnixNanos, open: candle.open!.units, high: candle.high!.units, low: candle.low!.units,
              close: candle.close!.units, volume: candle.volume!.units, notional: candle.notional!.units, count: candle.tradeCount)
    }

    /// Buckets trades (in execution order) by `length` and folds each bucket.
    static func expectedCandles(_ trades: [Tradewire_V1_Trade], length: Int64) -> [OHLCV] {
        var candles: [OHLCV] = []
        for trade in trades {
            let (price, quantity) = (trade.price!.units, trade.quantity!.units)
            let open = trade.executedAtUnixNanos / length * length
            if let last = candles.last, last.openTime == open {
                candles[candles.count - 1] = OHLCV(
                    openTime: open, open: last.open, high: max(last.high, price), low: min(last.low, price), close: price,
                    volume: last.volume + quantity, notional: last.notional + price * quantity, count: last.count + 1)
            } else {
                candles.append(OHLCV(openTime: open, open: price, high: price, low: price, close: price, volume: quantity,
                                     notional: price * quantity, count: 1))
            }
        }
        return candles
    }
}
