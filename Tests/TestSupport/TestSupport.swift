import Foundation

/// A fresh directory, removed by `remove()`. It lives on tmpfs (/dev/shm) where there is one, so that
/// the durable mode's fsync per batch costs the test suite nothing; the files are real LMDB all the same.
public struct TemporaryDirectory: Sendable {
    public let path: String

    public static let base: String = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"

    public init(_ label: String = "shmkv") {
        var template = Array("\(TemporaryDirectory.base)/\(label)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = String(cString: made!)
    }

    public func file(_ name: String) -> String { path + "/" + name }

    public func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Where `swift build` put the package's executables (beside the test bundle).
public enum Products {
    public static let directory: String = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        var dir = (exe as NSString).deletingLastPathComponent
        // The test bundle may sit in a nested folder (…/debug/X.xctest/…): walk up to shmkvd.
        while !dir.isEmpty && dir != "/" {
            if FileManager.default.isExecutableFile(atPath: dir + "/shmkvd") { return dir }
            dir = (dir as NSString).deletingLastPathComponent
        }
        return FileManager.default.currentDirectoryPath + "/.build/debug"
    }()

    public static func path(_ name: String) -> String { directory + "/" + name }
}

/// A real `shmkvd` child process on a temporary data directory and a free TCP port.
/// `stop()` sends SIGTERM and waits; `deinit` kills it if a test forgot (or failed first).
public final class Daemon: @unchecked Sendable {
    // Invariant: used from one test at a time; `process` is only read after `init`.
    public let directory: TemporaryDirectory
    public let dataDirectory: String
    public private(set) var socketPath = ""
    public private(set) var tcpHost = "127.0.0.1"
    public private(set) var tcpPort = 0
    public let process = Process()
    private let stderrPipe = Pipe()
    private var stopped = false

