import Foundation
import Locks
import LMDB
import ShmKV
import TestSupport
import Testing
import Wire

func b(_ s: String) -> [UInt8] { Array(s.utf8) }

/// End-to-end tests against the real `shmkvd` binary, started as a child process per test.
@Suite struct DaemonTests {
    @Test func clientWorksOverUnixAndTCP() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        for client in [try Client(socketPath: daemon.socketPath, timeoutSeconds: 10),
                       try Client(host: daemon.tcpHost, port: daemon.tcpPort, timeoutSeconds: 10)] {
            defer { client.close() }
            let tag = client.address.description
            #expect(try client.ping(b("hi")) == b("hi"))
            #expect(try client.put(b("k-\(tag)"), b("v1")))
            #expect(try client.get(b("k-\(tag)")) == b("v1"))
            #expect(try client.put(b("k-\(tag)"), b("v2"), condition: .ifAbsent) == false)
            #expect(try client.put(b("k-\(tag)"), b("v3"), condition: .ifPresent))
            #expect(try client.put(b("new-\(tag)"), b("x"), condition: .ifPresent) == false)
            #expect(try client.get(b("new-\(tag)")) == nil)
            #expect(try client.mget([b("k-\(tag)"), b("nope")]) == [b("v3"), nil])
            try client.mput([KeyValue(key: b("m1-\(tag)"), value: b("1")), KeyValue(key: b("m2-\(tag)"), value: b("2"))])
            #expect(try client.incr(b("n-\(tag)"), by: 10) == 10)
            #expect(try client.incr(b("n-\(tag)"), by: -3) == 7)
            #expect(try client.get(b("n-\(tag)")) == b("7"))
            #expect(try client.delete(b("m1-\(tag)")))
            #expect(try client.delete(b("m1-\(tag)")) == false)
            let page = try client.scanPage(ScanQuery(mode: .prefix, start: b("m"), limit: 10))
            #expect(page.entries.map(\.key).contains(b("m2-\(tag)")))
            let stats = Dictionary(uniqueKeysWithValues: try client.stats().map { ($0.name, $0.value) })
            #expect(stats["keys"]! >= 3)
            #expect(stats["map_size"] == 64 << 30)
            #expect(stats["writes_committed"]! >= 6)
            #expect(stats["max_key_size"] == 511)
        }
    }

    @Test func pipelinedRequestsKeepOrderAndReadsSeeEarlierWrites() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
        try client.put(b("k"), b("old"))
        let replies = try client.pipeline([
            .put(key: b("k"), value: b("new"), condition: .always),
            .get(key: b("k")),
            .incrBy(key: b("n"), delta: 1),
            .incrBy(key: b("n"), delta: 1),
            .get(key: b("n")),
            .delete(key: b("k")),
            .get(key: b("k")),
            .ping(payload: b("end")),
        ])
        #expect(replies.map(\.body) == [
            .empty, .value(b("new")), .integer(1), .integer(2), .value(b("2")), .deleted(true), .empty, .payload(b("end")),
        ])
        #expect(replies[6].status == .notFound)
        // A thousand pipelined writes and reads alternate and still come back in order.
        var requests: [Request] = []
        for i in 0..<500 {
            requests.append(.put(key: b("p\(i)"), value: b("\(i)"), condition: .always))
            requests.append(.get(key: b("p\(i)")))
        }
        let many = try client.pipeline(requests)
        for i in 0..<500 {
            #expect(many[2 * i].status == .ok)
            #expect(many[2 * i + 1].body == .value(b("\(i)")))
        }
    }

    @Test func aFailingOperationFailsAloneInItsBatch() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
        try client.put(b("text"), b("not a number"))
        let replies = try client.pipeline([
            .put(key: b("a"), value: b("1"), condition: .always),
            .incrBy(key: b("text"), delta: 1),
            .put(key: b("b"), value: b("2"), condition: .always),
            .put(key: b("a"), value: b("x"), condition: .ifAbsent),
        ])
        #expect(replies.map(\.status) == [.ok, .notInteger, .ok, .conditionFailed])
        #expect(replies[1].body == .message("value is not an integer or out of range"))
        #expect(try client.get(b("a")) == b("1"))
        #expect(try client.get(b("b")) == b("2"))
        #expect(try client.get(b("text")) == b("not a number"))
    }

    @Test func concurrentClientsAllLand() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let errors = DispatchQueue(label: "errors")
        nonisolated(unsafe) var failures: [String] = []
        DispatchQueue.concurrentPerform(iterations: 6) { worker in
            do {
                let client = worker % 2 == 0
                    ? try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
                    : try Client(host: daemon.tcpHost, port: daemon.tcpPort, timeoutSeconds: 10)
                for i in 0..<200 {
                    try client.put(b("w\(worker)-\(i)"), b("\(i)"))
                    guard try client.get(b("w\(worker)-\(i)")) == b("\(i)") else {
                        errors.sync { failures.append("worker \(worker) read back the wrong value at \(i)") }
                        return
                    }
                    try client.incr(b("shared-counter"))
                }
            } catch {
                errors.sync { failures.append("worker \(worker): \(error)") }
            }
        }
        #expect(failures.isEmpty)
        let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
        #expect(try client.get(b("shared-counter")) == b("1200"))
        let keys = try client.stats().first { $0.name == "keys" }?.value
        #expect(keys == 1201)
    }

    /// Writes pipelined batches until the daemon goes away; returns the keys whose writes were acknowledged.
    static func writeUntilStopped(_ daemon: Daemon, stopWith signal: Int32) throws -> [String] {
        let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
        // Shared by the writer thread and this one (a plain array here was a data race ThreadSanitizer found).
        let acknowledged = Locked<[String]>([])
        let done = DispatchSemaphore(value: 0)
        let writer = Thread {
            var batch = 0
            outer: while true {
                let keys = (0..<50).map { "b\(batch)-\($0)" }
                guard let replies = try? client.pipeline(keys.map { .put(key: b($0), value: b("v-\($0)"), condition: .always) }) else { break }
                for (key, reply) in zip(keys, replies) {
                    if reply.status == .ok { acknowledged.withLock { $0.append(key) } } else { break outer }
                }
                batch += 1
            }
            done.signal()
        }
        writer.start()
        // Let a good number of batches commit, then stop the daemon under load.
        let underLoad = eventually(seconds: 60) { acknowledged.withLock { $0.count } >= 2000 }
        #expect(underLoad, "2000 writes were not acknowledged within 60 s (\(acknowledged.withLock { $0.count }))")
        let status = daemon.stop(signal: signal)
        done.wait()
        if signal == SIGTERM { #expect(status == 0) }
        return acknowledged.withLock { $0 }
    }

    @Test(arguments: [(SIGTERM, "durable"), (SIGKILL, "durable"), (SIGKILL, "fast"), (SIGKILL, "volatile")])
    func stoppingUnderLoadLosesNoAcknowledgedWrite(signal: Int32, durability: String) throws {
        let dir = TemporaryDirectory("shmkv-stop")
        defer { dir.remove() }
        let dataDir = dir.file("data")
        let daemon = try Daemon(dataDirectory: dataDir, extraArguments: ["--durability", durability])
        let acknowledged = try DaemonTests.writeUntilStopped(daemon, stopWith: signal)
        #expect(acknowledged.count >= 2000)
        // Reopen the files directly: every acknowledged write is there.
        let env = try Environment(path: dataDir, options: .init(flags: [.readOnly], maxDatabases: 8))
        defer { env.close() }
        let kv = try env.openDatabase(named: "kv")
        let missing = try env.read { txn in
            try acknowledged.filter { try txn.get(kv, key: b($0)) != b("v-\($0)") }
        }
        #expect(missing.isEmpty, "\(missing.count) acknowledged writes missing, e.g. \(missing.prefix(3))")
        if signal == SIGTERM {
            // A graceful stop removes its pid file and socket.
            #expect(!FileManager.default.fileExists(atPath: dataDir + "/shmkvd.pid"))
            #expect(!FileManager.default.fileExists(atPath: dataDir + "/shmkvd.sock"))
        }
        // And a new daemon opens the directory cleanly (a SIGKILLed one left a stale pid file and socket).
        let again = try Daemon(dataDirectory: dataDir)
        let client = try Client(socketPath: again.socketPath, timeoutSeconds: 10)
        #expect(try client.get(b(acknowledged.last!)) == b("v-\(acknowledged.last!)"))
        #expect(again.stop() == 0)
    }

    @Test func aSecondDaemonOnTheSameDirectoryIsRefused() throws {
        let first = try Daemon()
        defer { first.stop() }
        #expect {
            _ = try Daemon(dataDirectory: first.dataDirectory, extraArguments: ["--socket", first.directory.file("other.sock")])
        } throws: { error in
            guard case DaemonError.didNotStart(let status, let stderr) = error else { return false }
            return status == 1 && stderr.contains("another shmkvd (pid \(first.pid)) is already running")
        }
        // The first one is unharmed.
        let client = try Client(socketPath: first.socketPath, timeoutSeconds: 10)
        #expect(try client.ping() == [])
    }

    @Test func badInputOnOneConnectionDoesNotDisturbAnother() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let good = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
        try good.put(b("steady"), b("1"))

        // Garbage after a valid hello: an error frame, then the connection closes.
        let garbage = try RawConnection(unixPath: daemon.socketPath)
        garbage.send(Native.clientHello())
        #expect(garbage.read(Native.serverHelloSize).count == Native.serverHelloSize)
        garbage.send([0x02, 0x00, 0x00, 0x00, 0xFF, 0xFF])
        let (bytes, closed) = garbage.readUntilClosed()
        #expect(closed)
        let reply = try decodeOne(bytes)
        #expect(reply.status == .badRequest)

        // A frame over the limit is refused from its length, before the body is sent.
        let huge = try RawConnection(unixPath: daemon.socketPath)
        huge.send(Native.clientHello())
        _ = huge.read(Native.serverHelloSize)
        huge.send([0xFF, 0xFF, 0xFF, 0x7F, 0x04, 0x00, 1, 0, 0, 0])
        let (hugeBytes, hugeClosed) = huge.readUntilClosed()
        #expect(hugeClosed)
        #expect(try decodeOne(hugeBytes).status == .frameTooLarge)

        // HTTP is read as RESP inline commands, as Redis does: an error for the request line, and the
        // "Host:" line closes the connection (Redis's cross-protocol protection).
        let http = try RawConnection(unixPath: daemon.socketPath)
        http.send(b("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"))
        let (httpBytes, httpClosed) = http.readUntilClosed()
        #expect(httpClosed)
        #expect(String(decoding: httpBytes, as: UTF8.self) == "-ERR wrong number of arguments for 'get' command\r\n")

        // Wrong magic after the first byte.
        let badMagic = try RawConnection(unixPath: daemon.socketPath)
        badMagic.send([0xA5, 0x00, 0x00, 0x00, 1, 0, 0, 0])
        #expect(badMagic.readUntilClosed().closed)

        // An unknown opcode is answered and the connection lives on.
        let unknown = try RawConnection(unixPath: daemon.socketPath)
        unknown.send(Native.clientHello())
        _ = unknown.read(Native.serverHelloSize)
        var frame: [UInt8] = []
        let s = Native.beginFrame(code: 0x7E, requestID: 42, into: &frame)
        Native.endFrame(at: s, in: &frame)
        unknown.send(frame + Request.ping(payload: b("alive")).encoded(requestID: 43))
        let replyBytes = unknown.read(10 + 2 + WireError.unknownOpcode(0x7E).description.utf8.count + 10 + 5)
        let (first, second) = try decodeTwo(replyBytes)
        #expect(first.status == .unknownOpcode && first.requestID == 42)
        #expect(second.status == .ok && second.requestID == 43)

        // Meanwhile the good client never noticed.
        #expect(try good.get(b("steady")) == b("1"))
        #expect(try good.incr(b("steady")) == 2)
    }

    @Test func limitsGiveClearErrors() throws {
        let daemon = try Daemon(environment: ["SHMKV_LIMITS_MAX_VALUE_SIZE": "1024"])
        defer { daemon.stop() }
        let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
        #expect(try client.put([UInt8](repeating: 0x61, count: 511), b("ok")))
        #expect(throws: ShmKVError.server(.invalidKey, "key of 512 bytes exceeds the maximum of 511 bytes")) {
            try client.put([UInt8](repeating: 0x61, count: 512), b("no"))
        }
        #expect(throws: ShmKVError.server(.invalidKey, "key must not be empty")) { try client.get([]) }
        #expect(throws: ShmKVError.server(.valueTooLarge, "value of 1025 bytes exceeds the maximum of 1024 bytes")) {
            try client.put(b("big"), [UInt8](repeating: 0, count: 1025))
        }
        #expect(try client.put(b("fits"), [UInt8](repeating: 0, count: 1024)))
        // MPUT is all or nothing: one bad pair refuses the whole batch.
        #expect(throws: ShmKVError.self) {
            try client.mput([KeyValue(key: b("m-ok"), value: b("1")), KeyValue(key: b("m-bad"), value: [UInt8](repeating: 0, count: 2000))])
        }
        #expect(try client.get(b("m-ok")) == nil)
        try client.put(b("max"), b(String(Int64.max)))
        #expect(throws: ShmKVError.server(.overflow, "increment or decrement would overflow")) { try client.incr(b("max")) }
        try client.put(b("lead0"), b("007"))
        #expect(throws: ShmKVError.server(.notInteger, "value is not an integer or out of range")) { try client.incr(b("lead0")) }
        #expect(try client.get(b("big")) == nil)
        // Every refusal left the connection usable.
        #expect(try client.ping(b("still")) == b("still"))
    }

    @Test func maxClientsRefusesTheNextConnection() throws {
        let daemon = try Daemon(environment: ["SHMKV_LIMITS_MAX_CLIENTS": "1"])
        defer { daemon.stop() }
        let first = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
        #expect(throws: ShmKVError.server(.tooManyClients, "handshake refused: TOO_MANY_CLIENTS")) {
            _ = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
        }
        #expect(try first.ping() == [])
        first.close()
        // Once the first has gone, a new client gets in.
        var admitted = false
        for _ in 0..<100 where !admitted {
            if let c = try? Client(socketPath: daemon.socketPath, timeoutSeconds: 10) { admitted = (try? c.ping()) != nil } else { usleep(20_000) }
        }
        #expect(admitted)
    }

    @Test func mdbStatOpensTheDataDirectoryTheDaemonWrote() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
        try client.mput((0..<100).map { KeyValue(key: b("k\($0)"), value: b("v\($0)")) })
        let stat = try runProcess("/usr/bin/mdb_stat", ["-a", daemon.dataDirectory])
        #expect(stat.status == 0, "\(stat.stderr)")
        #expect(stat.stdout.contains("Status of kv"))
        #expect(stat.stdout.contains("Entries: 100"))
        #expect(stat.stdout.contains("Status of __meta"))
        // Files and socket are private to the owner.
        let attributes = try FileManager.default.attributesOfItem(atPath: daemon.dataDirectory)
        #expect((attributes[.posixPermissions] as? Int) == 0o700)
        let socketAttributes = try FileManager.default.attributesOfItem(atPath: daemon.socketPath)
        #expect((socketAttributes[.posixPermissions] as? Int) == 0o600)
    }

    @Test func aClientThatHangsUpAfterWritingStillGetsItsAnswersAndItsWritesLand() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        var frames: [UInt8] = []
        for i in 0..<200 { Request.put(key: b("h\(i)"), value: b("\(i)"), condition: .always).encode(requestID: UInt32(i), into: &frames) }
        // Half-close: the client says it will send nothing more, and waits for its 200 answers.
        let half = try RawConnection(unixPath: daemon.socketPath)
        half.send(Native.clientHello() + frames)
        shutdown(half.fd, Int32(SHUT_WR))
        let (bytes, closed) = half.readUntilClosed()
        #expect(closed)
        var replies: [Reply] = []
        try bytes.withUnsafeBytes { raw in
            var offset = Native.serverHelloSize
            while case .frame(let h, let body, let used) = try Native.decodeFrame(UnsafeRawBufferPointer(rebasing: raw[offset...]), maxFrameSize: 1 << 20) {
                replies.append(try Reply(header: h, body: body, answering: .put))
                offset += used
            }
        }
        #expect(replies.count == 200)
        #expect(replies.allSatisfy { $0.status == .ok })
        #expect(replies.map(\.requestID) == (0..<200).map { UInt32($0) })
        // Full hang-up right after sending: the daemon neither spins nor drops the queued writes.
        for i in 0..<200 { Request.put(key: b("g\(i)"), value: b("\(i)"), condition: .always).encode(requestID: UInt32(i), into: &frames) }
        do {
            let gone = try RawConnection(unixPath: daemon.socketPath)
            gone.send(Native.clientHello() + frames)
        }
        let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
        var landed = false
        for _ in 0..<200 where !landed {
            landed = try client.get(b("g199")) == b("199")
            if !landed { usleep(10_000) }
        }
        #expect(landed)
        #expect(try client.get(b("h199")) == b("199"))
    }

    @Test func theExampleProgramRunsAgainstTheDaemon() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let run = try runProcess(Products.path("kv-client-example"), [daemon.socketPath])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("greeting = hello from ShmKV"))
        #expect(run.stdout.contains("example:item:4 = 16"))
        #expect(run.stdout.contains("GET/s"))
    }

    @Test func periodicReaderCheckClearsTheSlotOfAKilledReader() throws {
        let daemon = try Daemon(environment: ["SHMKV_STORAGE_READER_CHECK_INTERVAL": "1"])
        defer { daemon.stop() }
        let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
        try client.put(b("k"), b("v"))
        // A reader process takes a slot in the shared lock file, then dies without releasing it.
        let reader = Process()
        reader.executableURL = URL(fileURLWithPath: Products.path("shmkv-probe"))
        reader.arguments = ["hold", daemon.dataDirectory, "kv"]
        let out = Pipe()
        reader.standardOutput = out
        try reader.runWithSignalsUnblocked()
        #expect(String(decoding: out.fileHandleForReading.readData(ofLength: 8), as: UTF8.self) == "holding\n")
        kill(reader.processIdentifier, SIGKILL)
        reader.waitUntilExit()
        var cleared: Int64 = 0
        for _ in 0..<100 where cleared == 0 {
            cleared = try client.stats().first { $0.name == "stale_readers_cleared" }?.value ?? 0
            if cleared == 0 { usleep(100_000) }
        }
        #expect(cleared >= 1)
    }

    @Test func runningOutOfDescriptorsShedsNewConnectionsAndKeepsServing() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
        try client.put(b("k"), b("v"))
        // Cut the running daemon's descriptor limit to a few more than it uses now (util-linux prlimit).
        let inUse = (try FileManager.default.contentsOfDirectory(atPath: "/proc/\(daemon.pid)/fd")).count
        let cut = try runProcess("/usr/bin/prlimit", ["--pid", String(daemon.pid), "--nofile=\(inUse + 4):\(inUse + 4)"])
        #expect(cut.status == 0, "\(cut.stderr)")
        var extra: [RawConnection] = []
        for _ in 0..<12 { extra.append(try RawConnection(unixPath: daemon.socketPath)) }
        // Each one is served (hello answered), closed by the daemon at once (EOF), or left waiting in
        // the backlog while the daemon backs off — and the existing client is served throughout.
        for connection in extra { connection.send(Native.clientHello()) }
        #expect(try client.get(b("k")) == b("v"))
        var waiting: [RawConnection] = []
        for connection in extra where connection.read(Native.serverHelloSize, timeoutSeconds: 1).count < Native.serverHelloSize {
            waiting.append(connection)
        }
        #expect(!waiting.isEmpty)
        // Give the descriptors back: close every connection that was served.
        extra.removeAll()
        // A connection that waited is now either served or was shed (EOF); none hangs.
        for connection in waiting {
            let rest = connection.read(Native.serverHelloSize, timeoutSeconds: 10)
            #expect(rest.count == Native.serverHelloSize || connection.readUntilClosed().closed)
        }
        #expect(try client.incr(b("n")) == 1)
    }

    @Test func aClientThatDoesNotReadIsThrottledAndStillGetsEveryReplyInOrder() throws {
        let daemon = try Daemon(environment: ["SHMKV_LIMITS_MAX_OUTPUT_BUFFER": "65536"])
        defer { daemon.stop() }
        let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 30)
        let value = [UInt8](repeating: 0x42, count: 64 * 1024)
        try client.put(b("big"), value)
        // 500 GETs of 64 KiB (32 MiB of replies) sent before reading any: the daemon stops reading the
        // socket while its unsent output is over the limit, and resumes as the client drains it.
        let raw = try RawConnection(unixPath: daemon.socketPath)
        raw.send(Native.clientHello())
        _ = raw.read(Native.serverHelloSize)
        var requests: [UInt8] = []
        for i in 0..<500 { Request.get(key: b("big")).encode(requestID: UInt32(i), into: &requests) }
        let frames = requests
        let sender = Thread { raw.send(frames) }
        sender.start()
        let frameSize = Native.headerSize + 4 + value.count
        for i in 0..<500 {
            let frame = raw.read(frameSize)
            guard frame.count == frameSize else { Issue.record("reply \(i) cut short"); return }
            let reply = try decodeOne(frame)
            #expect(reply.requestID == UInt32(i))
            if i == 0 || i == 499 {
                let body = try frame.withUnsafeBytes { raw -> ReplyBody in
                    guard case .frame(let h, let body, _) = try Native.decodeFrame(raw, maxFrameSize: 1 << 20) else { return .empty }
                    return try Reply(header: h, body: body, answering: .get).body
                }
                #expect(body == .value(value))
            }
        }
        #expect(try client.ping(b("ok")) == b("ok"))
    }

    @Test func aFullMapGivesAClearErrorAndLosesNothingAcknowledged() throws {
        let dir = TemporaryDirectory("shmkv-full")
        defer { dir.remove() }
        let dataDir = dir.file("data")
        var acknowledged: [String] = []
        do {
            // A map that may not grow (storage.maxMapSize = mapSize): see MapGrowthTests for one that does.
            let daemon = try Daemon(dataDirectory: dataDir, environment: ["SHMKV_STORAGE_MAP_SIZE": "1048576",
                                                                          "SHMKV_STORAGE_MAX_MAP_SIZE": "1048576"])
            defer { daemon.stop() }
            let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
            let value = [UInt8](repeating: 0x55, count: 8 * 1024)
            var refusal: ShmKVError?
            for i in 0..<1000 {
                do {
                    try client.put(b("fill-\(i)"), value)
                    acknowledged.append("fill-\(i)")
                } catch {
                    refusal = error
                    break
                }
            }
            guard case .server(let status, let message)? = refusal else {
                Issue.record("a 1 MiB map took 8 MiB of values without complaint")
                return
            }
            #expect(status == .storageError)
            #expect(message.contains("MDB_MAP_FULL"))
            // The daemon lives on: reads work, and deleting makes room for new writes.
            #expect(try client.get(b("fill-0")) == value)
            for key in acknowledged.suffix(20) { #expect(try client.delete(b(key))) }
            acknowledged.removeLast(20)
            try client.put(b("after-delete"), b("fits"))
            acknowledged.append("after-delete")
        }
        let env = try Environment(path: dataDir, options: .init(flags: [.readOnly], maxDatabases: 8))
        defer { env.close() }
        let kv = try env.openDatabase(named: "kv")
        let missing = try env.read { txn in try acknowledged.filter { try txn.get(kv, key: b($0)) == nil } }
        #expect(acknowledged.count > 50)
        #expect(missing.isEmpty)
    }

    @Test func tcpCanBeTurnedOff() throws {
        let daemon = try Daemon(extraArguments: ["--no-tcp"])
        defer { daemon.stop() }
        #expect(daemon.tcpPort == 0)
        #expect(try Client(socketPath: daemon.socketPath, timeoutSeconds: 10).ping() == [])
    }
}

func decodeOne(_ bytes: [UInt8]) throws -> Reply {
    try bytes.withUnsafeBytes { raw in
        guard case .frame(let header, let body, _) = try Native.decodeFrame(raw, maxFrameSize: 1 << 20) else {
            throw WireError.malformed("incomplete reply of \(bytes.count) bytes")
        }
        return try Reply(header: header, body: body, answering: .ping)
    }
}

func decodeTwo(_ bytes: [UInt8]) throws -> (Reply, Reply) {
    try bytes.withUnsafeBytes { raw in
        guard case .frame(let h1, let b1, let used) = try Native.decodeFrame(raw, maxFrameSize: 1 << 20),
              case .frame(let h2, let b2, _) = try Native.decodeFrame(UnsafeRawBufferPointer(rebasing: raw[used...]), maxFrameSize: 1 << 20)
        else { throw WireError.malformed("incomplete replies") }
        return (try Reply(header: h1, body: b1, answering: .ping), try Reply(header: h2, body: b2, answering: .ping))
    }
}
