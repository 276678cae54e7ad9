import Foundation
import Telemetry

#if canImport(Glibc)
import Glibc
#endif

/// The services `tradewire local` runs: child processes of this binary, each writing to its own log file. Ready
/// means `GET /readyz` answers 200 on the service's port; stopping sends SIGTERM and, past the bound, SIGKILL.
final class Supervisor: @unchecked Sendable {
    // @unchecked Sendable: used from `local`'s one task.
    struct Child {
        let name: String
        let address: String
        let process: Process
        let log: String
    }

    let executable: String
    let setup: LocalSetup
    let logLevel: String
    let shutdownTimeout: Double
    /// Each service's `--event-loops`.
    let eventLoops: Int
    private(set) var children: [Child] = []

    init(executable: String, setup: LocalSetup, logLevel: String, shutdownTimeout: Double, eventLoops: Int) throws {
        self.executable = executable
        self.setup = setup
        self.logLevel = logLevel
        self.shutdownTimeout = shutdownTimeout
        self.eventLoops = eventLoops
    }

    func launch(_ name: String, _ arguments: [String], address: String) throws {
        let log = "\(setup.logDirectory)/\(name).log"
        if !FileManager.default.fileExists(atPath: log) { _ = FileManager.default.createFile(atPath: log, contents: nil) }  // checked next
        guard let output = FileHandle(forWritingAtPath: log) else { throw LocalError("cannot write \(log)") }
        output.seekToEndOfFile()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments + [
            "--config", setup.clusterPath, "--log-format", "json", "--log-level", logLevel, "--shutdown-timeout", "\(shutdownTimeout)",
            "--event-loops", "\(eventLoops)",
        ]
        process.currentDirectoryURL = URL(fileURLWithPath: setup.directory)
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        process.environment = ProcessInfo.processInfo.environment.merging(["TRADEWIRE_PARENT_PID": "\(getpid())"]) { $1 }
        try process.run()
        children.append(Child(name: name, address: address, process: process, log: log))
    }

    /// Returns once every service answers `/readyz` with 200; throws if one exits or `timeout` passes.
    func waitUntilReady(timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        for child in children {
            while true {
                guard child.process.isRunning else {
                    throw LocalError("\(child.name) exited with status \(child.process.terminationStatus); its log:\n\(Self.tail(child.log))")
                }
                if Signals.wasReceived { throw LocalError("interrupted while starting") }
                if let answer = HTTPProbe.get(child.address, path: "/readyz"), answer.status == 200 { break }
                guard ContinuousClock.now < deadline else {
                    throw LocalError("\(child.name) was not ready within \(timeout); its log:\n\(Self.tail(child.log))")
                }
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    /// Returns "signal" on SIGTERM/SIGINT, or which service exited by itself.
    func waitForSignalOrExit() async -> String {
        while true {
            if Signals.wasReceived { return "signal" }
            if let gone = children.first(where: { !$0.process.isRunning }) {
                return "\(gone.name) exited with status \(gone.process.terminationStatus) (see \(gone.log))"
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Stops the services in the reverse of their start order: each gets SIGTERM, then SIGKILL past the bound.
    func stopAll() async {
        for child in children.reversed() where child.process.isRunning {
            kill(child.process.processIdentifier, SIGTERM)
            let deadline = ContinuousClock.now + .seconds(shutdownTimeout + 5)
            while child.process.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
            if child.process.isRunning {
                print("\(child.name) did not stop within \(shutdownTimeout + 5) s: killing it")
                kill(child.process.processIdentifier, SIGKILL)
                child.process.waitUntilExit()
            }
            print("  \(child.name) stopped (status \(child.process.terminationStatus))")
        }
    }

    static func tail(_ path: String, lines: Int = 20) -> String {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }
}
