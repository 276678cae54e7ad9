import Glibc

/// Files that hold secrets (API keys, the mesh credential): created with mode 0600 from their first byte — never
/// written world-readable and chmod'ed after — and replaced atomically (a temporary file, then a rename).
enum PrivateFile {
    static func write(_ text: String, to path: String) throws {
        let temporary = path + ".tmp"
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw LocalError("cannot create \(temporary) (errno \(errno))") }
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let result = bytes[written...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else {
                close(fd)
                unlink(temporary)
                throw LocalError("cannot write \(temporary) (errno \(errno))")
            }
            written += result
        }
        guard fsync(fd) == 0, close(fd) == 0 else { throw LocalError("cannot write \(temporary) (errno \(errno))") }
        guard rename(temporary, path) == 0 else { throw LocalError("cannot replace \(path) (errno \(errno))") }
    }
}
