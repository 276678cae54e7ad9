import EventLoop
import JSON
import LoadHarness
import Locks
import Protos
import RPC
import ServiceStubs
import Transport

/// Orders through OrderEntry sessions, as trading clients send them: `sessions` bidi streams over `connections`
/// connections, spread over the API keys' accounts (every session of an account hears all of the account's
/// reports, so sessions of one account multiply the gateway's work), each sending its own ``OrderFlow`` mix (six
/// places, two cancels, two replaces in ten). The pacing and the latency are LoadHarness's ``OperationLoad``: a
/// fixed total rate (open loop: each request is due at its slot of the schedule, and its latency counts from
/// there, so a stall is not hidden), or `inFlight` requests unanswered per session (closed loop: saturation).
///
/// A request is acknowledged by its first answer: a place by its PENDING_NEW or REJECTED report (both follow the
/// node's commit), a cancel or replace by its PENDING_CANCEL / PENDING_REPLACE report, an ORDER_STATUS report or
/// a CancelReject. A place's fill is its first TRADE report.
public struct OrderEntryBenchmark: Sendable {
    public var host: String
    public var port: Int
    /// Session i uses key i mod their number.
    public var apiKeys: [String]
    public var sessions: Int
    public var connections: Int
    /// Requests per second over all sessions (open loop); nil for a closed loop.
    public var rate: Int?
    /// Closed loop: requests each session keeps unanswered.
    public var inFlight: Int
    public var warmup: Duration
    public var duration: Duration
    public var markets: [OrderFlow.Market]
    /// Orders are priced from this many ticks short of the mid to as many through it.
    public var spread: Int64

    public init(host: String, port: Int, apiKeys: [String], sessions: Int, connections: Int, rate: Int?, inFlight: Int,
                warmup: Duration, duration: Duration, markets: [OrderFlow.Market], spread: Int64)
    {
        precondition(!apiKeys.isEmpty && sessions > 0 && connections > 0 && inFlight > 0 && (rate ?? 1) > 0 && !markets.isEmpty && spread >= 0)
        self.host = host
        self.port = port
        self.apiKeys = apiKeys
        self.sessions = sessions
        self.connections = connections
        self.rate = rate
        self.inFlight = inFlight
        self.warmup = warmup
        self.duration = duration
        self.markets = markets
        self.spread = spread
    }

    /// The figures as JSON (the keys tools/bench-e2e reads).
    public func run() async throws -> JSONValue {
        let channels = try (0..<connections).map { _ in try Channel(host: host, port: port) }
        let runID = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let recorders = (0..<sessions).map { _ in SessionRecorder() }
        let load = OperationLoad(model: rate.map { .open(rate: Double($0), workers: sessions) } ?? .closed(workers: sessions),
                                 warmup: warmup, duration: duration)
        let result = try await load.run { session, gate in
            let channel = channels[session % channels.count]
            let flow = OrderFlow(markets: markets, priceScale: 2, tick: 1, spread: spread, lot: 1, run: "\(runID)-\(session)")
            let window = rate == nil ? SessionWindow(inFlight) : nil
            try await withTaskExecutorPreference(channel.preferredExecutor) {
                try await Self.session(Tradewire_V1_Gateway.Client(channel), key: apiKeys[session % apiKeys.count], flow: flow,
                                       window: window, gate: gate, loop: channel.preferredExecutor as? EventLoop, recorder: recorders[session])
            }
        }
        for channel in channels { await channel.shutdown() }
        return SessionRecorder.summary(recorders, result, sessions: sessions,
                                       model: rate.map { "open loop, \($0) requests/s" } ?? "closed loop, \(inFlight) in flight per session")
    }

