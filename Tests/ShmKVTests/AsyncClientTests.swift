import Foundation
import ShmKV
import TestSupport
import Testing
import Wire

/// The async client against the real daemon (concurrency, pipelining, every operation), and against a
/// silent server made here (cancellation, timeouts, a connection that breaks).
@Suite struct AsyncClientTests {
    @Test func aThousandConcurrentTasksOnFourConnections() async throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let client = AsyncClient(address: .unix(path: daemon.socketPath), connections: 4, timeoutSeconds: 30)
        defer { client.close() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<1000 {
                group.addTask {
                    let key = Array("task:\(i)".utf8)
                    try await client.put(key, Array("value \(i)".utf8))
                    let got = try await client.get(key)
                    guard got == Array("value \(i)".utf8) else { throw ShmKVError.protocolViolation("task \(i) read \(String(describing: got))") }
                    try await client.incr(Array("counter".utf8))
                }
            }
            try await group.waitForAll()
        }
        #expect(try await client.get(Array("counter".utf8)) == Array("1000".utf8))
        var scanned = 0
        for try await entry in client.scan(prefix: Array("task:".utf8), pageSize: 100) {
            #expect(entry.key.starts(with: Array("task:".utf8)))
            scanned += 1
        }
        #expect(scanned == 1000)
        // The pool made at most four connections (plus none for anything else).
        let stats = try await client.stats()
        #expect((stats.first { $0.name == "connections_total" }?.value ?? 99) <= 4)
    }

    @Test func everyOperationAndErrorStatus() async throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let client = AsyncClient(address: .tcp(host: daemon.tcpHost, port: daemon.tcpPort), connections: 2)
        defer { client.close() }
        #expect(try await client.ping(Array("hi".utf8)) == Array("hi".utf8))
        #expect(try await client.put("a", "1"))
        #expect(try await client.put("a", "2", condition: .ifAbsent) == false)
        try await client.mput([KeyValue(key: Array("b".utf8), value: [0, 1]), KeyValue(key: Array("c".utf8), value: [])])
        #expect(try await client.mget([Array("a".utf8), Array("nope".utf8), Array("b".utf8)]) == [Array("1".utf8), nil, [0, 1]])
        #expect(try await client.delete(Array("c".utf8)))
        #expect(try await client.delete(Array("c".utf8)) == false)
        await #expect(throws: ShmKVError.self) { try await client.put(Array(repeating: 120, count: 600), [1]) }
        await #expect(throws: ShmKVError.self) { try await client.incr(Array("a".utf8), by: Int64.max) }
        // Changes as an AsyncSequence on a connection of their own.
        let changes = try client.changes(prefix: Array("w:".utf8))
        try await client.put("w:1", "x")
        var iterator = changes.makeAsyncIterator()
        let event = try await iterator.next()
        guard case .change(let change)? = event else { Issue.record("expected a change, got \(String(describing: event))"); return }
        #expect(change.key == Array("w:1".utf8))
    }

    @Test func theAsyncExampleRunsFromAPlainAsyncMain() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let run = try runProcess(Products.path("async-client-example"), [daemon.socketPath])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("200 tasks done; async:count = 200"))
        #expect(run.stdout.contains("scan listed 201 keys under async:"))
        #expect(run.stdout.contains("cancelled task ended with"), "\(run.stdout)")
    }

    /// A server that completes the handshake and then never answers: calls must end by cancellation or
    /// by the client's timeout, and a server that closes fails what was waiting.
    @Test func cancellationTimeoutAndABrokenConnection() async throws {
        let directory = TemporaryDirectory("silent")
        defer { directory.remove() }
        let path = directory.file("silent.sock")
        let listener = try SilentServer(path: path)
        // Other suites keep the two cooperative threads busy at times, so the cancelled call's client
        // waits a minute: only cancellation can end it early.
        let client = AsyncClient(address: .unix(path: path), connections: 1, timeoutSeconds: 60)
        defer { client.close() }
        let impatient = AsyncClient(address: .unix(path: path), connections: 1, timeoutSeconds: 1)
        defer { impatient.close() }

        let waiting = Task { try await client.get(Array("x".utf8)) }
        try await Task.sleep(nanoseconds: 200_000_000)
        waiting.cancel()
        let cancelled = await waiting.result
        #expect(throws: CancellationError.self) { try cancelled.get() }

        let started = Date()
        await #expect(throws: ShmKVError.self) { try await impatient.get(Array("y".utf8)) }
        #expect(Date().timeIntervalSince(started) < 30, "the timeout of 1 s did not end the call")

        let pending = Task { try await client.get(Array("z".utf8)) }
        try await Task.sleep(nanoseconds: 200_000_000)
        listener.closeClients()
        let broken = await pending.result
        #expect(throws: ShmKVError.self) { try broken.get() }
    }
}

