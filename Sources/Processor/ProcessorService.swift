import Cluster
import EventLoop
import Journal
import Orders
import Protos
import RPC
import ServiceStubs
import Synchronization
import Locks

/// `tradewire.v1.Processor` on one node: the command stream, event subscriptions, and order reads.
struct ProcessorService: Tradewire_V1_Processor.ServiceProtocol {
    let shell: NodeShell
    /// Commands one stream may have unanswered; past it the node stops reading the stream (HTTP/2 flow control
    /// then holds the sender back).
    let maxInFlight: Int

    func commands(
        requests: RPCRequestStream<Tradewire_V1_CommandBatch>, responses: RPCResponseWriter<Tradewire_V1_AckBatch>,
        context: ServerContext
    ) async throws {
        let sink = AckSink(limit: maxInFlight)
        let shell = shell
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                while let acks = await sink.next() { try await responses.write(Tradewire_V1_AckBatch(acks: acks)) }
            }
            do {
                for try await batch in requests {
                    // A batch goes in as far as there is room, the rest as acknowledgements make more: the stream
                    // keeps its bound in flight however the sender happened to cut its batches.
                    var start = 0
                    while start < batch.commands.count {
                        let granted = await sink.reserve(upTo: batch.commands.count - start)
                        let commands = Array(batch.commands[start..<start + granted])
                        start += granted
                        shell.loop.execute {
                            for command in commands { shell.handle(command) { sink.push($0) } }
                        }
                    }
                }
            } catch {
                sink.cancel()
                throw error
            }
            sink.endOfInput()
            try await group.waitForAll()
        }
    }

    func subscribeEvents(
        request: Tradewire_V1_SubscribeEventsRequest, responses: RPCResponseWriter<Tradewire_V1_EventBatch>,
        context: ServerContext
    ) async throws {
        let journal = shell.journal
        let (batchSize, heartbeat, linger, wanted, statuses, parts) = try Self.subscription(request)
        var lastSent = ContinuousClock.now
        var next = max(1, request.fromSequence)
        let metrics = NodeMetrics.shared
        metrics.eventSubscribers.increment()
        defer { metrics.eventSubscribers.decrement() }
        if request.fromHead {
            let head = journal.lastSequence
            try await responses.write(Tradewire_V1_EventBatch(headSequence: head, sentAtUnixNanos: WallClock.now()))
            next = head + 1
        }
        while !Task.isCancelled {
            let records = try await journal.scan(from: next, limit: batchSize)
            guard let last = records.last else {
                if journal.isClosed { throw RPCError(code: .unavailable, message: "the node is shutting down; resume from \(next)") }
                try await waitPast(next - 1, heartbeat: heartbeat, linger: linger, lastSent: &lastSent, responses: responses)
                continue
            }
            // The reader can see a commit before the writer has published its new head.
            var batch = Tradewire_V1_EventBatch(
                headSequence: max(journal.lastSequence, last.sequence), sentAtUnixNanos: WallClock.now(), throughSequence: last.sequence)
            metrics.subscriberLag.record(batch.headSequence - last.sequence)
            // Filters first by the stored kind and an order's stored status, so that what is left out is never decoded.
            let kept = wanted.isEmpty && statuses.isEmpty ? records : records.filter { record in
                (wanted.isEmpty || wanted.contains(record.entry.kind)) && (statuses.isEmpty || StoredEventBatch.keeps(record, statuses))
            }
            // A batch the filters emptied is not sent, unless the heartbeat is due: it then says how far the stream
            // has looked (a subscriber that hears nothing for a while takes the stream for stalled).
            let heartbeatDue = heartbeat.map { ContinuousClock.now - lastSent >= $0 } == true
            if request.account.isEmpty {
                // Every kept event goes: as stored, not decoded and re-encoded for each subscriber.
                if !kept.isEmpty || heartbeatDue {
                    try await responses.write(headroomed: try StoredEventBatch.headroomed(
                        header: batch, kept, node: shell.nodeID, parts: parts))
                    lastSent = .now
                }
            } else {
                batch.events = try kept.map { try Self.event($0, node: shell.nodeID) }.compactMap { event in
                    guard case .order(var order) = event.event, order.order?.account == request.account else { return nil }
                    var event = event
                    parts.trim(&order)
                    event.event = .order(order)
                    return event
                }
                if !batch.events.isEmpty || heartbeatDue {
                    try await responses.write(batch)
                    lastSent = .now
                }
            }
            next = last.sequence + 1
        }
    }

    /// A subscription's checked terms: events per batch, the heartbeat interval (nil: none), the linger in
    /// nanoseconds, the event kinds wanted and the statuses an order event's order must have (empty: all).
    /// INVALID_ARGUMENT names what is out of range.
    private static func subscription(_ request: Tradewire_V1_SubscribeEventsRequest) throws(RPCError)
        -> (batchSize: Int, heartbeat: Duration?, linger: UInt64, wanted: Set<Int32>, statuses: Set<Int32>, parts: OrderEventParts)
    {
        guard request.fromSequence <= UInt64(Int64.max) else {
            throw RPCError(code: .invalidArgument, message: "from_sequence is at most 2^63 − 1 (a journal's sequences are SQLite integers)")
        }
        if !request.account.isEmpty, !OrderBounds.isIdentifier(request.account) {
            throw RPCError(code: .invalidArgument, message: "account is 1–64 printable ASCII characters")
        }
        let batchSize = request.maxBatchSize == 0 ? 512 : Int(min(request.maxBatchSize, 4096))
        guard request.heartbeatMs == 0 || (100...60_000).contains(request.heartbeatMs) else {
            throw RPCError(code: .invalidArgument, message: "heartbeat_ms is 0 (none) or 100–60,000")
        }
        let heartbeat: Duration? = request.heartbeatMs == 0 ? nil : .milliseconds(request.heartbeatMs)
        guard request.lingerMs <= 1000 else {
            throw RPCError(code: .invalidArgument, message: "linger_ms is 0 (none) to 1,000")
        }
        var kinds = Set<Int32>()
        for kind in request.kinds {
            guard (1...3).contains(kind.rawValue) else { throw RPCError(code: .invalidArgument, message: "kinds: \(kind.rawValue) is not an EventKind") }
            kinds.insert(kind.rawValue)
        }
        // An account's feed is its order events whatever kinds it names.
        let wanted = request.account.isEmpty ? kinds : [Tradewire_V1_EventKind.order.rawValue]
        guard !(request.reportsOnly && request.tradeReportsOnly) else {
            throw RPCError(code: .invalidArgument, message: "reports_only and trade_reports_only exclude each other")
        }
        let parts: OrderEventParts = request.reportsOnly ? .reports : request.tradeReportsOnly ? .orderAndFillReports : .all
        let statuses = Set(try Self.statuses(request.orderStatuses, field: "order_statuses"))
        return (batchSize, heartbeat, UInt64(request.lingerMs) * 1_000_000, wanted, statuses, parts)
    }

    /// A caught-up subscriber's wait: until an event after `sequence` commits (sending a heartbeat when one is due,
    /// and waking for the next one), then, with a linger, that much longer so that what commits meanwhile goes with it.
    private func waitPast(_ sequence: UInt64, heartbeat: Duration?, linger: UInt64, lastSent: inout ContinuousClock.Instant,
                          responses: RPCResponseWriter<Tradewire_V1_EventBatch>) async throws
    {
        let journal = shell.journal
        if let heartbeat {
            if ContinuousClock.now - lastSent >= heartbeat {
                try await responses.write(Tradewire_V1_EventBatch(
                    headSequence: journal.lastSequence, sentAtUnixNanos: WallClock.now(), throughSequence: sequence))
                lastSent = .now
            }
            await journal.waitForEvents(after: sequence, atMost: heartbeat - (ContinuousClock.now - lastSent))
        } else {
            await journal.waitForEvents(after: sequence)
        }
        if linger > 0, journal.lastSequence > sequence, !Task.isCancelled {
            await shell.loop.sleep(until: Monotonic.now() + linger)
        }
    }

    /// The distinct statuses a filter names: known values only (at most the eight there are), so that a query never
    /// grows with the request.
    static func statuses(_ statuses: [Tradewire_V1_OrderStatus], field: String = "statuses") throws(RPCError) -> [Int32] {
        var values: [Int32] = []
        for status in statuses {
            guard case let value = status.rawValue, (1...8).contains(value) else {
                throw RPCError(code: .invalidArgument, message: "\(field): \(status.rawValue) is not an OrderStatus")
            }
            if !values.contains(value) { values.append(value) }
        }
        return values
    }

    /// A journal record as subscribers see it: the stored event with its sequence, commit time and exec id (and
    /// with only the `parts` of an order event asked for). Feeds that need not look inside events send the same
    /// thing without decoding (``StoredEventBatch``).
    static func event(_ record: JournalRecord, node: String, parts: OrderEventParts = .all) throws -> Tradewire_V1_Event {
        var event = try Tradewire_V1_Event(serializedBytes: record.entry.payload)
        event.sequence = record.sequence
        event.committedAtUnixNanos = record.committedAt
        if case .order(var order) = event.event {
            if var report = order.report {
                report.execID = "\(node)-\(record.sequence)"
                report.cursor = "\(node):\(record.sequence)"
                order.report = report
            }
            parts.trim(&order)
            event.event = .order(order)
        }
        return event
    }

    func getOrder(request: Tradewire_V1_ProcessorGetOrderRequest, context: ServerContext) async throws -> Tradewire_V1_Order {
        let id = request.orderID?.value ?? ""
        guard OrderBounds.isIdentifier(id) else { throw RPCError(code: .invalidArgument, message: "order_id is 1–64 printable ASCII characters") }
        guard OrderBounds.isIdentifier(request.account) else {
            throw RPCError(code: .invalidArgument, message: "account is required (1–64 printable ASCII characters): reads are scoped to one account")
        }
        let owner = shell.ring.owner(of: .order(id))
        guard owner.id == shell.nodeID else {
            throw RPCError(code: .failedPrecondition, message: "order \(id) is owned by node \(owner.id) (\(owner.address)), ring epoch \(shell.ring.epoch)")
        }
        let shell = shell
        guard let order = try await shell.loop.submit({ shell.order(id) }), request.account == order.account else {
            throw RPCError(code: .notFound, message: "order \(id) does not exist")
        }
        return order
    }

    func listOrders(request: Tradewire_V1_ProcessorListOrdersRequest, context: ServerContext) async throws
        -> Tradewire_V1_ProcessorListOrdersResponse
    {
        guard OrderBounds.isIdentifier(request.account) else {
            throw RPCError(code: .invalidArgument, message: "account is required (1–64 printable ASCII characters)")
        }
        var query = OrderQuery(account: request.account)
        query.statuses = try Self.statuses(request.statuses)
        guard request.symbol.isEmpty || OrderBounds.isSymbol(request.symbol) else {
            throw RPCError(code: .invalidArgument, message: "symbol is not \(OrderBounds.symbolRule)")
        }
        query.symbol = request.symbol
        guard request.batchID.isEmpty || OrderBounds.isIdentifier(request.batchID) else {
            throw RPCError(code: .invalidArgument, message: "batch_id is 1–64 printable ASCII characters")
        }
        query.createdAfter = request.createdAfterUnixNanos
        query.createdBefore = request.createdBeforeUnixNanos
        query.batchID = request.batchID
        query.limit = request.pageSize == 0 ? 100 : Int(min(request.pageSize, 1000))
        if !request.pageToken.isEmpty {
            guard let after = PageToken.parse(request.pageToken) else {
                throw RPCError(code: .invalidArgument, message: "page_token \(Echo.quote(request.pageToken)) is not one this API gave")
            }
            query.after = after
        }
        let rows = try await shell.journal.scan(query)
        var response = Tradewire_V1_ProcessorListOrdersResponse()
        response.orders = try rows.map { try Tradewire_V1_OrderRecord(serializedBytes: $0.payload).order ?? Tradewire_V1_Order() }
        if rows.count == query.limit, let last = rows.last { response.nextPageToken = PageToken.text(createdAt: last.createdAt, orderID: last.key) }
        return response
    }
}

