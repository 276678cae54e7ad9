import JSON
import Orders
import Cluster
import Protos
import ProtoJSON

/// The market-data service's part of the cluster file:
///
/// ```json
/// {"marketdata": "127.0.0.1:7300",
///  "instruments": [{"symbol": "ACME", "quoteCurrency": "USD", "priceScale": 2, "quantityScale": 0,
///                   "tickSize": {"units": "1", "scale": 2}, "lotSize": {"units": "1"}, "priceBandBps": 500,
///                   "status": "INSTRUMENT_STATUS_TRADING"}],
///  "feed": {"seed": 7, "interval_ms": 250, "step_bps": 10, "prices": {"ACME": 10000}},
///  "reference_window_ms": 60000, "subscriber_queue": 1024, "event_batch": 256}
/// ```
///
/// Instruments are in the proto3 JSON form of `tradewire.v1.Instrument`; they seed the registry the first time
/// the service starts (afterwards UpsertInstrument changes it, and the stored registry wins).
public struct MarketDataSettings: Sendable {
    public var instruments: [Tradewire_V1_Instrument] = []
    var feed = ReferenceFeed.Settings()
    /// A last trade younger than this is the reference price.
    public var referenceWindow: Duration = .seconds(60)
    /// Updates one stream subscriber may have unsent before it is ended with RESOURCE_EXHAUSTED.
    public var subscriberQueue = 1024
    /// Most events asked of a processor node per batch. A batch's trades and book changes reach subscribers at
    /// once, so this stays well below `subscriberQueue` (a catch-up burst must not drop a subscriber that reads).
    public var eventBatch: UInt32 = 256

    public init() {}

    public static func parse(_ text: String, path: String = "cluster file") throws -> MarketDataSettings {
        let json: JSONValue
        do { json = try JSONValue.parse(text) } catch { throw MarketDataError("\(path): \(error)") }
        var settings = MarketDataSettings()
        let codec = ProtoJSON(catalog: .protos)
        for (index, entry) in (json["instruments"]?.arrayValue ?? []).enumerated() {
            do {
                let instrument = try Tradewire_V1_Instrument(serializedBytes: codec.encode(entry, as: Tradewire_V1_Instrument.self))
                try InstrumentRules.validate(instrument)
                settings.instruments.append(instrument)
            } catch {
                throw MarketDataError("\(path): instruments[\(index)]: \(error)")
            }
        }
        do {
            try parseNumbers(json, into: &settings, path: path)
        } catch let error as MarketDataError {
            throw error
        } catch {
            throw MarketDataError("\(path): \(error)")
        }
        return settings
    }

    private static func parseNumbers(_ json: JSONValue, into settings: inout MarketDataSettings, path: String) throws {
        if let feed = json["feed"] {
            if let seed = feed["seed"]?.int64Value { settings.feed.seed = UInt64(bitPattern: seed) }
            if let interval = try feed.integer("interval_ms", in: 1...3_600_000) { settings.feed.interval = .milliseconds(interval) }
            if let step = try feed.integer("step_bps", in: 0...10_000) { settings.feed.stepBasisPoints = step }
            if case .bool(let enabled)? = feed["enabled"] { settings.feed.enabled = enabled }
            for (symbol, price) in feed["prices"]?.objectValue?.members ?? [] {
                let maximum = settings.instruments.first { $0.symbol == symbol }.map(\.maxima.price) ?? OrderBounds.defaultMaxUnits
                guard let units = price.int64Value, (1...maximum).contains(units) else {
                    throw MarketDataError("\(path): feed.prices.\(symbol) must be an integer from 1 to \(maximum) (units at the price scale, at most the instrument's max_price)")
                }
                settings.feed.start[symbol] = units
            }
        }
        if let window = try json.integer("reference_window_ms", in: 1...86_400_000) { settings.referenceWindow = .milliseconds(window) }
        if let queue = try json.integer("subscriber_queue", in: 1...1_048_576) { settings.subscriberQueue = Int(queue) }
        if let batch = try json.integer("event_batch", in: 1...4096) {
            guard batch < settings.subscriberQueue else {
                throw MarketDataError("\(path): event_batch must be below subscriber_queue (\(settings.subscriberQueue))")
            }
            settings.eventBatch = UInt32(batch)
        }
    }
}

public struct MarketDataError: Error, CustomStringConvertible {
    public var description: String

    init(_ description: String) { self.description = description }
}
