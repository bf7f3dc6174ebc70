import Posix
import Reactor
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct ByteBufferTests {
    @Test func writeConsumeCompactAndGrow() {
        var buffer = ByteBuffer(capacity: 64)
        let a = [UInt8](repeating: 1, count: 40)
        a.withUnsafeBytes { buffer.write($0) }
        buffer.consume(30)
        #expect(buffer.readableCount == 10)
        // Needs 60 more: moving the 10 unread bytes to the front makes room without growing.
        buffer.reserveWritable(54)
        #expect(buffer.capacity == 64)
        #expect(buffer.readerIndex == 0)
        [UInt8](repeating: 2, count: 200).withUnsafeBytes { buffer.write($0) }
        #expect(buffer.capacity >= 210)
        #expect(Array(buffer.readable.prefix(10)) == [UInt8](repeating: 1, count: 10))
        #expect(Array(buffer.readable.suffix(200)) == [UInt8](repeating: 2, count: 200))
        buffer.consume(buffer.readableCount)
        #expect(buffer.readerIndex == 0 && buffer.writerIndex == 0)
    }
}

@Suite struct EndpointTests {
    @Test func parsesHostPortForms() {
        #expect(Endpoint.parseHostPort("127.0.0.1:7379") == .tcp(host: "127.0.0.1", port: 7379))
        #expect(Endpoint.parseHostPort("[::1]:0") == .tcp(host: "::1", port: 0))
        #expect(Endpoint.parseHostPort("localhost:80") == .tcp(host: "localhost", port: 80))
        #expect(Endpoint.parseHostPort("nohost") == nil)
        #expect(Endpoint.parseHostPort(":7379") == nil)
        #expect(Endpoint.parseHostPort("h:99999") == nil)
    }

    @Test func loopbackDetection() {
        #expect(Socket.isLoopback(host: "127.0.0.1"))
        #expect(Socket.isLoopback(host: "127.5.6.7"))
        #expect(Socket.isLoopback(host: "::1"))
        #expect(!Socket.isLoopback(host: "0.0.0.0"))
    }
}

@Suite struct EventLoopTests {
    @Test func wakeFromAnotherThreadRunsOnWake() throws {
        let loop = try EventLoop()
        let woken = Atomic<Int>(0)
        loop.onWake = { woken.add(1, ordering: .relaxed) }
        let thread = try OSThread(name: "test-loop") { loop.run() }
        loop.wake()
        var spins = 0
        while woken.load(ordering: .relaxed) == 0 && spins < 5000 { usleep(1000); spins += 1 }
        loop.stop()
        thread.join()
        #expect(woken.load(ordering: .relaxed) >= 1, "the loop was not woken within 5 s")
    }

    @Test func listenerAcceptsOnTCPAndUnix() throws {
        let tcpSocket = try Socket.listenTCP(host: "127.0.0.1", port: 0)
        let port = Socket.localPort(tcpSocket.rawValue)
        #expect(port > 0)
        let path = "/tmp/shmkv-reactor-test-\(getpid()).sock"
        let unixSocket = try Socket.listenUnix(path: path)
        let loop = try EventLoop()
        let accepted = Atomic<Int>(0)
        // Each accepted descriptor is dropped, which closes it.
        let tcp = Listener(descriptor: tcpSocket, endpoint: .tcp(host: "127.0.0.1", port: port)) { _, _ in accepted.add(1, ordering: .relaxed) }
        let unix = Listener(descriptor: unixSocket, endpoint: .unix(path: path)) { _, _ in accepted.add(1, ordering: .relaxed) }
        try loop.register(tcp, events: Readiness.readable, exclusive: true)
        try loop.register(unix, events: Readiness.readable, exclusive: true)
        // Socket file mode is 0600.
        var st = stat()
        #expect(stat(path, &st) == 0)
        #expect(st.st_mode & 0o777 == 0o600)
        // A second listener on a live socket path is refused.
        #expect(throws: SystemError.self) { _ = try Socket.listenUnix(path: path) }

        let c1 = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = UInt16(port).bigEndian
        sin.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let rc1 = withUnsafePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(c1, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        #expect(rc1 == 0)
        let c2 = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var sun = try Socket.unixAddress(path)
        let rc2 = withUnsafePointer(to: &sun) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(c2, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        #expect(rc2 == 0)
        // Three: the two clients, and the liveness probe of the refused second listener.
        for _ in 0..<50 where accepted.load(ordering: .relaxed) < 3 { loop.runOnce(timeoutMilliseconds: 100) }
        #expect(accepted.load(ordering: .relaxed) == 3)
        close(c1); close(c2)
        tcp.close(); unix.close()
        #expect(access(path, F_OK) != 0)
    }
}