/// Accepts connections on a Unix socket, answers the native hello, then reads and never replies.
final class SilentServer: @unchecked Sendable {
    // Invariant: `clients` is touched only under `lock`.
    private let fd: Int32
    private var clients: [Int32] = []
    private let lock = NSLock()

    init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: Array(path.utf8) + [0]) }
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        try #require(bound == 0 && listen(fd, 8) == 0, "silent server: errno \(errno)")
        let thread = Thread { [self] in
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 { return }
                var hello = [UInt8](repeating: 0, count: Native.clientHelloSize)
                _ = read(client, &hello, hello.count)
                let reply = Native.serverHello(status: .ok, maxFrameSize: Native.defaultMaxFrameSize)
                _ = reply.withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
                lock.lock(); clients.append(client); lock.unlock()
            }
        }
        thread.start()
    }

    /// Closes every accepted connection.
    func closeClients() {
        lock.lock(); defer { lock.unlock() }
        for client in clients { close(client) }
        clients = []
    }

    deinit {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
        closeClients()
    }
}

/// Each native operation is one value (`NativeOperation`): the blocking and the async client run the same
/// values and read the same replies the same way.
@Suite struct NativeOperationTests {
    @Test("the same operation values give the same results on Client and AsyncClient")
    func oneDescriptionTwoClients() async throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let blocking = try Client(socketPath: daemon.socketPath, timeoutSeconds: 30)
        defer { blocking.close() }
        let async = AsyncClient(address: .unix(path: daemon.socketPath), connections: 1)
        defer { async.close() }
        let k = Array("op:k".utf8), n = Array("op:n".utf8)
        // Each write runs once per client, so the second result shows the first client's effect.
        #expect(try blocking.execute(.put(k, [1], condition: .ifAbsent)) == true)
        #expect(try await async.execute(.put(k, [2], condition: .ifAbsent)) == false)
        #expect(try blocking.execute(.incr(n, by: 5)) == 5)
        #expect(try await async.execute(.incr(n, by: 5)) == 10)
        let reads: [NativeOperation<[UInt8]?>] = [.get(k), .get(Array("op:none".utf8))]
        for read in reads { #expect(try blocking.execute(read) == (try await async.execute(read))) }
        #expect(try blocking.execute(.mget([k, n])) == (try await async.execute(.mget([k, n]))))
        #expect(try blocking.execute(.ttl(k)) == .persistent)
        #expect(try await async.execute(.ttl(k)) == .persistent)
        let page = NativeOperation<ScanPage>.scanPage(ScanQuery(mode: .prefix, start: Array("op:".utf8)))
        #expect(try blocking.execute(page) == (try await async.execute(page)))
        #expect(try blocking.execute(page).entries.map(\.key) == [k, n])
        // An error status throws the same `.server` error from both.
        let bad = NativeOperation<Int64>.incr(k, by: 1)
        #expect(throws: ShmKVError.server(.notInteger, "value is not an integer or out of range")) { try blocking.execute(bad) }
        await #expect(throws: ShmKVError.server(.notInteger, "value is not an integer or out of range")) { try await async.execute(bad) }
    }
}
