import Glibc
import Synchronization
import Locks

/// An exclusive lock on a database file, held by one process for as long as this value lives: `flock` on a
/// `<path>.lock` file beside it, taken before the database is opened (and before any recovery reads it), so that
/// a second process given the same file — a service started twice, two nodes with one journal path — fails at
/// once with a message instead of interleaving writes. The kernel releases the lock when the process dies, so a
/// crash never leaves it stale.
///
/// A lock held elsewhere is retried for up to ``patience`` before that error: a process that starts children (a
/// supervisor, a test run) lends every child a copy of each descriptor from its fork until its exec, and a lock
/// released in that window stays held by the copy for a moment.
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
        var waited: Duration = .zero
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let error = errno
            if error == EINTR { continue }
            if error == EWOULDBLOCK, waited < Self.patience {
                usleep(10_000)
                waited += .milliseconds(10)
                continue
            }
            close(fd)
            throw SQLiteError(operation: "lock \(databasePath)", code: 0, message: error == EWOULDBLOCK
                ? "another process has \(databasePath) open (it holds \(path)): one process per file"
                : "cannot lock \(path) (errno \(error))")
        }
        self.fd = Lock(fd)
    }

    /// How long a lock held elsewhere is waited for before the open fails.
    public static let patience: Duration = .seconds(2)

    /// Releases the lock (once its owner has closed the database): another process may open the file now.
    public func release() {
        if let fd = fd.withLock({ descriptor in defer { descriptor = nil }; return descriptor }) { close(fd) }
    }

    deinit {
        release()
    }
}
