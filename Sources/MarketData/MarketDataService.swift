import Cluster
import EventLoop
import Orders
import Protos
import RPC
import ServiceStubs

/// `tradewire.v1.MarketData`: queries answered on the core thread, streams fed by it through bounded queues.
struct MarketDataService: Tradewire_V1_MarketData.ServiceProtocol {
    let core: MarketDataCore

    /// Most symbols one stream may name.
    static let maxSymbols = 1000
    /// Most candles one GetCandles answers (page on by `from`).
    static let maxCandles = 10_000

    private func onCore<T: Sendable>(_ body: @escaping @Sendable (MarketDataCore) throws -> T) async throws -> T {
        let core = core
        return try await core.loop.submit { try body(core) }
    }

    private static func symbol(_ text: String) throws(RPCError) -> String {
        guard InstrumentRules.isSymbol(text) else {
            throw RPCError(code: .invalidArgument, message: "symbol \(Echo.quote(text)) is not \(OrderBounds.symbolRule)")
        }
        return text
    }

    private static func notFound(_ symbol: String) -> RPCError {
        RPCError(code: .notFound, message: "no instrument or market named \(Echo.quote(symbol))")
    }

    // MARK: - Instruments

    func listInstruments(request: Tradewire_V1_ListInstrumentsRequest, context: ServerContext) async throws -> Tradewire_V1_ListInstrumentsResponse {
        let instruments = try await onCore { $0.instruments }
        return Tradewire_V1_ListInstrumentsResponse(
            instruments: instruments.filter { request.status == .unspecified || $0.status == request.status })
    }

    func getInstrument(request: Tradewire_V1_GetInstrumentRequest, context: ServerContext) async throws -> Tradewire_V1_Instrument {
        let symbol = try Self.symbol(request.symbol)
        guard let instrument = try await onCore({ $0.instrument(symbol) }) else { throw Self.notFound(symbol) }
        return instrument
    }

    func upsertInstrument(request: Tradewire_V1_Instrument, context: ServerContext) async throws -> Tradewire_V1_Instrument {
        try await onCore { try $0.upsert(request) }
    }

    func watchInstruments(request: Tradewire_V1_ListInstrumentsRequest, responses: RPCResponseWriter<Tradewire_V1_Instrument>,
                          context: ServerContext) async throws
    {
        try await stream(responses, context: context, register: { core, queue in core.watchInstruments(queue) },
                         unregister: { core, queue in core.instrumentWatchers.remove(queue, symbols: []) },
                         filter: { request.status == .unspecified || $0.status == request.status })
    }

    // MARK: - Queries

    func getQuote(request: Tradewire_V1_GetQuoteRequest, context: ServerContext) async throws -> Tradewire_V1_Quote {
        let symbol = try Self.symbol(request.symbol)
        guard let quote = try await onCore({ $0.quote(symbol) }) else { throw Self.notFound(symbol) }
        return quote
    }

    func getOrderBook(request: Tradewire_V1_GetOrderBookRequest, context: ServerContext) async throws -> Tradewire_V1_OrderBook {
        let symbol = try Self.symbol(request.symbol)
        let depth = try Self.depth(request.depth)
        guard let book = try await onCore({ $0.orderBook(symbol, depth: depth) }) else { throw Self.notFound(symbol) }
        return book
    }

    private static func depth(_ depth: UInt32) throws(RPCError) -> Int {
        guard depth <= 100 else { throw RPCError(code: .invalidArgument, message: "depth \(depth) is above 100 levels") }
        return depth == 0 ? 10 : Int(depth)
    }

    func getTrades(request: Tradewire_V1_GetTradesRequest, context: ServerContext) async throws -> Tradewire_V1_GetTradesResponse {
        let symbol = try Self.symbol(request.symbol)
        guard request.limit <= 1000 else { throw RPCError(code: .invalidArgument, message: "limit \(request.limit) is above 1000") }
        let limit = request.limit == 0 ? 100 : Int(request.limit)
        let before = request.beforeUnixNanos == 0 ? Int64.max : request.beforeUnixNanos
        let trades = try await onCore { core -> [Tradewire_V1_Trade]? in
            core.isKnown(symbol) ? try core.trades(symbol, before: before, limit: limit) : nil
        }
        guard let trades else { throw Self.notFound(symbol) }
        // Stores written before the tape was made anonymous may still hold the parties.
        return Tradewire_V1_GetTradesResponse(trades: trades.map(MarketDataCore.publicTrade))
    }

