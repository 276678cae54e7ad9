import ArgumentParser
import Protos
import RPC
import ServiceStubs
import Transport

/// `tradewire marketdata …`: quotes, books, candles and live streams from the market-data service.
struct MarketDataClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "marketdata", abstract: "Read quotes, books and candles, or watch them live, from market data.",
        subcommands: [Quote.self, Book.self, Candles.self, Watch.self])

    struct Quote: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Best bid and ask, last trade and reference price.")
        @OptionGroup var client: ClientOptions
        @Option(help: "The instrument.") var symbol: String

        func run() async throws {
            try await marketDataCall(client) { Output.print(try await $0.getQuote(Tradewire_V1_GetQuoteRequest(symbol: symbol), options: client.callOptions)) }
        }
    }

    struct Book: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The order book's price levels.")
        @OptionGroup var client: ClientOptions
        @Option(help: "The instrument.") var symbol: String
        @Option(help: "Levels per side (1–100).") var depth: UInt32 = 10

        func run() async throws {
            let request = Tradewire_V1_GetOrderBookRequest(symbol: symbol, depth: depth)
            try await marketDataCall(client) { Output.print(try await $0.getOrderBook(request, options: client.callOptions)) }
        }
    }

    struct Candles: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "OHLCV candles of the trades, oldest first.")
        @OptionGroup var client: ClientOptions
        @Option(help: "The instrument.") var symbol: String
        @Option(help: "1s, 1m, 5m, 1h or 1d.") var interval = "1m"

        func run() async throws {
            let intervals: [String: Tradewire_V1_CandleInterval] = ["1s": ._1s, "1m": ._1m, "5m": ._5m,
                                                                     "1h": ._1h, "1d": ._1d]
            guard let chosen = intervals[interval] else { throw ValidationError("--interval \(interval) is not 1s, 1m, 5m, 1h or 1d") }
            let request = Tradewire_V1_GetCandlesRequest(symbol: symbol, interval: chosen)
            try await marketDataCall(client) { Output.print(try await $0.getCandles(request, options: client.callOptions)) }
        }
    }

    struct Watch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stream quotes, trades or book updates, one JSON line each.")
        @OptionGroup var client: ClientOptions
        @Option(help: "Symbols, comma-separated (default: all).") var symbols: String?
        @Option(help: "quotes, trades or book.") var kind = "quotes"
        @Option(help: "Stop after this many messages.") var count: Int?

        func run() async throws {
            let request = Tradewire_V1_StreamMarketDataRequest(symbols: (symbols ?? "").split(separator: ",").map(String.init))
            try await marketDataCall(client) { marketData in
                switch kind {
                case "quotes": try await marketData.streamQuotes(request) { try await Output.printLines($0, count: count) }
                case "trades": try await marketData.streamTrades(request) { try await Output.printLines($0, count: count) }
                case "book": try await marketData.streamBook(request) { try await Output.printLines($0, count: count) }
                default: throw ValidationError("--kind \(kind) is not quotes, trades or book")
                }
            }
        }
    }
}

func marketDataCall(_ client: ClientOptions, _ body: (Tradewire_V1_MarketData.Client) async throws -> Void) async throws {
    try await failing {
        try await withChannel(try client.marketDataChannel()) { channel in try await body(Tradewire_V1_MarketData.Client(channel)) }
    }
}
