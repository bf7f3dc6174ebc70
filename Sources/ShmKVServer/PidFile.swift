import Locks
import Posix
#if canImport(Glibc)
import Glibc
#endif

/// `shmkvd.pid` in the data directory, holding an exclusive `flock` while the daemon runs: a second
/// daemon on the same directory fails to take it and refuses to start.
final class PidFile: Sendable {
    let path: String
    /// Open (and locked) until `release()`.
    private let descriptor: Locked<Descriptor?>

    /// Takes the lock and writes this process's pid.
    /// - Throws: `ServerError.alreadyRunning` with the holder's pid when another daemon holds it.
    init(path: String) throws(ServerError) {
        self.path = path
        let file: Descriptor
        do { file = Descriptor(adopting: try syscallBlocking("open(\(path))") { open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600) }) }
        catch { throw .system(error) }
        let fd = file.rawValue
        switch Result(catching: { () throws(SystemError) in try syscall("flock(\(path))") { flock(fd, LOCK_EX | LOCK_NB) } }) {
        case .success(.done):
            break
        case .success(.wouldBlock):
            var buf = [UInt8](repeating: 0, count: 32)
            let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 31, 0) }
            throw .alreadyRunning(pid: String(decoding: buf.prefix(max(0, n)), as: UTF8.self).trimmingWhitespace())
        case .failure(let error):
            throw .system(error)
        }
        let text = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        descriptor = Locked(Optional(consume file))
    }

    /// Removes the file and releases the lock (once; later calls do nothing).
    func release() {
        guard let file = descriptor.withLock({ $0.take() }) else { return }
        unlink(path)
        file.close()
    }
}

extension String {
    func trimmingWhitespace() -> String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}

/// Why the daemon could not start or run.
public enum ServerError: Error, CustomStringConvertible, Sendable {
    /// Another daemon holds the data directory's pid lock (its pid, as the file says).
    case alreadyRunning(pid: String)
    /// A system call failed (the error names it).
    case system(SystemError)
    /// The data directory cannot be used (not a directory, owned by another user).
    case dataDirectory(String)
    /// A setting that can only be checked at start (a password file that cannot be read).
    case configuration(String)

    /// One line a person can act on, as the daemon logs it before exiting.
    public var description: String {
        switch self {
        case .alreadyRunning(let pid):
            "another shmkvd (pid \(pid.isEmpty ? "unknown" : pid)) is already running on this data directory"
        case .system(let error): "\(error)"
        case .dataDirectory(let why): why
        case .configuration(let why): why
        }
    }
}
