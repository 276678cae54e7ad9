import Logging
import Synchronization
import Transport

#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM and SIGINT begin a graceful shutdown of a server; `run()` returns once it has stopped. Only the
/// executable handles signals.
enum Signals {
    /// Set by the handlers (a lock-free atomic store is async-signal-safe; a plain global read by another thread
    /// was a data race, which ThreadSanitizer reported).
    static let received = Atomic<Int32>(0)

    static var wasReceived: Bool { received.load(ordering: .acquiring) != 0 }

    /// From now on SIGTERM and SIGINT set `received` instead of ending the process; SIGPIPE is ignored. With
    /// `TRADEWIRE_PARENT_PID` set, the parent is watched too.
    static func install() {
        _ = wasReceived  // initialise the global here: never first inside a handler
        signal(SIGTERM) { _ in Signals.received.store(1, ordering: .releasing) }
        signal(SIGINT) { _ in Signals.received.store(1, ordering: .releasing) }
        signal(SIGPIPE, SIG_IGN)
        _ = parentWatch
    }

    /// `TRADEWIRE_PARENT_PID`: once that process is gone (this one was handed to another parent), stop as on
    /// SIGTERM — so that services outlive neither `tradewire local` nor a test run that crashed. Checked twice a
    /// second; started once.
    private static let parentWatch: Void = {
        guard let text = Environment.value("TRADEWIRE_PARENT_PID"), let parent = pid_t(text), parent > 1 else { return }
        Task.detached {
            while getppid() == parent { try? await Task.sleep(for: .milliseconds(500)) }
            Logger(label: "tradewire.process").warning("the parent process is gone: stopping", metadata: ["parent_pid": "\(parent)"])
            kill(getpid(), SIGTERM)
        }
    }()

    /// Returns once SIGTERM or SIGINT arrives.
    static func waitForTermination() async {
        install()
        while !Signals.wasReceived { try? await Task.sleep(for: .milliseconds(50)) }
    }

    static func runUntilTerminated(_ server: Server, grace: Duration = .seconds(10)) async throws {
        install()
        let watcher = Task {
            while !Signals.wasReceived && !Task.isCancelled { try? await Task.sleep(for: .milliseconds(50)) }
            if !Task.isCancelled { server.beginGracefulShutdown(grace: grace) }
        }
        defer { watcher.cancel() }
        try await server.run()
    }
}
