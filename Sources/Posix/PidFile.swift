import Locks
#if canImport(Glibc)
import Glibc
#endif

/// A pid file holding an exclusive `flock` for as long as its owner lives (`shmkvd.pid` in a data
/// directory): a second daemon, or a restore, on the same directory fails to take it. The kernel drops
/// the lock when the process dies, so a crashed owner leaves no stale lock, only a stale file.
public final class PidFile: Sendable {
    /// Why the lock could not be taken.
    public enum Failure: Error, Sendable {
        /// Another process holds it; the pid it wrote ("" if none yet).
        case held(pid: String)
        /// A system call failed.
        case system(SystemError)
    }

    /// Where the file is.
    public let path: String
    /// Open (and locked) until `release()`.
    private let descriptor: Locked<Descriptor?>

    /// Takes the lock (without waiting) and writes this process's pid into the file, created 0600.
    public init(path: String) throws(Failure) {
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
            let text = String(decoding: buf.prefix(max(0, n)), as: UTF8.self)
            throw .held(pid: String(text.filter { $0.isNumber }))
        case .failure(let error):
            throw .system(error)
        }
        let text = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        descriptor = Locked(Optional(consume file))
    }

    /// Removes the file and releases the lock (once; later calls do nothing).
    public func release() {
        guard let file = descriptor.withLock({ $0.take() }) else { return }
        unlink(path)
        file.close()
    }
}
