#if canImport(Glibc)
import Glibc
#endif

/// `shmkvd.pid` in the data directory, holding an exclusive `flock` while the daemon runs: a second
/// daemon on the same directory fails to take it and refuses to start.
public final class PidFile: Sendable {
    public let path: String
    private let fd: Int32

    /// Takes the lock and writes this process's pid.
    /// - Throws: `ServerError.alreadyRunning` with the holder's pid when another daemon holds it.
    public init(path: String) throws(ServerError) {
        self.path = path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .system("open \(path)", errno) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let err = errno
            var buf = [UInt8](repeating: 0, count: 32)
            let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 31, 0) }
            close(fd)
            if err == EWOULDBLOCK {
                let pid = String(decoding: buf.prefix(max(0, n)), as: UTF8.self).trimmingWhitespace()
                throw .alreadyRunning(pid: pid)
            }
            throw .system("flock \(path)", err)
        }
        let text = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        self.fd = fd
    }

    /// Removes the file and releases the lock.
    public func release() {
        unlink(path)
        close(fd)
    }
}

extension String {
    func trimmingWhitespace() -> String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}

/// Why the daemon could not start or run.
public enum ServerError: Error, CustomStringConvertible, Sendable {
    case alreadyRunning(pid: String)
    case system(String, Int32)
    case dataDirectory(String)
    /// A setting that can only be checked at start (a password file that cannot be read).
    case configuration(String)

    public var description: String {
        switch self {
        case .alreadyRunning(let pid):
            "another shmkvd (pid \(pid.isEmpty ? "unknown" : pid)) is already running on this data directory"
        case .system(let what, let err): "\(what): \(String(cString: strerror(err)))"
        case .dataDirectory(let why): why
        case .configuration(let why): why
        }
    }
}
