import EventLoop
import Cluster
public import Protos
import Synchronization
import Locks

/// The instruments and reference prices the gateway validates orders against, kept current from market data
/// (`MarketFollower`). Until market data has answered, no symbol is known and every order is refused; a reference
/// older than `referenceMaxAge` is stale, and orders that need one are refused until a fresh one arrives.
public final class InstrumentTable: Sendable {
    private struct State {
        var instruments: [String: Tradewire_V1_Instrument] = [:]
        var references: [String: ReferencePrice] = [:]
    }

    private let state = Lock(State())
    /// Nanoseconds.
    let referenceMaxAge: Int64

    public init(referenceMaxAge: Duration = .seconds(10)) {
        self.referenceMaxAge = Int64(referenceMaxAge.nanoseconds)
    }

    public func update(_ instrument: Tradewire_V1_Instrument) {
        state.withLock { $0.instruments[instrument.symbol] = instrument }
    }

    public func update(_ quote: Tradewire_V1_Quote) {
        state.withLock { state in
            state.references[quote.symbol] = quote.reference(priceScale: state.instruments[quote.symbol]?.priceScale)
        }
    }

    /// True until market data has named an instrument.
    public var isEmpty: Bool { state.withLock { $0.instruments.isEmpty } }

    /// The instrument and its reference price (in its price scale), if known.
    public func lookup(_ symbol: String) -> (instrument: Tradewire_V1_Instrument, reference: ReferencePrice?)? {
        state.withLock { state in state.instruments[symbol].map { ($0, state.references[symbol]) } }
    }
}