    /// Starts `shmkvd` and waits for its "ready" line. `extraArguments` go after the defaults.
    public init(dataDirectory: String? = nil, extraArguments: [String] = [], environment: [String: String] = [:]) throws {
        directory = TemporaryDirectory("shmkvd")
        self.dataDirectory = dataDirectory ?? directory.file("data")
        process.executableURL = URL(fileURLWithPath: Products.path("shmkvd"))
        process.arguments = ["--data-dir", self.dataDirectory, "--listen", "127.0.0.1:0", "--threads", "2",
                             "--log-level", "warning"] + extraArguments
        // The ring goes in the test's directory, not /dev/shm's shared namespace.
        let ringDefault = ["SHMKV_RING_PATH": directory.file("shmkvd.ring")]
        process.environment = ProcessInfo.processInfo.environment.merging(ringDefault) { $1 }.merging(environment) { $1 }
        let out = Pipe()
        process.standardOutput = out
        process.standardError = stderrPipe
        try process.runWithSignalsUnblocked()
        let line = Daemon.readLine(out.fileHandleForReading)
        guard line.hasPrefix("shmkvd ready") else {
            // No ready line: it exited, or it hangs (then it is killed, and says so in the error).
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            let err = String(decoding: stderrPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw DaemonError.didNotStart(status: process.terminationStatus, stderr: err)
        }
        for field in line.split(separator: " ") {
            if field.hasPrefix("unix=") { socketPath = String(field.dropFirst(5)) }
            if field.hasPrefix("tcp=") {
                let hostPort = field.dropFirst(4)
                let colon = hostPort.lastIndex(of: ":")!
                tcpHost = String(hostPort[..<colon])
                tcpPort = Int(hostPort[hostPort.index(after: colon)...])!
            }
        }
    }

    /// The daemon's first line of stdout, or "" when none comes within `timeoutSeconds` (the caller then
    /// reports that it did not start, with what it logged).
    private static func readLine(_ handle: FileHandle, timeoutSeconds: Int32 = 60) -> String {
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        let fd = handle.fileDescriptor
        let deadline = Date().addingTimeInterval(Double(timeoutSeconds))
        while true {
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { return "" }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, Int32(left * 1000) + 1)
            if ready < 0 && errno == EINTR { continue }
            if ready <= 0 { return "" }
            guard read(fd, &byte, 1) == 1, byte != UInt8(ascii: "\n") else { break }
            bytes.append(byte)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    public var pid: Int32 { process.processIdentifier }

    /// Sends `signal` and waits for the process to end; returns its exit status. The wait is bounded:
    /// a daemon still running after 60 s is killed (SIGKILL), so a stop that hangs fails the test that
    /// checks the status (9) instead of hanging the suite.
    @discardableResult
    public func stop(signal: Int32 = SIGTERM) -> Int32 {
        if !stopped {
            stopped = true
            kill(process.processIdentifier, signal)
            let deadline = Date().addingTimeInterval(60)
            while process.isRunning && Date() < deadline { usleep(10_000) }
            if process.isRunning {
                FileHandle.standardError.write(Data("shmkvd (pid \(process.processIdentifier)) did not stop within 60 s of signal \(signal): killed\n".utf8))
                kill(process.processIdentifier, SIGKILL)
            }
            process.waitUntilExit()
        }
        return process.terminationStatus
    }

    /// What the daemon logged to stderr (read after it stopped).
    public func stderrText() -> String {
        String(decoding: stderrPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    }

    deinit {
        if !stopped && process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        directory.remove()
    }
}

public enum DaemonError: Error, CustomStringConvertible {
    case didNotStart(status: Int32, stderr: String)
    public var description: String {
        switch self {
        case .didNotStart(let status, let stderr): "shmkvd did not start (exit \(status)): \(stderr)"
        }
    }
}

/// A plain blocking socket for tests that send bytes no well-behaved client would.
// Invariant: only the descriptor is shared; one thread may send while another receives on a socket.
public final class RawConnection: @unchecked Sendable {
    public let fd: Int32

    public init(unixPath: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: Array(unixPath.utf8) + [0]) }
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        guard rc == 0 else { close(fd); throw DaemonError.didNotStart(status: errno, stderr: "connect failed") }
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    /// Sends every byte: a blocking send that a signal interrupts (SIGCHLD, when another test's child
    /// process ends) returns with part of the bytes sent, so it goes on from there; a peer that is
    /// gone ends it.
    public func send(_ bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n > 0 { sent += n } else if n < 0 && errno == EINTR { continue } else { return }
        }
    }

    /// Reads until the peer closes (or 10 s pass); returns everything read and whether it closed (a
    /// reset counts: a peer that closes with our bytes unread resets the connection).
    public func readUntilClosed() -> (bytes: [UInt8], closed: Bool) {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { out += buf[..<n]; continue }
            return (out, n == 0 || errno == ECONNRESET)
        }
    }

    /// Reads whatever arrives until the peer has been quiet for `quietMilliseconds`.
    public func readAvailable(quietMilliseconds: Int32 = 300) -> [UInt8] {
        var out: [UInt8] = []
        while true {
            let got = RawConnection.readAny([self], waitMilliseconds: quietMilliseconds)[0]
            if got.isEmpty { return out }
            out += got
        }
    }

    /// Whether a read found the peer gone (it closed or reset the connection); `readAny` skips it then.
    public private(set) var peerClosed = false

    /// Waits up to `waitMilliseconds` for any of `connections` to have bytes and returns what each had
    /// (empty for one that had none, all empty when the wait passed or every one is closed): several
    /// peers' replies are awaited together instead of one quiet wait after another. A signal (SIGCHLD,
    /// when another test's child process ends) does not end the wait early: it is waited again.
    public static func readAny(_ connections: [RawConnection], waitMilliseconds: Int32) -> [[UInt8]] {
        var out = [[UInt8]](repeating: [], count: connections.count)
        var polls = connections.map { pollfd(fd: $0.peerClosed ? -1 : $0.fd, events: Int16(POLLIN), revents: 0) }
        guard polls.contains(where: { $0.fd >= 0 }) else { return out }
        var ready = poll(&polls, nfds_t(polls.count), waitMilliseconds)
        while ready < 0 && errno == EINTR { ready = poll(&polls, nfds_t(polls.count), waitMilliseconds) }
        guard ready > 0 else { return out }
        var buf = [UInt8](repeating: 0, count: 65536)
        for (i, p) in polls.enumerated() where p.revents != 0 {
            let n = buf.withUnsafeMutableBytes { recv(connections[i].fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n > 0 { out[i] = Array(buf[..<n]) } else if n == 0 || (errno != EAGAIN && errno != EINTR) { connections[i].peerClosed = true }
        }
        return out
    }

    /// Reads exactly `count` bytes (fewer if the peer closes or the timeout passes).
    public func read(_ count: Int, timeoutSeconds: Int = 10) -> [UInt8] {
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        defer {
            var ten = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &ten, socklen_t(MemoryLayout<timeval>.size))
        }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: count)
        while out.count < count {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, count - out.count, 0) }
            if n <= 0 { break }
            out += buf[..<n]
        }
        return out
    }
}

