import Posix
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// Where a `Client` connects.
public enum ServerAddress: Sendable, Equatable, CustomStringConvertible {
    /// A Unix stream socket at `path` (what `shmkvd` listens on by default: `data/shmkvd.sock`).
    case unix(path: String)
    /// TCP to `host` (a name or address, resolved at connect) and `port`.
    case tcp(host: String, port: Int)

    /// `path` for a Unix socket, `host:port` for TCP.
    public var description: String {
        switch self {
        case .unix(let path): path
        case .tcp(let host, let port): "\(host):\(port)"
        }
    }
}

/// Who a client is to a daemon that requires a password: a user name (nil: `default`) and a password.
/// Read it from a file or the environment, never from a command-line argument.
public struct Credentials: Sendable, Equatable {
    /// The user to log in as; nil is Redis's `default` user.
    public var user: String?
    /// Sent once per connection, in the AUTH request after the hello; held in memory while the client lives.
    public var password: String

    /// Credentials for `user` (nil: `default`) with `password`.
    public init(user: String? = nil, password: String) {
        self.user = user
        self.password = password
    }
}

/// A blocking stream socket speaking the native protocol: connect, hello, send frames, read frames.
/// Not thread-safe on its own; `Client` serialises access.
struct ClientSocket: ~Copyable {
    private let descriptor: Descriptor
    var fd: Int32 { descriptor.rawValue }
    private var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    private var start = 0
    private var end = 0
    private(set) var maxFrameSize = Native.defaultMaxFrameSize
    /// The most a reply may occupy before the client gives up on it.
    static let maxBuffer = 1 << 30

    private init(descriptor: consuming Descriptor) { self.descriptor = descriptor }

    /// Connects and performs the handshake (the descriptor is closed if either fails).
    static func open(address: ServerAddress, timeoutSeconds: Int, credentials: Credentials?) throws(ShmKVError) -> ClientSocket {
        var socket = try connected(address: address, timeoutSeconds: timeoutSeconds)
        try socket.handshake()
        if let credentials { try socket.authenticate(credentials) }
        return socket
    }

