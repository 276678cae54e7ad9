import Logging
import Protos
import RPC
import ServiceStubs

/// `tradewire.v1.Risk`: checks under the engine's lock, admin changes answered once stored.
struct RiskService: Tradewire_V1_Risk.ServiceProtocol {
    let core: RiskCore
    let logger = Logger(label: "tradewire.risk")

    func check(request: Tradewire_V1_RiskCheckRequest, context: ServerContext) async throws -> Tradewire_V1_RiskCheckResponse {
        let response = core.check(request)
        logger.debug("checked", metadata: [
            "request_id": "\(context.requestMetadata["x-request-id"] ?? "")", "order_id": "\(request.orderID?.value ?? "")",
            "account": "\(request.account)", "approved": "\(response.approved)", "reason": "\(response.reason)",
        ])
        return response
    }

    func checkStream(requests: RPCRequestStream<Tradewire_V1_RiskCheckRequest>, responses: RPCResponseWriter<Tradewire_V1_RiskCheckResponse>,
                     context: ServerContext) async throws
    {
        for try await request in requests { try await responses.write(core.check(request)) }
    }

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