/// One command stream's acknowledgements on their way out: the node's shell pushes them as commits complete; the
/// stream's writer takes whatever has gathered as one batch. Also the stream's in-flight bound: the reader
/// reserves room for each batch of commands before handing it to the shell.
final class AckSink: Sendable {
    private let limit: Int
    private let state = Lock(State())

    private struct State {
        var acks: [Tradewire_V1_Ack] = []
        var inFlight = 0
        var inputEnded = false
        var cancelled = false
        var writer: UnsafeContinuation<Void, Never>?
        /// The reader waiting for room, and how many commands it has.
        var room: (wanted: Int, continuation: UnsafeContinuation<Int, Never>)?

        /// Counts up to `wanted` more in flight, as many as fit under `limit`; nil when none does.
        mutating func grant(_ wanted: Int, limit: Int) -> Int? {
            let granted = min(wanted, limit - inFlight)
            guard granted > 0 else { return nil }
            inFlight += granted
            return granted
        }
    }

    init(limit: Int) {
        self.limit = limit
    }

    /// Takes room for up to `wanted` (> 0) more commands, waiting while the stream has its limit in flight;
    /// returns how many it took (at least one; all of them once the stream is cancelled, which stops nothing).
    func reserve(upTo wanted: Int) async -> Int {
        await withUnsafeContinuation { continuation in
            let granted = state.withLock { state -> Int? in
                if state.cancelled { return wanted }
                guard let granted = state.grant(wanted, limit: limit) else {
                    state.room = (wanted, continuation)
                    return nil
                }
                return granted
            }
            if let granted { continuation.resume(returning: granted) }
        }
    }