    /// One session: its order flow, each request sent when the gate says (on `loop`'s timer: the session runs on its
    /// connection's loop) and, in a closed loop, when the session has room, until the run is over; then it
    /// half-closes and hears the answers still due.
    private static func session(_ client: Tradewire_V1_Gateway.Client, key: String, flow: OrderFlow, window: SessionWindow?,
                                gate: LoadGate, loop: EventLoop?, recorder: SessionRecorder) async throws
    {
        try await client.orderEntry(metadata: ["authorization": .string("Bearer \(key)")]) { writer, responses in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    var index = 0
                    while await window?.acquire() ?? true, let start = await gate.next(on: loop) {
                        var request = Tradewire_V1_OrderEntryRequest(correlationID: "\(index)")
                        let (body, clientOrderID) = flow.entry(index)
                        request.request = body
                        recorder.sent(request.correlationID, clientOrderID: clientOrderID, kind: body.kind, start: start,
                                      measured: gate.isMeasured(start))
                        index += 1
                        try await writer.write(request)
                    }
                    writer.finish()
                }
                for try await response in responses {
                    let answered = recorder.answered(response, gate: gate)
                    for _ in 0..<answered { window?.release() }
                }
                // The stream is over: a sender waiting for room would wait for ever.
                window?.close()
                try await group.waitForAll()
            }
        }
    }
}

/// A closed loop's room in one session: `acquire` waits until fewer than its bound are unanswered.
final class SessionWindow: Sendable {
    private struct State {
        var available: Int
        var closed = false
        var waiter: CheckedContinuation<Bool, Never>?
    }

    private let state: Lock<State>

    init(_ bound: Int) { state = Lock(State(available: bound)) }

