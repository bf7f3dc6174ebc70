import Foundation

/// A real `redis-server` (Debian's, installed by `make test`) on a Unix socket in a temporary directory,
/// with persistence off: the oracle that RESP tests compare the daemon's bytes against. `deinit` stops it.
public final class RedisServer: @unchecked Sendable {
    // Invariant: used from one test at a time.
    public let directory = TemporaryDirectory("redis")
    public let socketPath: String
    private let process = Process()

    /// Starts redis-server with `extraArguments` (e.g. `["--requirepass", "x"]`) and waits (at most
    /// 10 s) until its socket answers.
    public init(extraArguments: [String] = []) throws {
        socketPath = directory.file("redis.sock")
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
        process.arguments = ["--port", "0", "--unixsocket", socketPath, "--save", "", "--appendonly", "no",
                             "--dir", directory.path, "--logfile", directory.file("redis.log")] + extraArguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.runWithSignalsUnblocked()
        for _ in 0..<200 {
            if let connection = try? RawConnection(unixPath: socketPath) {
                _ = connection
                return
            }
            usleep(50_000)
        }
        process.terminate()
        throw DaemonError.didNotStart(status: -1, stderr: "redis-server did not open \(socketPath) within 10 s")
    }

    /// Kills it (SIGKILL: nothing is saved) and waits until it has gone; its port is free again.
    public func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit {
        stop()
        directory.remove()
    }
}

extension RawConnection {
    /// Sends `bytes` on a new connection to `unixPath` and returns everything read until the server
    /// closes it (a protocol error) or it has been quiet for `quietMilliseconds`.
    public static func exchange(unixPath: String, _ bytes: [UInt8], quietMilliseconds: Int32 = 300) throws -> [UInt8] {
        let connection = try RawConnection(unixPath: unixPath)
        connection.send(bytes)
        return connection.readAvailable(quietMilliseconds: quietMilliseconds)
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago (for peers such as nutcracker that need one named).
public func freeTCPPort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// Waits up to `seconds` for `condition`, checking every 50 ms; false if it never held.
public func eventually(seconds: Double = 10, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        usleep(50_000)
    }
    return try condition()
}

/// The RESP bytes of one command (an array of bulk strings), as a Redis client sends it.
public func respCommand(_ args: String...) -> [UInt8] { respCommand(args) }

/// `respCommand` for words in an array.
public func respCommand(_ args: [String]) -> [UInt8] {
    var out = Array("*\(args.count)\r\n".utf8)
    for arg in args { out += Array("$\(arg.utf8.count)\r\n\(arg)\r\n".utf8) }
    return out
}

/// Runs redis-cli against the daemon's TCP listener; stdout and stderr together (redis-cli prints
/// errors on stdout when it is not a terminal), trailing newlines dropped (it adds one after an error).
public func redisCLI(_ daemon: Daemon, _ args: [String], stdin: [UInt8]? = nil) throws -> String {
    let result = try runProcess("/usr/bin/redis-cli", ["-h", daemon.tcpHost, "-p", String(daemon.tcpPort)] + args, stdin: stdin)
    var text = result.stdout + result.stderr
    while text.hasSuffix("\n") { text.removeLast() }
    return text
}

/// A small deterministic generator for seeded random test inputs (print the seed when a test fails).
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    /// A generator whose sequence `seed` fixes.
    public init(seed: UInt64) { state = seed }
    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Debian's twemproxy (`nutcracker`) on a free loopback port in front of `servers` (`host:port` each,
/// named shard0, shard1, … so that ketama places keys by name), with `redis_auth` when a password is
/// given. The initialiser returns once nutcracker accepts connections; a port that another process took
/// between choosing and binding (nutcracker then exits) is replaced by another. `deinit` kills it.
public final class Nutcracker: @unchecked Sendable {
    // Invariant: used from one test at a time.
    public private(set) var port = 0
    private let directory = TemporaryDirectory("nutcracker")
    private var process: ChildProcess?

    public init(servers: [String], password: String?) throws {
        for _ in 0..<5 {
            port = freeTCPPort()
            var config = "shmkv:\n  listen: 127.0.0.1:\(port)\n  redis: true\n  hash: fnv1a_64\n  distribution: ketama\n"
            config += "  auto_eject_hosts: false\n"
            if let password { config += "  redis_auth: \(password)\n" }
            config += "  servers:\n" + servers.enumerated().map { "    - \($1):1 shard\($0)\n" }.joined()
            try Data(config.utf8).write(to: URL(fileURLWithPath: directory.file("nutcracker.yml")))
            let child = try ChildProcess("/usr/sbin/nutcracker", ["-c", directory.file("nutcracker.yml"), "-o", directory.file("nutcracker.log")])
            process = child
            // Listening, and still running a moment later: the listener is nutcracker's, not another's.
            if eventually(seconds: 10, { !child.process.isRunning || Nutcracker.accepts(port: port) }) && child.process.isRunning {
                usleep(100_000)
                if child.process.isRunning { return }
            }
            child.signal(SIGKILL)
            child.wait()
        }
        let log = (try? String(contentsOfFile: directory.file("nutcracker.log"), encoding: .utf8)) ?? ""
        throw DaemonError.didNotStart(status: -1, stderr: "nutcracker did not listen on a free port in 5 tries:\n\(log)")
    }

    /// Whether a TCP connection to 127.0.0.1:`port` is accepted.
    private static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        addr.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let length = socklen_t(MemoryLayout<sockaddr_in>.size)
        return withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) } } == 0
    }

    deinit {
        process?.signal(SIGKILL)
        process?.wait()
        directory.remove()
    }
}
