import Glibc
import Synchronization
import Locks

/// An exclusive lock on a database file, held by one process for as long as this value lives: `flock` on a
/// `<path>.lock` file beside it, taken before the database is opened (and before any recovery reads it), so that
/// a second process given the same file — a service started twice, two nodes with one journal path — fails at
/// once with a message instead of interleaving writes. The kernel releases the lock when the process dies, so a
/// crash never leaves it stale.
public final class ExclusiveLock: Sendable {
    public let path: String
    /// The lock file's descriptor until `release()`.
    private let fd: Lock<Int32?>

    public init(for databasePath: String) throws(SQLiteError) {
        path = databasePath + ".lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw SQLiteError(operation: "lock \(databasePath)", code: 0, message: "cannot open \(path) (errno \(errno))")
        }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            if errno == EINTR { continue }
            let error = errno
            close(fd)
            throw SQLiteError(operation: "lock \(databasePath)", code: 0, message: error == EWOULDBLOCK
                ? "another process has \(databasePath) open (it holds \(path)): one process per file"
                : "cannot lock \(path) (errno \(error))")
        }
        self.fd = Lock(fd)
    }

    /// Releases the lock (once its owner has closed the database): another process may open the file now.
    public func release() {
        if let fd = fd.withLock({ descriptor in defer { descriptor = nil }; return descriptor }) { close(fd) }
    }

    deinit {
        release()
    }
}
