/// Waits between reconnection attempts: 50 ms, doubling up to 500 ms; back to the start once a connection has
/// made progress.
public struct Backoff: Sendable {
    public static let first: Duration = .milliseconds(50)
    public static let longest: Duration = .milliseconds(500)

    private var next = Backoff.first

    public init() {}

    /// Sleeps the current delay (returns early if the task is cancelled), then doubles it.
    public mutating func wait() async {
        try? await Task.sleep(for: next)
        next = min(next * 2, Self.longest)
    }

    public mutating func reset() { next = Self.first }
}
