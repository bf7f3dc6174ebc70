import Foundation
import ShmKV
import TestSupport
import Testing
import Wire

@Suite("LocalStore and changes against the real daemon")
struct LocalStoreTests {
    @Test("LocalStore reads a value as soon as the Client's put is acknowledged, zero-copy or copied, from one snapshot")
    func readsAfterAcknowledgedPut() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
        try client.put("warm", "up")
        let store = try LocalStore(directory: daemon.dataDirectory)
        for i in 0..<300 {
            let value = bytes("value-\(i)-" + String(repeating: "x", count: i))
            #expect(try client.put(bytes("k\(i)"), value))
            #expect(try store.get(bytes("k\(i)")) == value)
            #expect(try store.withValue(bytes("k\(i)")) { $0?.count } == value.count)
        }
        #expect(try store.get("missing") == nil)
        #expect(try !store.contains(bytes("missing")))
        #expect(try store.scan(prefix: bytes("k1"), limit: 3).map { String(decoding: $0.key, as: UTF8.self) } == ["k1", "k10", "k100"])
        #expect(try store.scan(from: bytes("k2"), to: bytes("k3")).count == 111)
        let (count, warm, txnID) = try store.read { snapshot in
            (try snapshot.count(), try snapshot.get(bytes("warm")), snapshot.transactionID)
        }
        #expect(count == 301 && warm == bytes("up") && txnID > 0)
        let stats = try store.statistics()
        #expect(stats.keys == 301)
        #expect(stats.lastSequence == 301)
        #expect(stats.ringPath == daemon.directory.file("shmkvd.ring"))
        // Another process (not the test, not the daemon) sees it too.
        let probe = try runProcess(Products.path("shmkv-probe"), ["local-get", daemon.dataDirectory, "k7"])
        #expect(probe.stdout == "value-7-xxxxxxx\n")
    }

    @Test("a watcher process receives the put and the delete, in order, filtered by prefix")
    func watcherProcessSeesPutAndDelete() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
        let watcher = try ChildProcess(Products.path("shmkv-probe"), ["local-watch", daemon.dataDirectory, "user:", "3"])
        #expect(watcher.readLine() == "watching")
        try client.put("other", "ignored")
        try client.put("user:1", "a")
        #expect(try client.delete("user:1"))
        try client.mput([KeyValue(key: bytes("user:2"), value: bytes("b")), KeyValue(key: bytes("zz"), value: bytes("c"))])
        #expect(watcher.readLine() == "put 2 user:1")
        #expect(watcher.readLine() == "delete 3 user:1")
        #expect(watcher.readLine() == "put 4 user:2")
        #expect(watcher.wait() == 0)
    }

    @Test("the async changes sequence delivers events and ends when its task is cancelled")
    func asyncChanges() async throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
        let store = try LocalStore(directory: daemon.dataDirectory)
        let stream = try store.changes(prefix: bytes("a"))
        try client.put("a1", "x")
        try client.put("b1", "x")
        #expect(try client.delete("a1"))
        var seen: [String] = []
        for try await event in stream {
            guard case .change(let c) = event else { continue }
            seen.append("\(c.kind) \(String(decoding: c.key, as: UTF8.self))")
            if seen.count == 2 { break }
        }
        #expect(seen == ["put a1", "delete a1"])
        let waiting = Task { () -> Int in
            var n = 0
            for try await _ in try store.changes() { n += 1 }
            return n
        }
        try await Task.sleep(for: .milliseconds(50))
        waiting.cancel()
        #expect(try await waiting.value == 0)
    }

    @Test("a daemon restart is a new epoch; numbering continues; LocalStore reads while the daemon is down")
    func restartIsNewEpoch() throws {
        let first = try Daemon()
        // The second daemon reuses the first one's directory: remove it only at the very end.
        defer { first.directory.remove() }
        let dataDirectory = first.dataDirectory
        let ring = first.directory.file("shmkvd.ring")
        let client = try Client(socketPath: first.socketPath, timeoutSeconds: 10)
        try client.put("k", "1")
        let store = try LocalStore(directory: dataDirectory)
        let subscriber = try store.subscribe()
        let firstEpoch = subscriber.epoch
        try client.put("k", "2")
        guard case .change(let c)? = subscriber.next(timeoutMilliseconds: 10_000) else { Issue.record("no change"); return }
        #expect(c.sequence == 2)
        client.close()
        #expect(first.stop() == 0)
        // Daemon down: local reads go on.
        #expect(try store.get("k") == bytes("2"))
        let second = try Daemon(dataDirectory: dataDirectory, environment: ["SHMKV_RING_PATH": ring])
        defer { second.stop() }
        let event = subscriber.next(timeoutMilliseconds: 10_000)
        #expect(event == .resync(Resync(reason: .newEpoch, missed: 3..<3)))
        #expect(subscriber.epoch != firstEpoch)
        let again = try Client(socketPath: second.socketPath, timeoutSeconds: 10)
        try again.put("k", "3")
        guard case .change(let d)? = subscriber.next(timeoutMilliseconds: 10_000) else { Issue.record("no change after restart"); return }
        #expect(d.sequence == 3)
        #expect(try store.get("k") == bytes("3"))
    }

    @Test("a reader process SIGKILLed inside a LocalStore snapshot does not pin its slot past the daemon's reader check")
    func killedReaderSlotIsCleared() throws {
        let daemon = try Daemon(extraArguments: [], environment: ["SHMKV_STORAGE_READER_CHECK_INTERVAL": "1"])
        defer { daemon.stop() }
        let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
        try client.put("k", "v")
        let holder = try ChildProcess(Products.path("shmkv-probe"), ["local-hold", daemon.dataDirectory])
        #expect(holder.readLine() == "holding")
        // `mdb_stat -r` lists the reader table (pid, thread, txnid) without clearing anything.
        let pid = " \(holder.pid) "
        #expect(try runProcess("/usr/bin/mdb_stat", ["-r", daemon.dataDirectory]).stdout.contains(pid))
        holder.signal(SIGKILL)
        holder.wait()
        var cleared = false
        for _ in 0..<100 where !cleared {
            usleep(50_000)
            try client.put("tick", "x")  // the writer runs its reader check between batches
            cleared = try stat(client, "stale_readers_cleared") >= 1
        }
        #expect(cleared)
        #expect(try !runProcess("/usr/bin/mdb_stat", ["-r", daemon.dataDirectory]).stdout.contains(pid))
    }

    @Test("py-lmdb (Debian python3-lmdb) opened on the data directory reads the same values")
    func pyLMDBReadsOurFiles() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
        try client.put("alpha", "1")
        try client.put(bytes("bin"), [0, 255, 10, 13])
        _ = try client.incr(bytes("n"), by: 41)
        try client.put(bytes("ttl"), bytes("t"), expiry: .after(milliseconds: 600_000))
        // The reader docs/ARCHITECTURE.md shows: a key lives unless its deadline in __expires has passed.
        let script = """
        import lmdb, sys, time
        env = lmdb.open(sys.argv[1], readonly=True, max_dbs=8)
        kv = env.open_db(b"kv", create=False)
        meta = env.open_db(b"__meta", create=False)
        expires = env.open_db(b"__expires", create=False)
        with env.begin() as txn:
            for k, v in txn.cursor(db=kv):
                d = txn.get(k, db=expires)
                live = d is None or int.from_bytes(d, "big") >= time.time_ns() // 1_000_000
                print(k.decode(), v.hex(), "live" if live else "expired", "deadline" if d else "")
            print("last_sequence", txn.get(b"last_sequence", db=meta).decode())
        """
        let result = try runProcess("/usr/bin/python3", ["-c", script, daemon.dataDirectory])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "alpha 31 live \nbin 00ff0a0d live \nn 3431 live \nttl 74 live deadline\nlast_sequence 4\n")
    }

    @Test("Client.watch streams changes over the socket, from now or from a sequence; a watching connection takes only PING")
    func remoteWatch() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let client = try Client(host: daemon.tcpHost, port: daemon.tcpPort, timeoutSeconds: 10)
        try client.put("p:0", "before")
        let watch = try client.watch(prefix: bytes("p:"))
        #expect(watch.startSequence == 2)
        try client.put("q:1", "skipped")
        try client.put("p:1", "x")
        #expect(try client.delete("p:0"))
        guard case .change(let put)? = try watch.next(timeoutMilliseconds: 10_000),
              case .change(let delete)? = try watch.next(timeoutMilliseconds: 10_000) else {
            Issue.record("no events")
            return
        }
        #expect(put.kind == .put && put.sequence == 3 && put.key == bytes("p:1") && put.transactionID > 0)
        #expect(delete.kind == .delete && delete.sequence == 4 && delete.key == bytes("p:0"))
        // From sequence 1: the history still in the ring, filtered.
        let replay = try client.watch(prefix: bytes("p:"), from: 1)
        var replayed: [String] = []
        while replayed.count < 3, let event = try replay.next(timeoutMilliseconds: 10_000) {
            if case .change(let c) = event { replayed.append("\(c.sequence) \(c.kind) \(String(decoding: c.key, as: UTF8.self))") }
        }
        #expect(replayed == ["1 put p:0", "3 put p:1", "4 delete p:0"])
        #expect(try replay.next(timeoutMilliseconds: 50) == nil)
        watch.close()
        #expect(throws: ShmKVError.self) { try watch.next(timeoutMilliseconds: 0) }
    }

    @Test("a watching connection answers other requests with BAD_REQUEST and stays open")
    func watchingConnectionRefusesOtherRequests() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let raw = try RawConnection(unixPath: daemon.socketPath)
        raw.send(Native.clientHello())
        #expect(raw.read(Native.serverHelloSize).count == Native.serverHelloSize)
        raw.send(Request.watch(prefix: [], from: 0).encoded(requestID: 5) + Request.get(key: bytes("k")).encoded(requestID: 6)
                 + Request.ping(payload: bytes("hi")).encoded(requestID: 7))
        let ok = raw.read(Native.headerSize + 16)
        #expect(ok[4] == Status.ok.rawValue)
        let header = raw.read(Native.headerSize)
        #expect(header[4] == Status.badRequest.rawValue)
        let length = Int(header[0]) | Int(header[1]) << 8
        _ = raw.read(length - 6)
        let pong = raw.read(Native.headerSize + 2)
        #expect(pong[4] == Status.ok.rawValue && Array(pong.suffix(2)) == bytes("hi"))
        let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
        try client.put("k", "v")
        let event = raw.read(Native.headerSize)
        #expect(event[4] == WatchEvent.frameCode)
    }

    @Test("MDB_MAP_RESIZED from another process's growth is adopted and the read retried")
    func mapResizedIsAdopted() throws {
        let directory = TemporaryDirectory("local-resize")
        defer { directory.remove() }
        let probe = Products.path("shmkv-probe")
        #expect(try runProcess(probe, ["grow", directory.path, "kv", "0", "1"]).status == 0)
        #expect(try runProcess(probe, ["grow", directory.path, "__meta", "0", "1"]).status == 0)
        let store = try LocalStore(directory: directory.path)
        #expect(try store.get("grow-0") == nil)
        let grown = try runProcess(probe, ["grow", directory.path, "kv", "4", "64"])
        #expect(grown.status == 0, "\(grown.stdout)")
        #expect(try store.get("grow-63")?.count == 64 * 1024)
        #expect(try store.statistics().mapSize == 64 << 20)
    }

    @Test("a directory with no store, or no daemon run yet, gets a clear error")
    func clearErrors() throws {
        let directory = TemporaryDirectory("local-none")
        defer { directory.remove() }
        #expect(throws: ShmKVError.storage(.system(ENOENT))) { try LocalStore(directory: directory.file("missing")) }
        let probe = Products.path("shmkv-probe")
        #expect(try runProcess(probe, ["grow", directory.path, "kv", "0", "1"]).status == 0)
        #expect(try runProcess(probe, ["grow", directory.path, "__meta", "0", "1"]).status == 0)
        let store = try LocalStore(directory: directory.path)
        do {
            _ = try store.subscribe()
            Issue.record("subscribed with no ring recorded")
        } catch {
            #expect("\(error)".contains("no ring recorded"))
        }
    }
}

@Suite("Examples")
struct ExampleTests {
    @Test("the embedded reader and the change watcher examples run against a real daemon")
    func examplesRun() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
        try client.put("user:1", "ada")
        let reader = try runProcess(Products.path("embedded-reader-example"), [daemon.dataDirectory])
        #expect(reader.status == 0, "\(reader.stdout)")
        #expect(reader.stdout.contains("1 keys") && reader.stdout.contains("user:1: 3 bytes") && reader.stdout.contains("reads/s"))
        let watcher = try ChildProcess(Products.path("change-watcher-example"), [daemon.dataDirectory, "user:", "1"])
        #expect(watcher.readLine()?.hasSuffix("1 keys now") == true)
        try client.put("user:2", "grace")
        #expect(watcher.readLine() == "#2 put user:2 = grace")
        #expect(watcher.wait() == 0)
    }
}

private func stat(_ client: Client, _ name: String) throws -> Int64 {
    try client.stats().first { $0.name == name }?.value ?? -1
}