/// A child process the test talks to line by line: it reads the child's stdout as lines, can write to
/// its stdin, and kills it in `deinit` if the test did not wait for it (or failed first).
public final class ChildProcess: @unchecked Sendable {
    // Invariant: used from one test at a time.
    public let process = Process()
    private let output = Pipe()
    private let input = Pipe()
    private let errors = Pipe()
    private var pending: [UInt8] = []
    private var waited = false

    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = output
        process.standardInput = input
        process.standardError = errors
        try process.runWithSignalsUnblocked()
    }

    public var pid: Int32 { process.processIdentifier }

    /// The next line of stdout without its newline; nil at end of output or when no line comes within
    /// `timeoutSeconds` (so a child that never answers fails the test instead of hanging it).
    public func readLine(timeoutSeconds: Int = 30) -> String? {
        let fd = output.fileHandleForReading.fileDescriptor
        while true {
            if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                return line
            }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, Int32(timeoutSeconds * 1000))
            if ready < 0 && errno == EINTR { continue }
            if ready <= 0 { return nil }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 {
                if pending.isEmpty { return nil }
                defer { pending.removeAll() }
                return String(decoding: pending, as: UTF8.self)
            }
            pending += chunk[..<n]
        }
    }

    /// Reads lines until one starts with `prefix`; returns it, or nil at end of output.
    public func readLine(startingWith prefix: String) -> String? {
        while let line = readLine() {
            if line.hasPrefix(prefix) { return line }
        }
        return nil
    }

    /// Writes a line to the child's stdin.
    public func send(_ line: String) {
        input.fileHandleForWriting.write(Data((line + "\n").utf8))
    }

    /// Sends `signal` to the child.
    public func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Waits for the child to end; returns its exit status. The wait is bounded: a child still running
    /// after `timeoutSeconds` is killed (SIGKILL, so the status is 9) and says so on stderr.
    @discardableResult
    public func wait(timeoutSeconds: Int = 60) -> Int32 {
        let deadline = Date().addingTimeInterval(Double(timeoutSeconds))
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            let command = ([process.executableURL?.lastPathComponent ?? "?"] + (process.arguments ?? [])).joined(separator: " ")
            FileHandle.standardError.write(Data("\(command) did not end within \(timeoutSeconds) s: killed\n".utf8))
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        waited = true
        return process.terminationStatus
    }

    /// What the child wrote to stderr (read after it ended).
    public func stderrText() -> String {
        String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    }

    deinit {
        if !waited && process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// A tmpfs of `size` (mount's syntax: "24m") on a fresh directory, for tests of a full file system
/// (mounting needs root, as CI has). `remove()` unmounts it and removes the directory.
public struct SmallFileSystem: Sendable {
    public struct MountFailed: Error, CustomStringConvertible {
        public let description: String
    }

    private let directory: TemporaryDirectory
    public var path: String { directory.path }

    public init(size: String, label: String = "shmkv-fs") throws {
        directory = TemporaryDirectory(label)
        let mount = try runProcess("/usr/bin/mount", ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", directory.path])
        guard mount.status == 0 else {
            directory.remove()
            throw MountFailed(description: "mount -t tmpfs -o size=\(size): \(mount.stderr)")
        }
    }

    public func file(_ name: String) -> String { directory.file(name) }

    public func remove() {
        _ = try? runProcess("/usr/bin/umount", ["-l", directory.path])
        directory.remove()
    }
}
