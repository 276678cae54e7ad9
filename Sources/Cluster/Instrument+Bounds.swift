public import Orders
public import Protos

extension Tradewire_V1_Instrument {
    /// The largest price and quantity (units) an order of this instrument may have: those it sets, the other
    /// derived so that their product is at most 10^18 (`OrderBounds`).
    public var maxima: (price: Int64, quantity: Int64) {
        OrderBounds.maxima(maxPrice: maxPrice?.units ?? 0, maxQuantity: maxQuantity?.units ?? 0)
    }
}
