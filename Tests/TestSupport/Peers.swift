import EventLoop
import Foundation

/// Finding and running the peer implementations tests compare against: Python (protobuf, grpcio) in the
/// repository's .venv, grpc-go's interop and benchmark programs in .build-peers/bin. tools/test provides both;
/// a missing peer is a test failure with instructions, never a silent skip.
///
/// Processes are started with posix_spawn and waited for without blocking a thread (non-blocking pipes, short
/// sleeps), and always stopped by their PID.
public enum Peers {
    public struct Missing: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    public static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    /// The Python with protobuf and grpcio: $TRADEWIRE_PYTHON, else .venv/bin/python3.
    public static func python() throws -> String {
        if let path = ProcessInfo.processInfo.environment["TRADEWIRE_PYTHON"] { return path }
        let venv = repositoryRoot + "/.venv/bin/python3"
        guard FileManager.default.isExecutableFile(atPath: venv) else {
            throw Missing(description: "no Python with protobuf and grpcio: run tools/test (it creates .venv) or set TRADEWIRE_PYTHON")
        }
        return venv
    }

    /// grpc-go's binaries (interop_server, interop_client, …): $TRADEWIRE_GRPC_GO_BIN, else .build-peers/bin.
    public static func grpcGo(_ name: String) throws -> String {
        let directory = ProcessInfo.processInfo.environment["TRADEWIRE_GRPC_GO_BIN"] ?? repositoryRoot + "/.build-peers/bin"
        let path = directory + "/" + name
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw Missing(description: "no grpc-go \(name): run tools/test (it builds ../shared/peers into .build-peers)")
        }
        return path
    }

    /// Our own `tradewire` executable, built beside the tests: $TRADEWIRE_BIN, else .build/debug/tradewire.
    /// Runs a system command (`mount`, `umount`) to completion; its exit status (-1 when it could not start).
    public static func system(_ executable: String, _ arguments: [String]) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        do { try process.run() } catch { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }

    public static func tradewire() throws -> String {
        let path = ProcessInfo.processInfo.environment["TRADEWIRE_BIN"] ?? repositoryRoot + "/.build/debug/tradewire"
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw Missing(description: "no tradewire executable at \(path): run `swift build --build-tests` first (tools/test does)")
        }
        return path
    }

    /// Runs `executable` to completion with `input` on stdin; returns its exit status and stdout. Killed after
    /// `timeout`.
    public static func run(_ executable: String, _ arguments: [String], input: String = "", timeout: Duration = .seconds(120))
        async throws -> (status: Int32, output: String)
    {
        let process = try Background(executable, arguments, input: input)
        let end = ContinuousClock.now + timeout
        var output = ""
        while true {
            output += process.readAvailable()
            if let status = process.exitStatus() {
                output += process.readAvailable()
                return (status, output)
            }
            if ContinuousClock.now > end {
                process.stop()
                return (-1, output + "\n(killed after \(timeout))")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// A process running beside the test (a peer server); `stop()` terminates it by its PID and reaps it.
    public final class Background: @unchecked Sendable {
        // @unchecked Sendable: used by one test task at a time; `status` caches waitpid's answer.
        public let pid: pid_t
        private let stdout: Int32
        private var status: Int32?
        private var buffered = ""

        public init(_ executable: String, _ arguments: [String], input: String = "") throws {
            var output: [Int32] = [0, 0]
            var inputPipe: [Int32] = [0, 0]
            guard pipe(&output) == 0, pipe(&inputPipe) == 0 else { throw Missing(description: "pipe failed") }
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_adddup2(&actions, inputPipe[0], 0)
            posix_spawn_file_actions_adddup2(&actions, output[1], 1)
            posix_spawn_file_actions_addclose(&actions, output[0])
            posix_spawn_file_actions_addclose(&actions, inputPipe[1])
            let argv = ([executable] + arguments).map { strdup($0) } + [nil]
            defer { argv.forEach { free($0) } }
            // Our services stop by themselves once this process is gone, even if it crashed.
            var environment = ProcessInfo.processInfo.environment
            environment["TRADEWIRE_PARENT_PID"] = "\(getpid())"
            let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
            defer { envp.forEach { free($0) } }
            var child: pid_t = 0
            let result = posix_spawn(&child, executable, &actions, nil, argv, envp)
            close(output[1])
            close(inputPipe[0])
            guard result == 0 else {
                close(output[0])
                close(inputPipe[1])
                throw Missing(description: "could not start \(executable): error \(result)")
            }
            pid = child
            stdout = output[0]
            _ = fcntl(stdout, F_SETFL, fcntl(stdout, F_GETFL) | O_NONBLOCK)
            // A child that exits before reading its input must not take the test process down with SIGPIPE.
            signal(SIGPIPE, SIG_IGN)
            if !input.isEmpty { _ = input.withCString { write(inputPipe[1], $0, strlen($0)) } }
            close(inputPipe[1])
        }

        deinit {
            stop()
            close(stdout)
        }

        /// What the process wrote to stdout since the last call.
        public func readAvailable() -> String {
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65_536)
            while true {
                let count = chunk.withUnsafeMutableBytes { read(stdout, $0.baseAddress, $0.count) }
                guard count > 0 else { break }
                bytes += chunk[0..<count]
            }
            return String(decoding: bytes, as: UTF8.self)
        }

        /// The exit status once the process has ended (nil while it runs).
        public func exitStatus() -> Int32? {
            if let status { return status }
            var raw: Int32 = 0
            guard waitpid(pid, &raw, WNOHANG) == pid else { return nil }
            status = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
            return status
        }

        /// The first stdout line starting with `prefix`, waiting up to 30 s.
        public func line(startingWith prefix: String) async throws -> String {
            let end = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < end {
                buffered += readAvailable()
                if let line = buffered.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }), buffered.contains("\n") {
                    return String(line)
                }
                if exitStatus() != nil { throw Missing(description: "the peer exited before printing \"\(prefix)\"") }
                try await Task.sleep(for: .milliseconds(10))
            }
            throw Missing(description: "the peer printed no \"\(prefix)\" within 30 s")
        }

        /// SIGKILL at once (a crash), and reaps the process.
        public func kill9() {
            guard exitStatus() == nil else { return }
            kill(pid, SIGKILL)
            var raw: Int32 = 0
            waitpid(pid, &raw, 0)
            status = 128 + SIGKILL
        }

        /// SIGTERM, then SIGKILL if it has not ended after 2 s; reaps the process.
        public func stop() {
            guard exitStatus() == nil else { return }
            kill(pid, SIGTERM)
            for _ in 0..<200 {
                if exitStatus() != nil { return }
                usleep(10_000)
            }
            kill(pid, SIGKILL)
            var raw: Int32 = 0
            waitpid(pid, &raw, 0)
            status = -1
        }
    }

    /// A TCP port on 127.0.0.1 for a peer that needs its number up front, which no other test's server can take
    /// in the meantime (see `Socket.reservablePort`).
    public static func freePort() throws -> Int {
        try Socket.reservablePort()
    }

    /// A TCP socket bound to a free port on 127.0.0.1 and not listening: connecting to the port is refused for as
    /// long as the caller keeps `fd` open (and closes it).
    public static func boundSocket() throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                guard bind(fd, pointer, length) == 0 else { return -1 }
                return getsockname(fd, pointer, &length)
            }
        }
        guard bound == 0 else {
            close(fd)
            throw Missing(description: "no free port")
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }
}
