import Processor
import Protos
import RPC
import ServiceStubs
import Transport

/// Keeps risk's instruments and reference prices current from the market-data service: WatchInstruments and
/// StreamQuotes for every symbol, each resumed after a failure (with a `Backoff`, reset by each update). Until market data has
/// answered, orders in symbols risk does not know are rejected (UNKNOWN_SYMBOL): risk fails closed.
struct MarketFollower: Sendable {
    let channel: Channel
    let core: RiskCore

    func run() async {
        let client = Tradewire_V1_MarketData.Client(channel)
        let core = core
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await Self.retrying { backoff in
                    try await client.watchInstruments(Tradewire_V1_ListInstrumentsRequest()) { instruments in
                        for try await instrument in instruments {
                            backoff.reset()
                            core.engine.withLock { $0.instruments[instrument.symbol] = instrument }
                        }
                    }
                }
            }
            group.addTask {
                await Self.retrying { backoff in
                    try await client.streamQuotes(Tradewire_V1_StreamMarketDataRequest()) { quotes in
                        for try await quote in quotes {
                            backoff.reset()
                            core.engine.withLock { engine in
                                guard let price = quote.referencePrice, price.units > 0 else {
                                    engine.references[quote.symbol] = nil
                                    return
                                }
                                // A price at another scale than the instrument's is not comparable: no reference.
                                let scale = engine.instruments[quote.symbol]?.priceScale ?? price.scale
                                engine.references[quote.symbol] = price.scale == scale ? price.units : nil
                            }
                        }
                    }
                }
            }
        }
    }

    private static func retrying(_ body: @Sendable (inout Backoff) async throws -> Void) async {
        var backoff = Backoff()
        while !Task.isCancelled {
            do { try await body(&backoff) } catch {}
            await backoff.wait()
        }
    }
}