    func push(_ ack: Tradewire_V1_Ack) {
        let (writer, room) = state.withLock { state in
            state.acks.append(ack)
            state.inFlight -= 1
            var room: (UnsafeContinuation<Int, Never>, Int)?
            if let waiting = state.room, let granted = state.grant(waiting.wanted, limit: limit) {
                room = (waiting.continuation, granted)
                state.room = nil
            }
            defer { state.writer = nil }
            return (state.writer, room)
        }
        writer?.resume()
        if let (continuation, granted) = room { continuation.resume(returning: granted) }
    }

    /// The acknowledgements gathered so far; waits while there are none; nil once the input ended and every
    /// command is answered, or the stream was cancelled.
    func next() async -> [Tradewire_V1_Ack]? {
        while true {
            let ready = state.withLock { state -> [Tradewire_V1_Ack]?? in
                if state.cancelled { return .some(nil) }
                if !state.acks.isEmpty {
                    defer { state.acks = [] }
                    return .some(state.acks)
                }
                return state.inputEnded && state.inFlight == 0 ? .some(nil) : nil
            }
            if let ready { return ready }
            await withUnsafeContinuation { continuation in
                let wake = state.withLock { state -> Bool in
                    guard state.acks.isEmpty && !state.cancelled && !(state.inputEnded && state.inFlight == 0) else { return true }
                    state.writer = continuation
                    return false
                }
                if wake { continuation.resume() }
            }
        }
    }

    func endOfInput() {
        let writer = state.withLock { state in
            state.inputEnded = true
            defer { state.writer = nil }
            return state.writer
        }
        writer?.resume()
    }

    func cancel() {
        let (writer, room) = state.withLock { state in
            state.cancelled = true
            defer { state.writer = nil; state.room = nil }
            return (state.writer, state.room)
        }
        writer?.resume()
        if let room { room.continuation.resume(returning: room.wanted) }
    }
}

