import ArgumentParser
import Cluster
import EventLoop
import Foundation
import JSON
import Locks
import Protos
import RPC
import ServiceStubs
import Transport

extension Bench {
    /// Orders through OrderEntry sessions, as trading clients send them: `sessions` bidi streams over
    /// `connections` connections, spread over the API keys' accounts (every session of an account hears all of the
    /// account's reports, so sessions of one account multiply the gateway's work), each sending its own order-flow mix (`tradewire load --scenario order-flow`: six
    /// places, two cancels, two replaces in ten) either at a fixed total rate (open loop: each request has an
    /// intended start, and its latency counts from there, so a stall is not hidden) or with a fixed number
    /// unanswered per session (closed loop: saturation).
    ///
    /// A request is acknowledged by its first answer: a place by its PENDING_NEW or REJECTED report (both follow
    /// the node's commit), a cancel or replace by its PENDING_CANCEL / PENDING_REPLACE report, an ORDER_STATUS
    /// report or a CancelReject. A place's fill is its first TRADE report.
    struct OrderEntryLoad: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "order-entry", abstract: "Throughput and latency of orders through OrderEntry sessions.")

        @Option(help: "The gateway's host:port.") var gateway: String
        @Option(help: "API keys, comma-separated: session i uses key i mod their number.") var apiKeys: String
        @Option(help: "Sessions (bidi streams).") var sessions = 8
        @Option(help: "Connections the sessions share.") var connections = 2
        @Option(help: "Requests per second over all sessions (open loop); without it, a closed loop.") var rate: Int?
        @Option(help: "Closed loop: requests each session keeps unanswered.") var inFlight = 64
        @Option(help: "Seconds measured.") var seconds = 10.0
        @Option(help: "Seconds of warm-up before measuring.") var warmup = 2.0
        @Option(help: "Symbols and their mid prices, in units of price scale 2.") var symbols = "ACME:10000,BOLT:5000"
        @Option(help: "Orders are priced from this many ticks short of the mid to as many through it.") var spread: Int64 = 2
        @Option(help: "Write the figures as JSON here.") var json: String?

        func validate() throws {
            guard (1...1024).contains(sessions) else { throw ValidationError("--sessions is 1–1,024") }
            guard (1...64).contains(connections) else { throw ValidationError("--connections is 1–64") }
            guard (1...4096).contains(inFlight) else { throw ValidationError("--in-flight is 1–4,096 (a session's own bound)") }
            if let rate { guard (1...1_000_000).contains(rate) else { throw ValidationError("--rate is 1–1,000,000") } }
            guard seconds > 0, seconds <= 3600, warmup >= 0, warmup <= 600 else { throw ValidationError("--seconds is (0, 3600], --warmup [0, 600]") }
        }

        func run() async throws {
            guard let (host, port) = SocketAddressText.split(gateway) else { throw ValidationError("--gateway \(gateway) is not host:port") }
            let keys = apiKeys.split(separator: ",").map(String.init)
            guard !keys.isEmpty else { throw ValidationError("--api-keys names no key") }
            let channels = try (0..<connections).map { _ in try Channel(host: host, port: port) }
            let runID = String(UInt32.random(in: 0...UInt32.max), radix: 16)
            let markets = try OrderFlow.markets(symbols)
            let start = Monotonic.now() + 50_000_000
            let measureFrom = start + UInt64(warmup * 1e9)
            let end = measureFrom + UInt64(seconds * 1e9)
            let recorders = (0..<sessions).map { _ in Recorder() }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for session in 0..<sessions {
                    let channel = channels[session % channels.count]
                    let flow = OrderFlow(markets: markets, priceScale: 2, tick: 1, spread: spread, lot: 1, run: "\(runID)-\(session)")
                    let plan = Plan(session: session, sessions: sessions, flow: flow, key: keys[session % keys.count], rate: rate,
                                    inFlight: inFlight, start: start, end: end)
                    group.addTask(executorPreference: channel.preferredExecutor) {
                        try await plan.run(Tradewire_V1_Gateway.Client(channel), recorders[session], measureFrom: measureFrom)
                    }
                }
                try await group.waitForAll()
            }
            for channel in channels { await channel.shutdown() }
            let result = Recorder.summary(recorders, seconds: seconds, sessions: sessions, rate: rate, inFlight: inFlight)
            print(result.text())
            if let json { try (result.text(pretty: true) + "\n").write(toFile: json, atomically: true, encoding: .utf8) }
        }
    }

    /// One session's schedule: its own order flow, sent on time (its share of the rate, interleaved with the other
    /// sessions) or as answers free room (closed loop), until `end`.
    struct Plan: Sendable {
        let session: Int
        let sessions: Int
        let flow: OrderFlow
        let key: String
        let rate: Int?
        let inFlight: Int
        let start: UInt64
        let end: UInt64

        /// The session's `index`th request's intended start (open loop).
        func intended(_ index: Int) -> UInt64 {
            guard let rate else { return start }
            // Sessions interleave: request number n = index × sessions + session is due at n / rate.
            return start + UInt64(Double(index * sessions + session) / Double(rate) * 1e9)
        }

        func run(_ client: Tradewire_V1_Gateway.Client, _ recorder: Recorder, measureFrom: UInt64) async throws {
            try await client.orderEntry(metadata: ["authorization": .string("Bearer \(key)")]) { writer, responses in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        var index = 0
                        while true {
                            let now = Monotonic.now()
                            if now >= end { break }
                            var batch: [Tradewire_V1_OrderEntryRequest] = []
                            if rate != nil {
                                while intended(index) <= now, batch.count < 1024 {
                                    batch.append(request(index, recorder, intended: intended(index), measured: intended(index) >= measureFrom))
                                    index += 1
                                }
                            } else {
                                let room = inFlight - recorder.unanswered
                                for _ in 0..<max(0, room) {
                                    batch.append(request(index, recorder, intended: now, measured: now >= measureFrom))
                                    index += 1
                                }
                            }
                            for request in batch { try await writer.write(request) }
                            if batch.isEmpty { try await Task.sleep(for: .microseconds(rate == nil ? 50 : 200)) }
                        }
                        writer.finish()
                    }
                    for try await response in responses { recorder.answered(response, at: Monotonic.now()) }
                    try await group.waitForAll()
                }
            }
        }

        /// The session's `index`th request, noted as sent.
        private func request(_ index: Int, _ recorder: Recorder, intended: UInt64, measured: Bool) -> Tradewire_V1_OrderEntryRequest {
            var request = Tradewire_V1_OrderEntryRequest(correlationID: "\(index)")
            let (body, clientOrderID) = flow.entry(index)
            request.request = body
            recorder.sent(request.correlationID, clientOrderID: clientOrderID, kind: body.kind, intended: intended, measured: measured)
            return request
        }
    }

    /// What one session sent and heard: requests by correlation id and places by client order id, until answered
    /// (and filled); latencies of measured requests in nanoseconds.
    final class Recorder: Sendable {
        private struct State {
            var requests: [String: (intended: UInt64, measured: Bool, kind: String)] = [:]
            var places: [String: (correlation: String, intended: UInt64, measured: Bool)] = [:]
            var unanswered = 0
            var acks: [UInt64] = []
            var placeAcks: [UInt64] = []
            var fills: [UInt64] = []
            var sent = 0
            var rejected = 0
            var cancelRejects = 0
            /// Measured requests answered in the window.
            var acknowledged = 0
        }

        private let state = Lock(State())

        var unanswered: Int { state.withLock { $0.unanswered } }

        func sent(_ correlation: String, clientOrderID: String, kind: String, intended: UInt64, measured: Bool) {
            let isPlace = kind == "place"
            state.withLock { state in
                state.requests[correlation] = (intended, measured, kind)
                if isPlace { state.places[clientOrderID] = (correlation, intended, measured) }
                state.unanswered += 1
                if measured { state.sent += 1 }
            }
        }

        func answered(_ response: Tradewire_V1_OrderEntryResponse, at now: UInt64) {
            state.withLock { state in
                switch response.response {
                case .executionReport(let report):
                    if report.execType == .trade, let place = state.places.removeValue(forKey: report.clientOrderID), place.measured {
                        state.fills.append(now &- place.intended)
                    }
                    let correlation: String? = switch report.execType {
                    case .pendingNew, .rejected: state.places[report.clientOrderID]?.correlation ?? report.correlationID
                    case .pendingCancel, .pendingReplace, .orderStatus: report.correlationID
                    default: nil
                    }
                    if report.execType == .rejected { state.rejected += 1 }
                    if report.execType == .rejected || report.orderStatus == .cancelled { state.places[report.clientOrderID] = nil }
                    if let correlation { Self.acknowledge(correlation, isPlace: report.execType == .pendingNew || report.execType == .rejected, now, &state) }
                case .cancelReject(let reject):
                    state.cancelRejects += 1
                    Self.acknowledge(reject.correlationID, isPlace: false, now, &state)
                case nil: break
                }
            }
        }

        private static func acknowledge(_ correlation: String, isPlace: Bool, _ now: UInt64, _ state: inout State) {
            guard let request = state.requests.removeValue(forKey: correlation) else { return }
            state.unanswered -= 1
            guard request.measured else { return }
            state.acknowledged += 1
            state.acks.append(now &- request.intended)
            if isPlace { state.placeAcks.append(now &- request.intended) }
        }

        static func summary(_ recorders: [Recorder], seconds: Double, sessions: Int, rate: Int?, inFlight: Int) -> JSONValue {
            var all = State()
            var unanswered: [String: Int] = [:]
            for recorder in recorders {
                recorder.state.withLock { state in
                    all.acks += state.acks
                    all.placeAcks += state.placeAcks
                    all.fills += state.fills
                    all.sent += state.sent
                    all.acknowledged += state.acknowledged
                    all.rejected += state.rejected
                    all.cancelRejects += state.cancelRejects
                    for request in state.requests.values where request.measured { unanswered[request.kind, default: 0] += 1 }
                }
            }
            all.unanswered = unanswered.values.reduce(0, +)
            return .object([
                "model": .string(rate.map { "open loop, \($0) requests/s" } ?? "closed loop, \(inFlight) in flight per session"),
                "sessions": .number(sessions), "seconds": .number(seconds),
                "requests_sent": .number(all.sent), "acknowledged": .number(all.acknowledged),
                "acknowledged_per_second": .number((Double(all.acknowledged) / seconds).rounded()),
                "unanswered": .number(all.unanswered),
                "unanswered_by_kind": .object(JSONObject(unanswered.sorted { $0.key < $1.key }.map { ($0.key, .number($0.value)) })),
                "rejected": .number(all.rejected), "cancel_rejects": .number(all.cancelRejects),
                "request_to_ack_us": Fills.percentiles(all.acks), "place_to_ack_us": Fills.percentiles(all.placeAcks),
                "place_to_fill_us": Fills.percentiles(all.fills), "fills": .number(all.fills.count),
            ])
        }
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