    /// Takes a place, waiting for one if none is free; false once the window is closed. One task acquires.
    func acquire() async -> Bool {
        await withCheckedContinuation { continuation in
            let ready: Bool? = state.withLock { state in
                if state.closed { return false }
                guard state.available > 0 else {
                    state.waiter = continuation
                    return nil
                }
                state.available -= 1
                return true
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    func release() {
        let waiter = state.withLock { state in
            guard let waiter = state.waiter else {
                state.available += 1
                return nil as CheckedContinuation<Bool, Never>?
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume(returning: true)
    }

    func close() {
        let waiter = state.withLock { state in
            state.closed = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: false)
    }
}

/// What one session sent and heard: requests by correlation id and places by client order id, until answered
/// (and filled); the latencies beyond the gate's request-to-ack.
final class SessionRecorder: Sendable {
    private struct State {
        var requests: [String: (start: UInt64, measured: Bool, kind: String)] = [:]
        var places: [String: (correlation: String, start: UInt64, measured: Bool)] = [:]
        var placeAcks = LatencyHistogram()
        var fills = LatencyHistogram()
        var sent = 0
        var rejected = 0
        var cancelRejects = 0
        /// Measured requests refused, by why (``refusal(_:_:)``): places REJECTED, cancels and replaces by CancelReject.
        var rejectedBy: [String: Int] = [:]
        var cancelRejectedBy: [String: Int] = [:]
        /// Measured places acknowledged (PENDING_NEW) and rejected afterwards, by why.
        var rejectedAfterAckBy: [String: Int] = [:]
    }

    private let state = Lock(State())

    func sent(_ correlation: String, clientOrderID: String, kind: String, start: UInt64, measured: Bool) {
        let isPlace = kind == "place"
        state.withLock { state in
            state.requests[correlation] = (start, measured, kind)
            if isPlace { state.places[clientOrderID] = (correlation, start, measured) }
            if measured { state.sent += 1 }
        }
    }

    /// Notes `response`, records the request it acknowledges with `gate`: how many requests it answered (0 or 1).
    func answered(_ response: Tradewire_V1_OrderEntryResponse, gate: LoadGate) -> Int {
        let now = Monotonic.now()
        let acknowledged: (start: UInt64, measured: Bool)? = state.withLock { state in
            switch response.response {
            case .executionReport(let report):
                if report.execType == .trade, let place = state.places.removeValue(forKey: report.clientOrderID), place.measured {
                    state.fills.record(now &- place.start)
                }
                let correlation: String? = switch report.execType {
                case .pendingNew, .rejected: state.places[report.clientOrderID]?.correlation ?? report.correlationID
                case .pendingCancel, .pendingReplace, .orderStatus: report.correlationID
                default: nil
                }
                if report.execType == .rejected { state.rejected += 1 }
                let place = state.places[report.clientOrderID]
                if report.execType == .rejected || report.orderStatus == .cancelled { state.places[report.clientOrderID] = nil }
                guard let correlation, let request = state.requests.removeValue(forKey: correlation) else {
                    // A place already acknowledged (PENDING_NEW) and then rejected: accepted work refused after all.
                    if report.execType == .rejected, place?.measured == true {
                        state.rejectedAfterAckBy[Self.refusal(report.rejectReason, report.text), default: 0] += 1
                    }
                    return nil
                }
                if request.measured, report.execType == .pendingNew || report.execType == .rejected { state.placeAcks.record(now &- request.start) }
                if request.measured, report.execType == .rejected { state.rejectedBy[Self.refusal(report.rejectReason, report.text), default: 0] += 1 }
                return (request.start, request.measured)
            case .cancelReject(let reject):
                state.cancelRejects += 1
                guard let request = state.requests.removeValue(forKey: reject.correlationID) else { return nil }
                if request.measured { state.cancelRejectedBy[Self.refusal(reject.reason, reject.text), default: 0] += 1 }
                return (request.start, request.measured)
            case nil:
                return nil
            }
        }
        guard let acknowledged else { return 0 }
        gate.record(since: acknowledged.start, succeeded: true)
        return 1
    }

    /// A refusal's kind: its reason's name, or for one without a reason (the gateway's own: shed load, an invalid
    /// request) the first words of its text, up to a colon.
    static func refusal(_ reason: Tradewire_V1_RejectReason, _ text: String) -> String {
        if reason != .unspecified { return reason.name }
        return String(text.prefix(while: { $0 != ":" }).prefix(48))
    }

    static func summary(_ recorders: [SessionRecorder], _ result: OperationLoadResult, sessions: Int, model: String) -> JSONValue {
        var all = State()
        var unanswered: [String: Int] = [:]
        for recorder in recorders {
            recorder.state.withLock { state in
                all.placeAcks.add(state.placeAcks)
                all.fills.add(state.fills)
                all.sent += state.sent
                all.rejected += state.rejected
                all.cancelRejects += state.cancelRejects
                all.rejectedBy.merge(state.rejectedBy, uniquingKeysWith: +)
                all.cancelRejectedBy.merge(state.cancelRejectedBy, uniquingKeysWith: +)
                all.rejectedAfterAckBy.merge(state.rejectedAfterAckBy, uniquingKeysWith: +)
                for request in state.requests.values where request.measured { unanswered[request.kind, default: 0] += 1 }
            }
        }
        return .object([
            "model": .string(model), "sessions": .number(sessions), "seconds": .number(result.seconds),
            "requests_sent": .number(all.sent), "acknowledged": .number(result.succeeded),
            "acknowledged_per_second": .number(result.rate.rounded()),
            "unanswered": .number(unanswered.values.reduce(0, +)),
            "unanswered_by_kind": .object(JSONObject(unanswered.sorted { $0.key < $1.key }.map { (key: $0.key, value: .number($0.value)) })),
            "rejected": .number(all.rejected), "cancel_rejects": .number(all.cancelRejects),
            "measured_rejected_by": Self.counts(all.rejectedBy), "measured_cancel_rejected_by": Self.counts(all.cancelRejectedBy),
            "measured_rejected_after_ack_by": Self.counts(all.rejectedAfterAckBy),
            "request_to_ack_us": result.latency.microsecondsJSON(), "place_to_ack_us": all.placeAcks.microsecondsJSON(),
            "place_to_fill_us": all.fills.microsecondsJSON(), "fills": .number(all.fills.count),
            "request_to_ack_curve_ns": result.latency.curveJSON(), "place_to_fill_curve_ns": all.fills.curveJSON(),
        ])
    }
}

extension SessionRecorder {
    fileprivate static func counts(_ counts: [String: Int]) -> JSONValue {
        .object(JSONObject(counts.sorted { $0.key < $1.key }.map { (key: $0.key, value: .number($0.value)) }))
    }
}

extension Tradewire_V1_OrderEntryRequest.OneOf_Request {
    var kind: String {
        switch self {
        case .newOrder: "place"
        case .cancel: "cancel"
        case .replace: "replace"
        }
    }
}
