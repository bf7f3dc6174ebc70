import Logging
import FuzzReplay
import ShmKVServer
#if canImport(Glibc)
import Glibc
#endif

/// libFuzzer target: a whole daemon in this process (real LMDB in a temporary directory, the writer
/// thread, the reactors, the ring), and each input sent as one client connection's bytes over its Unix
/// socket; the replies are read until the daemon closes the connection. Both protocols are reached (a
/// leading 0xA5 is the native magic), so command execution is fuzzed, not only framing. A trap in any
/// of the daemon's threads ends the process: that is a finding.
nonisolated(unsafe) private var server: Server?
nonisolated(unsafe) private var socketPath = ""

/// The data directory: $SHMKV_FUZZ_DIR (make fuzz makes and removes it), else a new one under /tmp.
private func startServer() {
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

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzServer(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    if server == nil { startServer() }
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return 0 }
    defer { close(fd) }
    var addr = sockaddr_un()
    addr.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: Array(socketPath.utf8) + [0]) }
    let connected = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard connected == 0 else { fatalError("the fuzz server stopped accepting: errno \(errno)") }
    // Bounded: a connection the daemon keeps open (a subscriber) is given up after a second.
    var tv = timeval(tv_sec: 1, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var sent = 0
    while sent < size {
        let n = send(fd, data! + sent, size - sent, Int32(MSG_NOSIGNAL))
        if n <= 0 { break }
        sent += n
    }
    shutdown(fd, Int32(SHUT_WR))
    var buffer = [UInt8](repeating: 0, count: 65536)
    while buffer.withUnsafeMutableBytes({ recv(fd, $0.baseAddress, $0.count, 0) }) > 0 {}
    return 0
}

@main struct FuzzEntry {
    static func main() { fuzzMain { data, size in fuzzServer(data, size) } }
}
