import Cluster
import EventLoop
import Protos
import RPC
import ServiceStubs

/// The order actor's call to the risk service: one Check RPC per new order or replace, with the cluster's risk
/// timeout as its deadline. Whatever goes wrong becomes a rejection that says what happened; an order (or a
/// replace) is never accepted without risk's yes.
final class RiskChecker: Sendable {
    enum Decision: Sendable {
        /// Risk's answer (its protection price, for a MARKET order).
        case approved(Tradewire_V1_RiskCheckResponse)
        case rejected(Tradewire_V1_RejectReason, String)
    }

    private let client: Tradewire_V1_Risk.Client?
    private let executor: (any TaskExecutor)?
    private let timeout: Duration

    /// `transport` nil: no risk service is configured, and every order is rejected as RISK_UNAVAILABLE.
    init(transport: (any RPCClientTransport)?, timeout: Duration) {
        client = transport.map { Tradewire_V1_Risk.Client($0) }
        executor = transport?.preferredExecutor
        self.timeout = timeout
    }

    /// Asks risk about one order; `requestID` travels as `x-request-id` into risk's log lines.
    func check(_ request: Tradewire_V1_RiskCheckRequest, requestID: String, completion: @escaping @Sendable (Decision) -> Void) {
        guard let client else {
            return completion(.rejected(.riskUnavailable, "no risk service is configured: the order cannot be checked"))
        }
        let timeout = timeout
        Task(executorPreference: executor) {
            do throws(RPCError) {
                let metadata: Metadata = requestID.isEmpty ? [:] : ["x-request-id": .string(requestID)]
                let response = try await client.check(request, metadata: metadata, options: CallOptions(timeout: timeout))
                if response.approved {
                    completion(.approved(response))
                } else {
                    let reason = response.reason == .unspecified ? .invalidOrder : response.reason
                    completion(.rejected(reason, response.text.isEmpty ? "risk rejected the order" : response.text))
                }
            } catch {
                completion(.rejected(.riskUnavailable, error.code == .deadlineExceeded
                    ? "the risk service did not answer within \(timeout.nanoseconds / 1_000_000) ms"
                    : "the risk service is unavailable (\(error.code): \(error.message))"))
            }
        }
    }
}
