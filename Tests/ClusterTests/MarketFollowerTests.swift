import Cluster
import EventLoop
import Locks
import Protos
import RPC
import ServiceStubs
import Testing
import Transport

/// The follower that keeps risk's and the gateway's instruments and reference prices current, against a
/// scripted market-data service in memory: streams that fail are followed again, and updates arrive on the
/// connection's loop (not on the shared pool, which a busy process starves).
@Suite(.timeLimit(.minutes(1)))
struct MarketFollowerTests {
    /// Each subscription of a stream gets the next script: its updates, then the error that ends it (nil: it stays
    /// open until cancelled).
    final class ScriptedMarketData: Tradewire_V1_MarketData.ServiceProtocol {
        struct Script {
            var updates: [String]
            var failure: RPCError?
        }

        let instrumentScripts: [Script]
        let quoteScripts: [Script]
        let subscriptions = Lock<(instruments: Int, quotes: Int)>((0, 0))

        init(instruments: [Script], quotes: [Script]) {
            instrumentScripts = instruments
            quoteScripts = quotes
        }

        func watchInstruments(request: Tradewire_V1_ListInstrumentsRequest, responses: RPCResponseWriter<Tradewire_V1_Instrument>,
                              context: ServerContext) async throws
        {
            try await play(instrumentScripts, counter: \.instruments, responses) { symbol, _ in
                var instrument = Tradewire_V1_Instrument()
                instrument.symbol = symbol
                return instrument
            }
        }

        func streamQuotes(request: Tradewire_V1_StreamMarketDataRequest, responses: RPCResponseWriter<Tradewire_V1_Quote>,
                          context: ServerContext) async throws
        {
            try await play(quoteScripts, counter: \.quotes, responses) { symbol, subscription in
                var quote = Tradewire_V1_Quote()
                quote.symbol = symbol
                quote.updatedAtUnixNanos = Int64(subscription + 1)
                return quote
            }
        }

        /// Plays the next script of a stream: its updates (`make` gets the symbol and the subscription's number),
        /// then its failure, or waits until cancelled.
        private func play<Message: ProtoMessage>(
            _ scripts: [Script], counter: WritableKeyPath<(instruments: Int, quotes: Int), Int>, _ responses: RPCResponseWriter<Message>,
            make: (String, Int) -> Message
        ) async throws {
            let index = subscriptions.withLock { state in defer { state[keyPath: counter] += 1 }; return state[keyPath: counter] }
            let script = scripts[min(index, scripts.count - 1)]
            for symbol in script.updates { try await responses.write(make(symbol, index)) }
            if let failure = script.failure { throw failure }
            while !Task.isCancelled { try await Task.sleep(for: .seconds(1)) }
        }

        static let unused = RPCError(code: .unimplemented, message: "not scripted")
        func listInstruments(request: Tradewire_V1_ListInstrumentsRequest, context: ServerContext) async throws
            -> Tradewire_V1_ListInstrumentsResponse { throw Self.unused }
        func getInstrument(request: Tradewire_V1_GetInstrumentRequest, context: ServerContext) async throws -> Tradewire_V1_Instrument {
            throw Self.unused
        }
        func upsertInstrument(request: Tradewire_V1_Instrument, context: ServerContext) async throws -> Tradewire_V1_Instrument {
            throw Self.unused
        }
        func getQuote(request: Tradewire_V1_GetQuoteRequest, context: ServerContext) async throws -> Tradewire_V1_Quote { throw Self.unused }
        func getOrderBook(request: Tradewire_V1_GetOrderBookRequest, context: ServerContext) async throws -> Tradewire_V1_OrderBook {
            throw Self.unused
        }
        func getTrades(request: Tradewire_V1_GetTradesRequest, context: ServerContext) async throws -> Tradewire_V1_GetTradesResponse {
            throw Self.unused
        }
        func getCandles(request: Tradewire_V1_GetCandlesRequest, context: ServerContext) async throws -> Tradewire_V1_GetCandlesResponse {
            throw Self.unused
        }
        func streamTrades(request: Tradewire_V1_StreamMarketDataRequest, responses: RPCResponseWriter<Tradewire_V1_Trade>,
                          context: ServerContext) async throws { throw Self.unused }
        func streamBook(request: Tradewire_V1_StreamMarketDataRequest, responses: RPCResponseWriter<Tradewire_V1_BookUpdate>,
                        context: ServerContext) async throws { throw Self.unused }
    }

    @Test func streamsThatFailAreFollowedAgainAndUpdatesArriveOnTheConnectionsLoop() async throws {
        let loop = try EventLoop(name: "in-memory")
        defer { loop.shutdown() }
        let restarting = RPCError(code: .unavailable, message: "market data is restarting")
        let service = ScriptedMarketData(
            instruments: [.init(updates: ["ACME"], failure: restarting), .init(updates: ["ACME", "BOLT"])],
            quotes: [.init(updates: ["ACME"], failure: restarting), .init(updates: [], failure: restarting), .init(updates: ["ACME", "BOLT"])])
        let transport = InMemoryTransport(services: [service], context: InMemoryContext(loop: loop))
        let seen = Lock<(instruments: [String], quotes: [String], offLoop: Int)>(([], [], 0))
        let follower = MarketFollower(
            channel: transport,
            instrument: { instrument in
                seen.withLock {
                    $0.instruments.append(instrument.symbol)
                    if !loop.inEventLoop { $0.offLoop += 1 }
                }
            },
            quote: { quote in
                seen.withLock {
                    $0.quotes.append("\(quote.symbol)@\(quote.updatedAtUnixNanos)")
                    if !loop.inEventLoop { $0.offLoop += 1 }
                }
            })
        let following = Task { await follower.run() }
        var caughtUp = false
        for _ in 0..<2_000 where !caughtUp {
            caughtUp = seen.withLock { $0.instruments.count == 3 && $0.quotes.count == 3 }
            try await Task.sleep(for: .milliseconds(5))
        }
        let result = seen.withLock { $0 }
        #expect(result.instruments == ["ACME", "ACME", "BOLT"])
        // The second quote subscription failed before it sent anything; the third brought both symbols.
        #expect(result.quotes == ["ACME@1", "ACME@3", "BOLT@3"])
        #expect(result.offLoop == 0, "every update was handled on the connection's loop")
        #expect(service.subscriptions.withLock { $0 } == (2, 3))
        following.cancel()
        await following.value
        for _ in 0..<1_000 where transport.openStreams > 0 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(transport.openStreams == 0, "cancelling the follower ends its streams")
    }
}
