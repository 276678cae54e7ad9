import EventLoop
import Synchronization
import Locks

/// Per-account token buckets: an account may place `rate` orders per second, with bursts of up to one second's
/// worth. Each gateway instance limits what passes through it, so N gateways side by side admit up to N times the
/// rate (clients spread over them by a load balancer see about the configured rate per instance).
final class RateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var refilledAt: UInt64
    }

    private let buckets = Lock<[String: Bucket]>([:])

    /// Takes `count` tokens for `account`, or answers how long until they would be there (nothing is taken then).
    func take(_ count: Int, account: String, rate: Int, now: UInt64 = Monotonic.now()) -> Duration? {
        let capacity = Double(rate)
        return buckets.withLock { buckets -> Duration? in
            var bucket = buckets[account] ?? Bucket(tokens: capacity, refilledAt: now)
            bucket.tokens = min(capacity, bucket.tokens + Double(now &- bucket.refilledAt) * 1e-9 * capacity)
            bucket.refilledAt = now
            defer { buckets[account] = bucket }
            // A batch larger than the bucket passes when the bucket is full, and leaves it in debt.
            let wanted = Double(count)
            let needed = min(wanted, capacity)
            guard bucket.tokens >= needed else {
                let seconds = (needed - bucket.tokens) / capacity
                return .nanoseconds(Int64((seconds * 1e9).rounded(.up)))
            }
            bucket.tokens -= wanted
            return nil
        }
    }
}
