import Transport

#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM and SIGINT begin a graceful shutdown of a server; `run()` returns once it has stopped. Only the
/// executable handles signals.
enum Signals {
    nonisolated(unsafe) static var received: sig_atomic_t = 0

    /// From now on SIGTERM and SIGINT set `received` instead of ending the process; SIGPIPE is ignored.
    static func install() {
        signal(SIGTERM) { _ in Signals.received = 1 }
        signal(SIGINT) { _ in Signals.received = 1 }
        signal(SIGPIPE, SIG_IGN)
    }

    /// Returns once SIGTERM or SIGINT arrives.
    static func waitForTermination() async {
        install()
        while Signals.received == 0 { try? await Task.sleep(for: .milliseconds(50)) }
    }

    static func runUntilTerminated(_ server: Server, grace: Duration = .seconds(10)) async throws {
        install()
        let watcher = Task {
            while Signals.received == 0 && !Task.isCancelled { try? await Task.sleep(for: .milliseconds(50)) }
            if !Task.isCancelled { server.beginGracefulShutdown(grace: grace) }
        }
        defer { watcher.cancel() }
        try await server.run()
    }
}
