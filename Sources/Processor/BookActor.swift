import Cluster
import HashRing
import Matching
import Protos

/// What one book input produced: trades and level changes (the node's events) and updates for the orders'
/// actors (sent to their nodes through the outbox).
struct BookOutputs {
    var trades: [Tradewire_V1_Trade] = []
    var changes: [Tradewire_V1_BookChange] = []
    var updates: [(node: String, command: Tradewire_V1_Command)] = []
}

/// One symbol's order-book actor on the node that owns the symbol. Its state changes only by inputs (book order,
/// cancel, replace commands from order actors), applied in order and deterministically: a restart rebuilds it
/// from its latest snapshot plus the inputs journaled after it, and gets the same book, trade ids and sequences.
struct BookActor {
    let symbol: String
    private var book: OrderBook
    /// What the book's integer ids stand for. An order's book id is the XXH64 of its OrderId, so that no second
    /// map (OrderId → book id) is needed; a collision between two resting orders (about 1 in 10^7 with a
    /// million resting) removes the second as INVALID_ORDER rather than mixing them up.
    private var resting: [UInt64: Resting] = [:]
    /// Orders submitted so far (the first sets the book's scales).
    private var nextBookID: UInt64 = 1
    private var bookSequence: UInt64 = 0
    private var nextTrade: UInt64 = 1
    private var priceScale: UInt32 = 0
    private var quantityScale: UInt32 = 0
    /// Inputs applied; the journal keys them by this position.
    private(set) var inputPosition: UInt64 = 0
    /// Per source node, the last outbox sequence applied (later copies are duplicates).
    private var sources: [String: UInt64] = [:]
    /// Inputs since the last snapshot.
    private(set) var sinceSnapshot = 0
    /// Resting orders when the last snapshot was taken (0 before one): see ``snapshotDue(every:)``.
    private var restingAtSnapshot = 0

    /// Whether the book should write a snapshot now: after `every` inputs, or after as many inputs as it had resting
    /// orders at its last snapshot if that is more. A snapshot costs in proportion to the book, so a large book
    /// snapshots less often: each input pays for about one resting order's encoding, and a restart replays at most
    /// about as many inputs as the book holds (a growing book's intervals double).
    func snapshotDue(every: Int) -> Bool { sinceSnapshot >= max(every, restingAtSnapshot) }

    /// Notes that a snapshot was just taken.
    mutating func snapshotTaken() {
        sinceSnapshot = 0
        restingAtSnapshot = resting.count
    }

    struct Resting {
        var orderID: String
        /// The order's total quantity (filled = total − remaining on the book).
        var total: Int64
        /// The order's account, an index into `accounts` (a resting order is kept small: there are far fewer
        /// accounts than orders).
        var accountIndex: UInt32
        /// The node of the order's actor, where updates go: an index into `nodes`.
        var nodeIndex: UInt16
        var side: BookSide
    }

    /// The node ids and accounts that resting orders refer to.
    private var nodes: [String] = []
    private var accounts: [String] = []
    private var accountIndexes: [String: UInt32] = [:]

    private mutating func nodeIndex(_ node: String) -> UInt16 {
        if let index = nodes.firstIndex(of: node) { return UInt16(index) }
        nodes.append(node)
        return UInt16(nodes.count - 1)
    }

    private mutating func accountIndex(_ account: String) -> UInt32 {
        if let index = accountIndexes[account] { return index }
        accounts.append(account)
        accountIndexes[account] = UInt32(accounts.count - 1)
        return UInt32(accounts.count - 1)
    }

    init(symbol: String) {
        self.symbol = symbol
        book = OrderBook(symbol: symbol)
    }

    init(snapshot: Tradewire_V1_BookSnapshot) throws(BookError) {
        symbol = snapshot.symbol
        book = OrderBook(symbol: snapshot.symbol)
        inputPosition = snapshot.inputPosition
        bookSequence = snapshot.bookSequence
        nextBookID = snapshot.nextBookID
        nextTrade = snapshot.nextTrade
        priceScale = snapshot.priceScale
        quantityScale = snapshot.quantityScale
        for mark in snapshot.sources { sources[mark.nodeID] = mark.sequence }
        for order in snapshot.orders {
            let side: BookSide = order.side == .sell ? .sell : .buy
            try book.restore(BookOrder(id: order.bookID, side: side, price: order.price, quantity: order.remaining))
            let orderID = order.orderID?.value ?? ""
            resting[order.bookID] = Resting(orderID: orderID, total: order.remaining + order.filled,
                                            accountIndex: accountIndex(order.account), nodeIndex: nodeIndex(order.orderNodeID), side: side)
        }
        restingAtSnapshot = resting.count
    }

