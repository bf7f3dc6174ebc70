import Logging
import ShmKVServer
#if canImport(Glibc)
import Glibc
#endif

/// A whole daemon in the fuzz target's process (real LMDB in a temporary directory, the writer thread,
/// the reactors, the ring), started on first use, and a way to send it one connection's bytes over its
/// Unix socket and read until it closes. A trap in any of the daemon's threads ends the process: that
/// is a finding.
public enum FuzzServer {
    nonisolated(unsafe) private static var server: Server?
    nonisolated(unsafe) private static var socketPath = ""

    /// The data directory: $SHMKV_FUZZ_DIR (make fuzz makes and removes it), else a new one under /tmp.
    private static func start() {
        var template = Array("/tmp/shmkv-fuzz-XXXXXX".utf8CString)
        let dir = getenv("SHMKV_FUZZ_DIR").map { String(cString: $0) }
            ?? template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        mkdir(dir, 0o700)
        var config = ServerConfiguration()
        config.dataDirectory = dir + "/data"
        config.socketPath = dir + "/s.sock"
        config.listen = nil
        config.threads = 2
        config.mapSize = 256 << 20
        config.durability = .volatile
        config.ringPath = dir + "/ring"
        config.ringCapacity = 1 << 16
        config.maxValueSize = 1 << 16
        config.maxFrameSize = 1 << 17
        config.maxQueryBuffer = 1 << 18
        config.maxOutputBuffer = 1 << 16
        config.auth.timeout = 0
        var logger = Logger(label: "fuzz")
        logger.logLevel = .critical
        let s = Server(configuration: config, logger: logger)
        do { try s.start() } catch { fatalError("fuzz server did not start: \(error)") }
        server = s
        socketPath = config.socketPath!
        signal(SIGPIPE, SIG_IGN)
    }

    /// Sends `bytes` as one client connection's input, ends its half, and reads every reply until the
    /// daemon closes it (a connection it keeps open is given up after a second).
    public static func exchange(_ bytes: UnsafeRawBufferPointer) {
        if server == nil { start() }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: Array(socketPath.utf8) + [0]) }
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { fatalError("the fuzz server stopped accepting: errno \(errno)") }
        var tv = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var sent = 0
        while sent < bytes.count {
            let n = send(fd, bytes.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL))
            if n <= 0 { break }
            sent += n
        }
        shutdown(fd, Int32(SHUT_WR))
        var buffer = [UInt8](repeating: 0, count: 65536)
        while buffer.withUnsafeMutableBytes({ recv(fd, $0.baseAddress, $0.count, 0) }) > 0 {}
    }
}
