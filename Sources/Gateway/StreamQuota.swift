import RPC
import Synchronization
import Locks

/// The long-lived streams a gateway serves — OrderEntry sessions and StreamExecutions — counted per account and in
/// all. Each holds a subscription on every node's feed connection (whose concurrent streams the node bounds), so
/// one account cannot take them all, and together they stay below what the nodes allow; past either bound a new
/// stream is refused with RESOURCE_EXHAUSTED and the caller's other streams go on.
final class StreamQuota: Sendable {
    let perAccount: Int
    let total: Int
    private let counts = Lock<(accounts: [String: Int], total: Int)>(([:], 0))

    init(perAccount: Int, total: Int) {
        self.perAccount = perAccount
        self.total = total
    }

    /// Counts a stream of `account`; throws RESOURCE_EXHAUSTED when it does not fit. Pair with `leave`.
    func enter(_ account: String) throws(RPCError) {
        let refusal = counts.withLock { counts -> String? in
            let mine = counts.accounts[account, default: 0]
            if mine >= perAccount { return "account \(account) has \(mine) streams open on this gateway, its limit" }
            if counts.total >= total { return "this gateway serves \(counts.total) streams, its limit" }
            counts.accounts[account] = mine + 1
            counts.total += 1
            return nil
        }
        if let refusal {
            throw RPCError(code: .resourceExhausted, message: "\(refusal): close one (or use another gateway) before opening more")
        }
    }

    func leave(_ account: String) {
        counts.withLock { counts in
            let mine = counts.accounts[account, default: 1] - 1
            counts.accounts[account] = mine > 0 ? mine : nil
            counts.total -= 1
        }
    }
}
