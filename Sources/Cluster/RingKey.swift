public import Orders
public import Protos

/// What the ring places: an order, by its OrderId, or a symbol's book. Both share one ring; a book hashes as
/// "book:" + symbol.
public enum RingKey: Sendable, Hashable {
    case order(String)
    case book(String)

    /// The text the ring hashes.
    public var text: String {
        switch self {
        case .order(let id): id
        case .book(let symbol): "book:" + symbol
        }
    }

    /// The key `command` is routed by; nil when it names no valid order id or symbol (they are bounded where they
    /// enter: nothing longer reaches a map or a row).
    public init?(routing command: Tradewire_V1_Command) {
        switch command.command {
        case .place(let place): self.init(order: place.orderID?.value)
        case .cancel(let cancel): self.init(order: cancel.orderID?.value)
        case .replace(let replace): self.init(order: replace.orderID?.value)
        case .orderUpdate(let update): self.init(order: update.orderID?.value)
        case .bookOrder(let order): self.init(book: order.order?.symbol)
        case .bookCancel(let cancel): self.init(book: cancel.symbol)
        case .bookReplace(let replace): self.init(book: replace.symbol)
        case nil: return nil
        }
    }

    private init?(order id: String?) {
        guard let id, OrderBounds.isIdentifier(id) else { return nil }
        self = .order(id)
    }

    private init?(book symbol: String?) {
        guard let symbol, OrderBounds.isSymbol(symbol) else { return nil }
        self = .book(symbol)
    }

    /// Why a command has no routing key.
    public static let unroutable =
        "the command names no valid order id (1–64 printable ASCII characters) or symbol (1–16 of A–Z, 0–9, '.', '_', '-')"
}
