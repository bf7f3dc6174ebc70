#if canImport(Glibc)
import Glibc
#endif
import CShim
import Posix

/// Socket calls shared by listeners and connections.
public enum Socket {
    /// Resolves a numeric or named host (getaddrinfo) to the first TCP address.
    static func resolve(host: String, port: Int) throws(SystemError) -> (storage: sockaddr_storage, length: socklen_t, family: Int32) {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &result)
        guard rc == 0, let first = result else {
            throw SystemError(call: "getaddrinfo(\(host)): \(String(cString: gai_strerror(rc)))", errno: .invalidArgument)
        }
        defer { freeaddrinfo(result) }
        var storage = sockaddr_storage()
        withUnsafeMutableBytes(of: &storage) { dst in
            dst.copyMemory(from: UnsafeRawBufferPointer(start: first.pointee.ai_addr, count: Int(first.pointee.ai_addrlen)))
        }
        return (storage, first.pointee.ai_addrlen, first.pointee.ai_family)
    }

    /// Whether `host` resolves only to loopback addresses (127.0.0.0/8 or ::1).
    /// Whether the peer of a connected socket is on this host: a Unix socket, or a TCP peer whose address
    /// is loopback (127.0.0.0/8, ::1, or ::ffff:127.x.x.x). False if the peer cannot be told.
    public static func peerIsLoopback(_ fd: Int32) -> Bool {
        guard let peer = peerAddress(fd) else { return false }
        var storage = peer.storage
        let family = peer.family
        return withUnsafeBytes(of: &storage) { raw in
            switch family {
            case AF_UNIX: return true
            case AF_INET:
                return UInt32(bigEndian: raw.load(as: sockaddr_in.self).sin_addr.s_addr) >> 24 == 127
            case AF_INET6:
                return withUnsafeBytes(of: raw.load(as: sockaddr_in6.self).sin6_addr) { a in
                    let mappedV4 = a.prefix(10).allSatisfy { $0 == 0 } && a[10] == 0xFF && a[11] == 0xFF
                    return (a.prefix(15).allSatisfy { $0 == 0 } && a[15] == 1) || (mappedV4 && a[12] == 127)
                }
            default: return false
            }
        }
    }

    /// The peer of a connected socket (`getpeername`) and its address family, or nil.
    public static func peerAddress(_ fd: Int32) -> (storage: sockaddr_storage, family: Int32)? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) == 0 }
        }
        return ok ? (storage, Int32(storage.ss_family)) : nil
    }

    /// Whether `host` resolves to a loopback address (127.0.0.0/8 or ::1); false when it does not resolve.
    /// Resolves through `getaddrinfo`, so it may block on DNS: call it at start, never on a loop thread.
    public static func isLoopback(host: String) -> Bool {
        guard let (storage, _, family) = try? resolve(host: host, port: 0) else { return false }
        var s = storage
        return withUnsafeBytes(of: &s) { raw in
            if family == AF_INET {
                let sin = raw.load(as: sockaddr_in.self)
                return UInt32(bigEndian: sin.sin_addr.s_addr) >> 24 == 127
            }
            if family == AF_INET6 {
                let sin6 = raw.load(as: sockaddr_in6.self)
                return withUnsafeBytes(of: sin6.sin6_addr) { a in a.prefix(15).allSatisfy { $0 == 0 } && a[15] == 1 }
            }
            return false
        }
    }

    /// A non-blocking TCP listener on `host:port` (port 0: any free port; `localPort` tells which).
    public static func listenTCP(host: String, port: Int, backlog: Int32 = 1024) throws(SystemError) -> Descriptor {
        var (storage, length, family) = try resolve(host: host, port: port)
        let socket = Descriptor(adopting: try syscallBlocking("socket") {
            Glibc.socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        })
        let fd = socket.rawValue
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        _ = try withUnsafePointer(to: &storage) { p throws(SystemError) in
            try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa throws(SystemError) in
                try syscallBlocking("bind(\(host):\(port))") { Glibc.bind(fd, sa, length) }
            }
        }
        try syscallBlocking("listen") { Glibc.listen(fd, backlog) }
        return socket
    }

    /// A non-blocking socket connecting to `endpoint` (a TCP connect in progress, or a Unix socket
    /// connected): writes wait for the connection (a send before it answers EAGAIN), and a refusal
    /// shows as an error on the first read or write.
    public static func connect(to endpoint: Endpoint) throws(SystemError) -> Descriptor {
        let flags = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        switch endpoint {
        case .tcp(let host, let port):
            var (storage, length, family) = try resolve(host: host, port: port)
            let socket = Descriptor(adopting: try syscallBlocking("socket") { Glibc.socket(family, flags, 0) })
            let fd = socket.rawValue
            let rc = withUnsafePointer(to: &storage) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, length) }
            }
            guard rc == 0 || errno == EINPROGRESS else { throw SystemError.last("connect(\(endpoint))") }
            setNoDelay(fd)
            return socket
        case .unix(let path):
            var address = try unixAddress(path)
            let socket = Descriptor(adopting: try syscallBlocking("socket") { Glibc.socket(AF_UNIX, flags, 0) })
            let fd = socket.rawValue
            let rc = withUnsafePointer(to: &address) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard rc == 0 else { throw SystemError.last("connect(\(endpoint))") }
            return socket
        }
    }

    /// The local port a TCP socket is bound to (0 if it is not a bound TCP socket).
    public static func localPort(_ fd: Int32) -> Int {
        var bound = sockaddr_storage()
        var boundLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &bound) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in getsockname(fd, sa, &boundLength) }
        }
        guard rc == 0 else { return 0 }
        let family = Int32(bound.ss_family)
        return withUnsafeBytes(of: &bound) { raw -> Int in
            switch family {
            case AF_INET6: Int(UInt16(bigEndian: raw.load(as: sockaddr_in6.self).sin6_port))
            case AF_INET: Int(UInt16(bigEndian: raw.load(as: sockaddr_in.self).sin_port))
            default: 0
            }
        }
    }

    /// Fills a `sockaddr_un` for `path`; throws if the path does not fit.
    public static func unixAddress(_ path: String) throws(SystemError) -> sockaddr_un {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: addr.sun_path)
        guard bytes.count < capacity else { throw SystemError(call: "unix socket path \(path) is too long", errno: .fileNameTooLong) }
        withUnsafeMutableBytes(of: &addr.sun_path) { dst in
            dst.copyBytes(from: bytes)
            dst[bytes.count] = 0
        }
        return addr
    }

    /// Sends one datagram to the Unix datagram socket at `path` (a leading `@` names an abstract socket,
    /// as systemd's `NOTIFY_SOCKET` may), from a socket made for this one call. Blocks at most as long
    /// as the receiver's queue is full; throws what `socket`/`sendto` report.
    public static func sendDatagram(_ bytes: [UInt8], toUnix path: String) throws(SystemError) {
        var addr: sockaddr_un
        var length = socklen_t(MemoryLayout<sockaddr_un>.size)
        if path.hasPrefix("@") {
            // An abstract name: a NUL, then the name's bytes, without a terminating NUL.
            let name = Array(path.utf8.dropFirst())
            addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            guard name.count < MemoryLayout.size(ofValue: addr.sun_path) else {
                throw SystemError(call: "unix socket name \(path) is too long", errno: .fileNameTooLong)
            }
            withUnsafeMutableBytes(of: &addr.sun_path) { dst in
                dst[0] = 0
                UnsafeMutableRawBufferPointer(rebasing: dst[1...]).copyBytes(from: name)
            }
            length = socklen_t(MemoryLayout<sa_family_t>.size + 1 + name.count)
        } else {
            addr = try unixAddress(path)
        }
        let socket = Descriptor(adopting: try syscallBlocking("socket") {
            Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        })
        let fd = socket.rawValue
        _ = try syscallBlocking("sendto(\(path))") {
            bytes.withUnsafeBytes { data in
                withUnsafePointer(to: &addr) { p in
                    p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        Glibc.sendto(fd, data.baseAddress, data.count, Int32(MSG_NOSIGNAL), $0, length)
                    }
                }
            }
        }
        socket.close()
    }

    /// A non-blocking Unix-domain listener at `path` with file mode `mode`. A stale socket file (one
    /// nobody listens on) is replaced; a live one is an error (`EADDRINUSE`).
    public static func listenUnix(path: String, mode: mode_t = 0o600, backlog: Int32 = 1024) throws(SystemError) -> Descriptor {
        var addr = try unixAddress(path)
        if access(path, F_OK) == 0 {
            if canConnectUnix(path) { throw SystemError(call: "bind(\(path)): another server is listening", errno: .addressInUse) }
            unlink(path)
        }
        let socket = Descriptor(adopting: try syscallBlocking("socket") {
            Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        })
        let fd = socket.rawValue
        // Create the socket file with the final mode: no window where it is wider.
        let oldMask = umask(~mode & 0o777)
        let rc = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        let bindErrno = Glibc.errno
        umask(oldMask)
        if rc != 0 { throw SystemError(call: "bind(\(path))", errno: Errno(rawValue: bindErrno)) }
        try syscallBlocking("listen") { Glibc.listen(fd, backlog) }
        return socket
    }

    static func canConnectUnix(_ path: String) -> Bool {
        guard var addr = try? unixAddress(path) else { return false }
        guard let fd = try? syscallBlocking("socket", { Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }) else { return false }
        let probe = Descriptor(adopting: fd)
        let rc = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        probe.close()
        return rc == 0
    }

    /// Accepts one connection, non-blocking and close-on-exec; `.wouldBlock` when none is waiting.
    public static func accept(_ listener: Int32) throws(SystemError) -> IOResult<Int32> {
        try syscall("accept4") { shim_accept4(listener) }
    }

    /// Disables Nagle's algorithm on a TCP socket (replies go out at once).
    public static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }
}