    func getCandles(request: Tradewire_V1_GetCandlesRequest, context: ServerContext) async throws -> Tradewire_V1_GetCandlesResponse {
        let symbol = try Self.symbol(request.symbol)
        guard CandleLength.nanoseconds(request.interval) != nil else {
            throw RPCError(code: .invalidArgument, message: "interval must be one of 1s, 1m, 5m, 1h, 1d")
        }
        let to = request.toUnixNanos == 0 ? Int64.max : request.toUnixNanos
        guard request.fromUnixNanos <= to else { throw RPCError(code: .invalidArgument, message: "from is after to") }
        let interval = request.interval
        let candles = try await onCore { core -> [Tradewire_V1_Candle]? in
            core.isKnown(symbol) ? try core.candles(symbol, interval, from: request.fromUnixNanos, to: to, limit: Self.maxCandles) : nil
        }
        guard let candles else { throw Self.notFound(symbol) }
        return Tradewire_V1_GetCandlesResponse(candles: candles)
    }

    // MARK: - Streams

    func streamQuotes(request: Tradewire_V1_StreamMarketDataRequest, responses: RPCResponseWriter<Tradewire_V1_Quote>,
                      context: ServerContext) async throws
    {
        let symbols = try Self.symbols(request)
        try await stream(responses, context: context, register: { $0.subscribeQuotes($1, symbols: symbols) },
                         unregister: { $0.quotes.remove($1, symbols: symbols) })
    }

    func streamTrades(request: Tradewire_V1_StreamMarketDataRequest, responses: RPCResponseWriter<Tradewire_V1_Trade>,
                      context: ServerContext) async throws
    {
        let symbols = try Self.symbols(request)
        try await stream(responses, context: context, register: { $0.trades.add($1, symbols: symbols) },
                         unregister: { $0.trades.remove($1, symbols: symbols) })
    }

    func streamBook(request: Tradewire_V1_StreamMarketDataRequest, responses: RPCResponseWriter<Tradewire_V1_BookUpdate>,
                    context: ServerContext) async throws
    {
        let symbols = try Self.symbols(request)
        let depth = try Self.depth(request.depth)
        try await stream(responses, context: context, register: { $0.subscribeBooks($1, symbols: symbols, depth: depth) },
                         unregister: { $0.books.remove($1, symbols: symbols) })
    }

    private static func symbols(_ request: Tradewire_V1_StreamMarketDataRequest) throws(RPCError) -> [String] {
        guard request.symbols.count <= maxSymbols else {
            throw RPCError(code: .invalidArgument, message: "\(request.symbols.count) symbols: at most \(maxSymbols) per stream")
        }
        for text in request.symbols { _ = try symbol(text) }
        return Array(Set(request.symbols))
    }

    /// Registers a bounded queue on the core thread and writes what arrives until the client goes away. A
    /// subscriber whose queue overflows is ended with RESOURCE_EXHAUSTED (see SubscriberQueue).
    private func stream<Element: ProtoMessage>(
        _ responses: RPCResponseWriter<Element>, context: ServerContext,
        register: @escaping @Sendable (MarketDataCore, SubscriberQueue<Element>) -> Void,
        unregister: @escaping @Sendable (MarketDataCore, SubscriberQueue<Element>) -> Void,
        filter: @escaping @Sendable (Element) -> Bool = { _ in true }
    ) async throws {
        let core = core
        let capacity = core.subscriberQueue
        let dropped = RPCError(
            code: .resourceExhausted,
            message: "the subscriber fell \(capacity) updates behind and was dropped; resubscribe for a fresh snapshot")
        // The abort reaches a handler blocked in `write` (the client stopped reading); one waiting in `next()`
        // sees the queue end and throws the same status itself.
        let queue = SubscriberQueue<Element>(capacity: capacity) { context.abort(dropped) }
        core.loop.execute { register(core, queue) }
        defer { core.loop.execute { unregister(core, queue) } }
        while let element = await queue.next() {
            guard filter(element) else { continue }
            try await responses.write(element)
        }
        if queue.overflowed { throw dropped }
        try Task.checkCancellation()
    }
}
