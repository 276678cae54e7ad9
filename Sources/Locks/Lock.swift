import Glibc
public import Synchronization

/// `Synchronization.Mutex`, made visible to ThreadSanitizer. On Linux the standard library's Mutex waits on a futex
/// that TSan does not model, so every access it protects shows up as a race and a TSan run reports nothing else;
/// this one tells TSan about each acquire and release (`__tsan_acquire`/`__tsan_release`, looked up once: in a build
/// without TSan they are absent and the annotations cost a branch). Every lock in the product is one of these, so
/// `swift build -Xswiftc -sanitize=thread` gives reports worth reading.
public struct Lock<Value: ~Copyable>: ~Copyable, @unchecked Sendable {
    // @unchecked Sendable: `mutex` serialises every access to the value; `token` is an address for TSan only.
    private let mutex: Mutex<Value>
    /// A unique address standing for this lock in TSan's model.
    private let token: UnsafeMutableRawPointer

    public init(_ value: consuming sending Value) {
        mutex = Mutex(value)
        token = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1)
    }

    deinit {
        token.deallocate()
    }

    /// Runs `body` with the value, holding the lock.
    public borrowing func withLock<Result: ~Copyable, E: Error>(_ body: (inout sending Value) throws(E) -> sending Result)
        throws(E) -> sending Result
    {
        let token = token
        return try mutex.withLock { (value: inout sending Value) throws(E) -> sending Result in
            ThreadSanitizer.acquire?(token)
            defer { ThreadSanitizer.release?(token) }
            return try body(&value)
        }
    }
}

/// The TSan runtime's annotation entry points, when it is linked in.
enum ThreadSanitizer {
    typealias Annotation = @convention(c) (UnsafeMutableRawPointer?) -> Void

    static let acquire: Annotation? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__tsan_acquire").map { unsafeBitCast($0, to: Annotation.self) }
    static let release: Annotation? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__tsan_release").map { unsafeBitCast($0, to: Annotation.self) }
}
