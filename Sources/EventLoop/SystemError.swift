#if canImport(Glibc)
import Glibc
#endif

/// A failed system call: which call and its errno. Thrown by the wrappers in System.swift.
public struct SystemError: Error, Hashable, Sendable, CustomStringConvertible {
    public let call: String
    public let errno: Int32

    public init(_ call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    public var description: String { "\(call): \(String(cString: strerror(errno))) (errno \(errno))" }
}

/// The outcome of a non-blocking call: done (with a result), or it would have blocked (EAGAIN).
public enum IOResult<Value> {
    case processed(Value)
    case wouldBlock
}
