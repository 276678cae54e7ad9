import Cluster
import CoreMetrics
import Orders
import Protos

/// A processor's metrics (swift-metrics): `processor_orders{status}` (orders in each state, from the journal's
/// rows at start and every transition after), the order and book actors in memory, and the event subscribers
/// (risk, market data, gateways) with how far behind the journal's head each batch found them, and how long risk
/// takes to decide a batch of checks. One set per process.
final class NodeMetrics: Sendable {
    static let shared = NodeMetrics()

    let orderActors = Meter(label: "processor_order_actors")
    let bookActors = Meter(label: "processor_book_actors")
    let eventSubscribers = Meter(label: "processor_event_subscribers")
    /// Events committed and not yet sent to a subscriber, at each batch it is sent.
    let subscriberLag = Recorder(label: "processor_subscriber_lag_events")
    /// A batch of risk checks from hand-in to its last decision (risk's answer or the timeout), and the checks that
    /// timed out (decided RISK_UNAVAILABLE because risk had not answered within the cluster's risk timeout).
    let riskCheckTime = Timer(label: "processor_risk_check_seconds")
    let riskChecksTimedOut = Counter(label: "processor_risk_checks_timed_out")
    private let byStatus: [Meter] = Tradewire_V1_OrderStatus.allCases.map { status in
        Meter(label: "processor_orders", dimensions: [("status", "\(status)")])
    }

    /// The journal's counts at start.
    func countOrders(_ counts: [Int32: Int]) {
        for status in Tradewire_V1_OrderStatus.allCases { gauge(status.rawValue)?.set(counts[status.rawValue] ?? 0) }
    }

    /// A new order.
    func entered(_ status: OrderStatus) {
        gauge(Tradewire_V1_OrderStatus(status).rawValue)?.increment()
    }

    func moved(from old: OrderStatus, to new: OrderStatus) {
        gauge(Tradewire_V1_OrderStatus(old).rawValue)?.decrement()
        gauge(Tradewire_V1_OrderStatus(new).rawValue)?.increment()
    }

    private func gauge(_ raw: Int32) -> Meter? {
        byStatus.indices.contains(Int(raw)) ? byStatus[Int(raw)] : nil
    }
}