    var snapshot: Tradewire_V1_BookSnapshot {
        var snapshot = Tradewire_V1_BookSnapshot()
        snapshot.symbol = symbol
        snapshot.inputPosition = inputPosition
        snapshot.bookSequence = bookSequence
        snapshot.nextBookID = nextBookID
        snapshot.nextTrade = nextTrade
        snapshot.priceScale = priceScale
        snapshot.quantityScale = quantityScale
        snapshot.sources = sources.sorted { $0.key < $1.key }.map { Tradewire_V1_SourceMark(nodeID: $0.key, sequence: $0.value) }
        snapshot.orders = book.restingOrders.map { order in
            let info = resting[order.id]!
            return Tradewire_V1_RestingOrder(
                bookID: order.id, orderID: Tradewire_V1_OrderId(value: info.orderID), account: accounts[Int(info.accountIndex)],
                side: order.side == .buy ? .buy : .sell, price: order.price ?? 0, remaining: order.quantity,
                orderNodeID: nodes[Int(info.nodeIndex)], filled: info.total - order.quantity)
        }
        return snapshot
    }

    /// Whether `command` was applied already (a resend after a failure).
    func isDuplicate(_ command: Tradewire_V1_Command) -> Bool {
        !command.sourceNodeID.isEmpty && command.sourceSequence <= sources[command.sourceNodeID, default: 0]
    }

    /// Resting orders on the book.
    var count: Int { book.count }

    // MARK: - Inputs

    /// Applies one input (a book order, cancel or replace command); `now` stamps trades and changes only, so the
    /// book's state does not depend on it.
    mutating func apply(_ command: Tradewire_V1_Command, now: Int64) -> BookOutputs {
        inputPosition += 1
        sinceSnapshot += 1
        if !command.sourceNodeID.isEmpty { sources[command.sourceNodeID] = command.sourceSequence }
        var outputs = BookOutputs()
        var touched: [(BookSide, Int64)] = []
        switch command.command {
        case .bookOrder(let input): submit(input, now: now, outputs: &outputs, touched: &touched)
        case .bookCancel(let input): cancel(input, outputs: &outputs, touched: &touched)
        case .bookReplace(let input): replace(input, now: now, outputs: &outputs, touched: &touched)
        default: break
        }
        // Each touched level once, in the order first touched (a handful per input: a scan beats hashing).
        for (index, (side, price)) in touched.enumerated() where !touched[..<index].contains(where: { $0 == side && $1 == price }) {
            let level = book.level(side, price: price)
            bookSequence += 1
            outputs.changes.append(Tradewire_V1_BookChange(
                symbol: symbol, side: side == .buy ? .buy : .sell,
                level: Tradewire_V1_BookLevel(
                    price: Tradewire_V1_Price(units: price, scale: priceScale),
                    quantity: Tradewire_V1_Quantity(units: level?.quantity ?? 0, scale: quantityScale),
                    orderCount: UInt32(level?.orders ?? 0)),
                bookSequence: bookSequence))
        }
        return outputs
    }

    private mutating func submit(_ input: Tradewire_V1_BookOrderCommand, now: Int64, outputs: inout BookOutputs,
                        touched: inout [(BookSide, Int64)])
    {
        let order = input.order ?? Tradewire_V1_Order()
        let orderID = order.orderID?.value ?? ""
        let bookID = Self.bookID(orderID)
        guard resting[bookID]?.orderID != orderID else { return }
        if nextBookID == 1 {
            priceScale = order.price?.scale ?? order.protectionPrice?.scale ?? 0
            quantityScale = order.quantity?.scale ?? 0
        }
        let side: BookSide = order.side == .sell ? .sell : .buy
        let total = order.quantity?.units ?? 0
        // An order whose numbers do not add up (filled above total) gets no quantity, and the book refuses it.
        let (difference, overflow) = total.subtractingReportingOverflow(order.filledQuantity?.units ?? 0)
        let leaves = overflow ? 0 : difference
        let timeInForce: BookTimeInForce = switch order.timeInForce {
        case .ioc: .immediateOrCancel
        case .fok: .fillOrKill
        default: .goodTillCancel
        }
        // A MARKET order trades as an IOC/FOK limit at its protection price: never beyond it (inputs journaled
        // before protection prices existed have none, and replay as they ran).
        let price = order.type == .market ? order.protectionPrice?.units : order.price?.units
        nextBookID += 1
        let taker = Resting(orderID: orderID, total: total, accountIndex: accountIndex(order.account),
                            nodeIndex: nodeIndex(input.orderNodeID), side: side)
        let result: BookResult
        do throws(BookError) {
            result = try book.submit(BookOrder(id: bookID, side: side, price: price, quantity: leaves, timeInForce: timeInForce))
        } catch {
            update(taker, .removed(Tradewire_V1_BookRemoved(
                cancelledQuantity: quantity(leaves), reason: .invalidOrder)), outputs: &outputs)
            return
        }
        trades(result.fills, taker: taker, now: now, outputs: &outputs, touched: &touched)
        if result.resting > 0, let price {
            resting[bookID] = taker
            touched.append((side, price))
        }
        if result.cancelled > 0 {
            update(taker, .removed(Tradewire_V1_BookRemoved(cancelledQuantity: quantity(result.cancelled), reason: .noLiquidity)),
                   outputs: &outputs)
        }
    }

