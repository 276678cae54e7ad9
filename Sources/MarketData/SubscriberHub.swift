import Cluster

/// Who gets what: subscribers by symbol, and those that want every symbol. Owned by the service's core thread.
final class SubscriberHub<Element: Sendable> {
    private var bySymbol: [String: [ObjectIdentifier: SubscriberQueue<Element>]] = [:]
    private var everything: [ObjectIdentifier: SubscriberQueue<Element>] = [:]

    var isEmpty: Bool { bySymbol.isEmpty && everything.isEmpty }

    /// `symbols` empty: every symbol.
    func add(_ queue: SubscriberQueue<Element>, symbols: [String]) {
        let id = ObjectIdentifier(queue)
        if symbols.isEmpty { everything[id] = queue }
        for symbol in symbols { bySymbol[symbol, default: [:]][id] = queue }
    }

    func remove(_ queue: SubscriberQueue<Element>, symbols: [String]) {
        let id = ObjectIdentifier(queue)
        everything[id] = nil
        for symbol in symbols {
            bySymbol[symbol]?[id] = nil
            if bySymbol[symbol]?.isEmpty == true { bySymbol[symbol] = nil }
        }
    }

    /// Whether anyone wants `symbol`'s updates (to skip building them when nobody does).
    func wants(_ symbol: String) -> Bool { !everything.isEmpty || bySymbol[symbol] != nil }

    func publish(_ symbol: String, _ element: Element) {
        for queue in everything.values { queue.push(element) }
        for queue in bySymbol[symbol]?.values ?? [:].values { queue.push(element) }
    }
}