    /// A connected socket with no handshake (RESP needs none); `timeoutSeconds` > 0 bounds every send
    /// and receive.
    static func connected(address: ServerAddress, timeoutSeconds: Int) throws(ShmKVError) -> ClientSocket {
        let socket = ClientSocket(descriptor: try connect(address))
        if timeoutSeconds > 0 {
            var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
            setsockopt(socket.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(socket.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        }
        return socket
    }

    /// Gives up the socket's descriptor (after the handshake, for a connection with its own reader).
    consuming func takeDescriptor() -> Descriptor { descriptor }

    /// Sends AUTH and waits for its answer; a refusal throws `.server(.authFailed, …)`.
    private mutating func authenticate(_ credentials: Credentials) throws(ShmKVError) {
        let request = Request.auth(user: Array((credentials.user ?? "").utf8), password: Array(credentials.password.utf8))
        try send(request.encoded(requestID: 0))
        let reply = try readReply(answering: .auth)
        if case .message(let message) = reply.body { throw .server(reply.status, message) }
    }

    private mutating func handshake() throws(ShmKVError) {
        try send(Native.clientHello())
        let hello = try next { bytes throws(WireError) in
            try Native.parseServerHello(bytes).map { ($0, Native.serverHelloSize) }
        }
        guard hello.status == .ok else { throw .server(hello.status, "handshake refused: \(hello.status)") }
        maxFrameSize = hello.maxFrameSize
    }

    /// Runs `parse` on the unread bytes until it returns a value and the bytes it used, reading more
    /// from the socket while it returns `nil`. Codec errors become `.protocolViolation`.
    mutating func next<T>(_ parse: (UnsafeRawBufferPointer) throws(WireError) -> (T, Int)?) throws(ShmKVError) -> T {
        while true {
            let parsed = buffer.withUnsafeBytes { raw in
                Result { () throws(WireError) in try parse(UnsafeRawBufferPointer(rebasing: raw[start..<end])) }
            }
            switch parsed {
            case .success(let (value, consumed)?):
                start += consumed
                return value
            case .success(nil):
                try fill()
            case .failure(let error):
                throw .protocolViolation("\(error)")
            }
        }
    }

    /// A connected blocking socket (closed again if connecting fails).
    private static func connect(_ address: ServerAddress) throws(ShmKVError) -> Descriptor {
        switch address {
        case .unix(let path):
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
                throw .connection("socket path \(path) is too long")
            }
            withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: bytes + [0]) }
            do throws(SystemError) {
                let socket = Descriptor(adopting: try syscallBlocking("socket") { Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) })
                let fd = socket.rawValue
                _ = try withUnsafePointer(to: &addr) { p throws(SystemError) in
                    try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa throws(SystemError) in
                        try syscallBlocking("connect \(path)") { Glibc.connect(fd, sa, socklen_t(MemoryLayout<sockaddr_un>.size)) }
                    }
                }
                return socket
            } catch {
                throw .connection(error.message)
            }
        case .tcp(let host, let port):
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            hints.ai_flags = AI_NUMERICSERV
            var result: UnsafeMutablePointer<addrinfo>?
            let rc = getaddrinfo(host, String(port), &hints, &result)
            guard rc == 0 else { throw .connection("resolve \(host): \(String(cString: gai_strerror(rc)))") }
            defer { freeaddrinfo(result) }
            var lastMessage = "no address"
            var entry = result
            while let ai = entry {
                entry = ai.pointee.ai_next
                do throws(SystemError) {
                    let socket = Descriptor(adopting: try syscallBlocking("socket") {
                        Glibc.socket(ai.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
                    })
                    let fd = socket.rawValue
                    try syscallBlocking("connect \(host):\(port)") { Glibc.connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) }
                    var one: Int32 = 1
                    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                    return socket
                } catch {
                    lastMessage = error.message
                }
            }
            throw .connection(lastMessage)
        }
    }

    /// Sends every byte.
    func send(_ bytes: [UInt8]) throws(ShmKVError) {
        var offset = 0
        while offset < bytes.count {
            let fd = self.fd
            let sent: IOResult<Int>
            switch bytes.withUnsafeBytes({ raw in
                Result { () throws(SystemError) in
                    try syscall("send") { Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL)) }
                }
            }) {
            case .success(let result): sent = result
            case .failure(let error): throw .connection(error.message)
            }
            // A blocking socket would-blocks only when its send timeout (SO_SNDTIMEO) passed.
            guard case .done(let n) = sent else { throw .connection("timed out sending to the server") }
            offset += n
        }
    }

    /// Reads more bytes into the buffer (whose bytes `start..<end` are unread), compacting or growing
    /// it first when it is full.
    private mutating func fill() throws(ShmKVError) {
        if start == end { start = 0; end = 0 }
        if end == buffer.count {
            if start > 0 {
                buffer.withUnsafeMutableBytes { raw in
                    raw.baseAddress!.copyMemory(from: raw.baseAddress! + start, byteCount: end - start)
                }
                end -= start
                start = 0
            } else {
                // Native frames are bounded by the hello's limit; RESP replies by this.
                guard buffer.count < ClientSocket.maxBuffer else { throw .protocolViolation("a reply larger than 1 GiB") }
                buffer.append(contentsOf: repeatElement(0, count: buffer.count))
            }
        }
        let fd = self.fd
        let filled = end
        let received: IOResult<Int>
        switch buffer.withUnsafeMutableBytes({ raw in
            Result { () throws(SystemError) in try syscall("recv") { Glibc.recv(fd, raw.baseAddress! + filled, raw.count - filled, 0) } }
        }) {
        case .success(let result): received = result
        case .failure(let error): throw .connection(error.message)
        }
        switch received {
        // A blocking socket would-blocks only when its receive timeout (SO_RCVTIMEO) passed.
        case .wouldBlock: throw .connection("timed out waiting for the server")
        case .done(0): throw .connection("the server closed the connection")
        case .done(let n): end += n
        }
    }

    /// Reads one frame of any kind: its code, request id and a copy of its body. Waits at most
    /// `timeoutMilliseconds` for more bytes (nil: for ever); nil if none came in time.
    mutating func readFrame(timeoutMilliseconds: Int?) throws(ShmKVError) -> (code: UInt8, requestID: UInt32, body: [UInt8])? {
        let maxFrame = max(maxFrameSize, Native.defaultMaxFrameSize)
        while true {
            let decoded = buffer.withUnsafeBytes { raw in
                Result { () throws(WireError) -> (UInt8, UInt32, [UInt8], Int)? in
                    switch try Native.decodeFrame(UnsafeRawBufferPointer(rebasing: raw[start..<end]), maxFrameSize: maxFrame) {
                    case .needMore: return nil
                    case .frame(let header, let body, let consumed): return (header.code, header.requestID, Array(body), consumed)
                    }
                }
            }
            switch decoded {
            case .success(let frame?):
                start += frame.3
                return (frame.0, frame.1, frame.2)
            case .success(nil):
                if let timeoutMilliseconds {
                    var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                    let ready: Int32
                    do { ready = try syscallBlocking("poll") { Glibc.poll(&p, 1, Int32(clamping: timeoutMilliseconds)) } }
                    catch { throw .connection(error.message) }
                    if ready == 0 { return nil }
                }
                try fill()
            case .failure(let error):
                throw .protocolViolation("\(error)")
            }
        }
    }

    /// Reads one reply frame and decodes it as the answer to `op`.
    mutating func readReply(answering op: Opcode) throws(ShmKVError) -> Reply {
        let maxFrame = max(maxFrameSize, Native.defaultMaxFrameSize)
        return try next { bytes throws(WireError) -> (Reply, Int)? in
            switch try Native.decodeFrame(bytes, maxFrameSize: maxFrame) {
            case .needMore: return nil
            case .frame(let header, let body, let consumed):
                return (try Reply(header: header, body: body, answering: op), consumed)
            }
        }
    }
}

extension SystemError {
    /// The error as a client reports it: the call, then what went wrong.
    var message: String { "\(call): \(String(cString: strerror(errno.rawValue)))" }
}