    private mutating func cancel(_ input: Tradewire_V1_BookCancelCommand, outputs: inout BookOutputs, touched: inout [(BookSide, Int64)]) {
        let orderID = input.orderID?.value ?? ""
        let bookID = Self.bookID(orderID)
        guard let info = resting[bookID], info.orderID == orderID, let current = book.order(id: bookID) else {
            refuse(orderID, node: input.orderNodeID, replace: false, outputs: &outputs)
            return
        }
        _ = try? book.cancel(id: bookID)
        forget(bookID)
        touched.append((current.side, current.price))
        update(info, .removed(Tradewire_V1_BookRemoved(cancelledQuantity: quantity(current.remaining), reason: .unspecified)),
               outputs: &outputs)
    }

    private mutating func replace(_ input: Tradewire_V1_BookReplaceCommand, now: Int64, outputs: inout BookOutputs,
                         touched: inout [(BookSide, Int64)])
    {
        let orderID = input.orderID?.value ?? ""
        let bookID = Self.bookID(orderID)
        guard var info = resting[bookID], info.orderID == orderID, let current = book.order(id: bookID) else {
            refuse(orderID, node: input.orderNodeID, replace: true, outputs: &outputs)
            return
        }
        let filled = info.total - current.remaining
        let total = input.quantity?.units ?? info.total
        let price = input.price?.units ?? current.price
        guard total > filled, price > 0 else {
            update(info, .refused(Tradewire_V1_BookRefused(
                reason: .invalidOrder, text: "the new quantity \(total) is not above the \(filled) already filled", replace: true)),
                   outputs: &outputs)
            return
        }
        let keptPriority = price == current.price && total - filled <= current.remaining
        let result: BookResult
        do throws(BookError) {
            result = try book.replace(id: bookID, price: price, quantity: total - filled)
        } catch {
            update(info, .refused(Tradewire_V1_BookRefused(reason: .invalidOrder, text: "\(error)", replace: true)), outputs: &outputs)
            return
        }
        info.total = total
        resting[bookID] = info
        touched.append((current.side, current.price))
        touched.append((current.side, price))
        update(info, .replaced(Tradewire_V1_BookReplaced(
            price: Tradewire_V1_Price(units: price, scale: priceScale), quantity: quantity(total), keptPriority: keptPriority)),
               outputs: &outputs)
        trades(result.fills, taker: info, now: now, outputs: &outputs, touched: &touched)
        if result.resting == 0 { forget(bookID) }
    }

    // MARK: - Outputs

    private mutating func trades(_ fills: [BookFill], taker: Resting, now: Int64, outputs: inout BookOutputs,
                        touched: inout [(BookSide, Int64)])
    {
        for fill in fills {
            let maker = resting[fill.makerID]!
            let (buy, sell) = taker.side == .buy ? (taker, maker) : (maker, taker)
            var trade = Tradewire_V1_Trade()
            trade.tradeID = "\(symbol)-\(nextTrade)"
            nextTrade += 1
            trade.symbol = symbol
            trade.price = Tradewire_V1_Price(units: fill.price, scale: priceScale)
            trade.quantity = quantity(fill.quantity)
            trade.buyOrderID = Tradewire_V1_OrderId(value: buy.orderID)
            trade.sellOrderID = Tradewire_V1_OrderId(value: sell.orderID)
            trade.buyAccount = accounts[Int(buy.accountIndex)]
            trade.sellAccount = accounts[Int(sell.accountIndex)]
            trade.aggressorSide = taker.side == .buy ? .buy : .sell
            trade.executedAtUnixNanos = now
            outputs.trades.append(trade)
            touched.append((maker.side, fill.price))
            update(maker, .fill(trade), outputs: &outputs)
            update(taker, .fill(trade), outputs: &outputs)
            if fill.makerDone { forget(fill.makerID) }
        }
    }

    private func refuse(_ orderID: String, node: String, replace: Bool, outputs: inout BookOutputs) {
        let refused = Tradewire_V1_BookRefused(reason: .tooLate, text: "order \(orderID) is no longer on the book", replace: replace)
        var command = Tradewire_V1_Command()
        command.command = .orderUpdate(Tradewire_V1_OrderUpdateCommand(orderID: Tradewire_V1_OrderId(value: orderID), update: .refused(refused)))
        outputs.updates.append((node, command))
    }

    private func update(_ order: Resting, _ update: Tradewire_V1_OrderUpdateCommand.OneOf_Update, outputs: inout BookOutputs) {
        var command = Tradewire_V1_Command()
        command.command = .orderUpdate(Tradewire_V1_OrderUpdateCommand(orderID: Tradewire_V1_OrderId(value: order.orderID), update: update))
        outputs.updates.append((nodes[Int(order.nodeIndex)], command))
    }

    private mutating func forget(_ bookID: UInt64) {
        resting[bookID] = nil
    }

    static func bookID(_ orderID: String) -> UInt64 { HashRing<String>.hash(orderID) }

    private func quantity(_ units: Int64) -> Tradewire_V1_Quantity { Tradewire_V1_Quantity(units: units, scale: quantityScale) }
}
