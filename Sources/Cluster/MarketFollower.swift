public import Protos
public import RPC
import ServiceStubs
import Transport

/// Keeps a consumer's instruments and reference prices current from the market-data service: WatchInstruments
/// and StreamQuotes for every symbol, each resumed after a failure (with ``Backoff/mesh``, reset by each update).
/// The calls wait for the channel to be ready, so while market data is down the channel's reconnects alone set
/// the pace.
/// Risk and the gateway follow market data this way; until it has answered, they know no instrument and fail
/// closed.
public struct MarketFollower: Sendable {
    let channel: any RPCClientTransport
    let instrument: @Sendable (Tradewire_V1_Instrument) -> Void
    let quote: @Sendable (Tradewire_V1_Quote) -> Void

    public init(channel: any RPCClientTransport, instrument: @escaping @Sendable (Tradewire_V1_Instrument) -> Void,
                quote: @escaping @Sendable (Tradewire_V1_Quote) -> Void)
    {
        self.channel = channel
        self.instrument = instrument
        self.quote = quote
    }

    /// Follows both streams until cancelled, on the channel's loop: updates keep coming while the process's shared
    /// threads are busy.
    public func run() async {
        let client = Tradewire_V1_MarketData.Client(channel)
        let instrument = instrument
        let quote = quote
        await withTaskGroup(of: Void.self) { group in
            group.addTask(executorPreference: channel.preferredExecutor) {
                await Self.retrying { backoff in
                    try await client.watchInstruments(Tradewire_V1_ListInstrumentsRequest(), options: Self.waitForReady) { instruments in
                        for try await update in instruments {
                            backoff.reset()
                            instrument(update)
                        }
                    }
                }
            }
            group.addTask(executorPreference: channel.preferredExecutor) {
                await Self.retrying { backoff in
                    try await client.streamQuotes(Tradewire_V1_StreamMarketDataRequest(), options: Self.waitForReady) { quotes in
                        for try await update in quotes {
                            backoff.reset()
                            quote(update)
                        }
                    }
                }
            }
        }
    }

    private static let waitForReady = CallOptions(waitForReady: true)

    private static func retrying(_ body: @Sendable (inout Backoff) async throws -> Void) async {
        var backoff = Backoff.mesh
        while !Task.isCancelled {
            do { try await body(&backoff) } catch {}
            await backoff.wait()
        }
    }
}

/// A reference price as a consumer (risk, the gateway) holds it: units at the instrument's price scale, and when
/// market data established it. Past the consumer's maximum age it is stale, and orders that need it are refused.
public struct ReferencePrice: Sendable, Hashable {
    public var units: Int64
    /// Wall-clock nanoseconds since 1970.
    public var at: Int64

    public init(units: Int64, at: Int64) {
        self.units = units
        self.at = at
    }

    /// Whether it is at most `maxAge` nanoseconds old at `now` (a time from the future counts as fresh).
    public func isFresh(now: Int64, maxAge: Int64) -> Bool {
        let (age, overflow) = now.subtractingReportingOverflow(at)
        return !overflow && age <= maxAge
    }
}

extension Tradewire_V1_Quote {
    /// The reference price when it is at `priceScale` (the instrument's; nil when unknown) and positive; nil when
    /// there is none or it is at another scale (not comparable). Its time is `reference_at_unix_nanos`, else the
    /// quote's own time.
    public func reference(priceScale: UInt32?) -> ReferencePrice? {
        guard let price = referencePrice, price.units > 0, price.scale == (priceScale ?? price.scale) else { return nil }
        return ReferencePrice(units: price.units, at: referenceAtUnixNanos != 0 ? referenceAtUnixNanos : updatedAtUnixNanos)
    }
}
