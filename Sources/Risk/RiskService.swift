import Logging
import Orders
import Protos
import RPC
import ServiceStubs

/// `tradewire.v1.Risk`: checks under the engine's lock, admin changes answered once stored.
struct RiskService: Tradewire_V1_Risk.ServiceProtocol {
    let core: RiskCore
    let logger = Logger(label: "tradewire.risk")

    func check(request: Tradewire_V1_RiskCheckRequest, context: ServerContext) async throws -> Tradewire_V1_RiskCheckResponse {
        let response = core.check(request)
        log(request, response, requestID: context.requestMetadata["x-request-id"] ?? request.requestID)
        return response
    }

    /// `requestID` from the caller goes into the line only as an identifier (1–64 printable ASCII characters).
    private func log(_ request: Tradewire_V1_RiskCheckRequest, _ response: Tradewire_V1_RiskCheckResponse, requestID: String) {
        logger.debug("checked", metadata: [
            "request_id": "\(OrderBounds.isIdentifier(requestID) ? requestID : "")", "order_id": "\(request.orderID?.value ?? "")",
            "account": "\(request.account)", "approved": "\(response.approved)", "reason": "\(response.reason)",
        ])
    }

    /// Each batch is checked under one lock and answered as one batch.
    func checkStream(requests: RPCRequestStream<Tradewire_V1_RiskCheckBatch>, responses: RPCResponseWriter<Tradewire_V1_RiskCheckResults>,
                     context: ServerContext) async throws
    {
        for try await batch in requests {
            guard batch.checks.count <= Self.maxBatch else {
                throw RPCError(code: .invalidArgument, message: "a check batch holds at most \(Self.maxBatch) checks, not \(batch.checks.count)")
            }
            let results = core.check(batch.checks)
            if logger.logLevel <= .debug {
                for (request, response) in zip(batch.checks, results) { log(request, response, requestID: request.requestID) }
            }
            try await responses.write(Tradewire_V1_RiskCheckResults(results: results))
        }
    }

    /// The most checks one CheckStream batch may hold.
    static let maxBatch = 4096

    func setLimits(request: Tradewire_V1_SetLimitsRequest, context: ServerContext) async throws -> Tradewire_V1_Account {
        try await core.change { engine throws(RPCError) in try engine.setLimits(request.account, request.limits ?? Tradewire_V1_AccountLimits()) }
    }

    func setBalance(request: Tradewire_V1_SetBalanceRequest, context: ServerContext) async throws -> Tradewire_V1_Account {
        guard let amount = request.amount else { throw RPCError(code: .invalidArgument, message: "amount is required") }
        return try await core.change { engine throws(RPCError) in try engine.setBalance(request.account, amount, adjust: request.adjust) }
    }

    func getAccount(request: Tradewire_V1_GetAccountRequest, context: ServerContext) async throws -> Tradewire_V1_Account {
        guard let account = core.engine.withLock({ $0.accounts[request.account]?.message(request.account) }) else {
            throw RPCError(code: .notFound, message: "no account \(Echo.quote(request.account))")
        }
        return account
    }

    func getPositions(request: Tradewire_V1_GetPositionsRequest, context: ServerContext) async throws -> Tradewire_V1_GetPositionsResponse {
        guard let positions = core.engine.withLock({ $0.positions(request.account, symbols: request.symbols) }) else {
            throw RPCError(code: .notFound, message: "no account \(Echo.quote(request.account))")
        }
        return Tradewire_V1_GetPositionsResponse(positions: positions)
    }
}
