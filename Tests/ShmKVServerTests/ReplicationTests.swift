import Foundation
import RDB
import ShmKV
import TestSupport
import Testing
import Wire

/// shmkvd as a replica of Debian's redis-server: the full sync of every type (both transfers), writes
/// on the primary during it, a cut link and a killed replica resuming with a partial resync, a
/// restarted primary with a full one; compared key by key with the primary after each.
@Suite(.serialized) struct ReplicationTests {
    /// A redis-server primary on a free TCP port (and its Unix socket for the test's own connections).
    static func primary(port: Int = freeTCPPort(), diskless: Bool = true) throws -> (RedisServer, Int) {
        let redis = try RedisServer(extraArguments: ["--port", String(port), "--bind", "127.0.0.1", "--repl-diskless-sync", diskless ? "yes" : "no",
                                                     "--repl-diskless-sync-delay", "0"])
        return (redis, port)
    }

    static func replica(of port: Int, dataDirectory: String? = nil) throws -> Daemon {
        try Daemon(dataDirectory: dataDirectory, environment: ["SHMKV_REPLICATION_PRIMARY": "127.0.0.1:\(port)"])
    }

    /// A field of INFO replication (or stats).
    static func info(_ c: RESPTestConnection, _ field: String, section: String = "replication") throws -> String? {
        guard case .bulk(let text) = try c.call("INFO", section) else { return nil }
        for line in String(decoding: text, as: UTF8.self).split(separator: "\r\n") where line.hasPrefix(field + ":") {
            return String(line.dropFirst(field.count + 1))
        }
        return nil
    }

    /// Waits (at most `seconds`) until `condition` holds, else fails naming `what`.
    static func wait(_ what: String, seconds: Double = 60, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while try !condition() {
            guard Date() < deadline else { throw DaemonError.didNotStart(status: -1, stderr: "not within \(seconds) s: \(what)") }
            usleep(50_000)
        }
    }

    /// Waits until the replica's link is up and it has applied everything the primary has sent.
    static func caughtUp(_ primary: RESPTestConnection, _ replica: RESPTestConnection) throws {
        try wait("the replica catches up with the primary") {
            guard try info(replica, "master_link_status") == "up", let theirs = try info(primary, "master_repl_offset") else { return false }
            return try info(replica, "slave_repl_offset") == theirs
        }
    }

    static func load(_ c: RESPTestConnection, _ image: KeyspaceImage) throws {
        let commands = RedisDataset.commands(image)
        for start in stride(from: 0, to: commands.count, by: 300) {
            for reply in try c.pipeline(Array(commands[start..<min(start + 300, commands.count)])) {
                if case .error(let message) = reply { Issue.record("redis-server: \(message)") }
            }
        }
    }

    static func expectSame(_ primary: RESPTestConnection, _ replica: RESPTestConnection, seed: UInt64, _ when: String) throws {
        let theirs = try primary.image(), ours = try replica.image()
        let difference = RedisDataset.difference(ours, theirs)
        #expect(difference == nil, "\(when), seed \(seed): \(difference ?? "")")
    }

    /// Random writes to the primary until `stop`: strings, hashes, lists, deletes and deadlines over a few
    /// hundred keys of two databases.
    final class Writer: @unchecked Sendable {
        // Invariant: what both threads touch is in `box`, under its lock.
        private let thread: Thread

        init(socketPath: String, seed: UInt64) throws {
            let c = try RESPTestConnection(unixPath: socketPath)
            let box = Box()
            thread = Thread {
                var random = SplitMix64(seed: seed)
                while true {
                    var batch: [[[UInt8]]] = []
                    for _ in 0..<50 {
                        let key = Array("w\(Int.random(in: 0..<300, using: &random))".utf8)
                        let value = Array(String(Int.random(in: 0..<1_000_000, using: &random)).utf8)
                        switch Int.random(in: 0..<7, using: &random) {
                        case 0: batch.append([Array("SELECT".utf8), Array((Bool.random(using: &random) ? "0" : "3").utf8)])
                        case 1: batch.append([Array("DEL".utf8), key])
                        case 2: batch.append([Array("PEXPIRE".utf8), key, Array("3600000".utf8)])
                        case 3: batch.append([Array("HSET".utf8), key + [0x68], value, key])
                        case 4: batch.append([Array("RPUSH".utf8), key + [0x6c], value])
                        default: batch.append([Array("SET".utf8), key, value])
                        }
                    }
                    _ = try? c.pipeline(batch)
                    box.lock.lock()
                    box.sent += batch.count
                    let stop = box.stop
                    box.lock.unlock()
                    if stop { break }
                }
                box.lock.lock(); box.done = true; box.lock.unlock()
            }
            self.box = box
            thread.start()
        }

        private final class Box: @unchecked Sendable {
            let lock = NSLock()
            var stop = false, done = false, sent = 0
        }
        private let box: Box

        var count: Int { box.lock.lock(); defer { box.lock.unlock() }; return box.sent }

        func finish() throws {
            box.lock.lock(); box.stop = true; box.lock.unlock()
            try ReplicationTests.wait("the writer thread ends", seconds: 30) { box.lock.lock(); defer { box.lock.unlock() }; return box.done }
        }
    }

    @Test(arguments: [true, false])
    func fullSyncWithWritesDuringIt(diskless: Bool) throws {
        let seed = UInt64(Date().timeIntervalSince1970 * 1000) ^ (diskless ? 1 : 2)
        let (redis, port) = try Self.primary(diskless: diskless)
        let primary = try RESPTestConnection(unixPath: redis.socketPath)
        try Self.load(primary, RedisDataset.make(seed: seed, keysPerDatabase: 120))
        _ = try primary.call("FUNCTION", "LOAD", "#!lua name=replicated\nredis.register_function('triple', function(keys, args) return args[1] * 3 end)")
        // Writes before, during and after the sync.
        let writer = try Writer(socketPath: redis.socketPath, seed: seed)
        let daemon = try Self.replica(of: port)
        defer { daemon.stop() }
        let replica = try RESPTestConnection(unixPath: daemon.socketPath)
        try Self.wait("the full sync completes") { try Self.info(replica, "shmkv_full_syncs") == "1" }
        try Self.wait("writes after the sync", seconds: 30) { writer.count > 3000 }
        try writer.finish()
        try Self.caughtUp(primary, replica)
        try Self.expectSame(primary, replica, seed: seed, diskless ? "diskless transfer" : "transfer from disk")
        #expect(try replica.call("FCALL", "triple", "0", "14") == .integer(42))
        // A replica's own clients read, and may not write.
        #expect(try replica.call("SET", "mine", "x") == .error("READONLY You can't write against a read only replica."))
        guard case .error(let scripted) = try replica.call("EVAL", "return redis.call('set', 'mine', 'x')", "0") else {
            Issue.record("a script's write on a replica did not fail"); return
        }
        #expect(scripted.hasPrefix("READONLY You can't write against a read only replica."), "\(scripted)")
        #expect(try replica.call("EVAL", "return redis.call('get', 'mine')", "0") == .null)
        do {
            _ = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10).put("mine", "x")
            Issue.record("a native write on a replica did not fail")
        } catch {
            #expect("\(error)".contains("READONLY"), "\(error)")
        }
        #expect(try replica.call("ROLE") == .array([.bulk(Array("slave".utf8)), .bulk(Array("127.0.0.1".utf8)), .integer(Int64(port)),
                                                   .bulk(Array("connected".utf8)), .integer(Int64(try Self.info(replica, "slave_repl_offset")!)!)]))
        #expect(try Self.info(primary, "sync_full", section: "stats") == "1")
        // A command of the stream that ShmKV lacks fails here, counted and named.
        _ = try primary.call("XGROUP", "CREATE", "missing-stream", "g", "$", "MKSTREAM")
        try Self.caughtUp(primary, replica)
        #expect(try Self.info(replica, "shmkv_replicated_commands_failed") == "1")
        #expect(try Self.info(replica, "shmkv_replicated_last_failure")?.hasPrefix("XGROUP: -ERR unknown command") == true)
        // replica-read-only no: the replica's own clients may write (what they write is theirs).
        #expect(try replica.call("CONFIG", "SET", "replica-read-only", "no") == .simple("OK"))
        #expect(try replica.call("SET", "mine", "x") == .simple("OK"))
        #expect(try replica.call("CONFIG", "GET", "replica-read-only") == .array([.bulk(Array("replica-read-only".utf8)), .bulk(Array("no".utf8))]))
    }

    @Test func cutLinkAndKilledReplicaResumeWithPartialSyncs() throws {
        let seed = UInt64(Date().timeIntervalSince1970 * 1000) ^ 3
        let (redis, port) = try Self.primary()
        let primary = try RESPTestConnection(unixPath: redis.socketPath)
        try Self.load(primary, RedisDataset.make(seed: seed, keysPerDatabase: 40))
        let directory = TemporaryDirectory("replica")
        defer { directory.remove() }
        var daemon = try Self.replica(of: port, dataDirectory: directory.file("store"))
        var replica = try RESPTestConnection(unixPath: daemon.socketPath)
        try Self.caughtUp(primary, replica)

        // The link cut by the primary: the replica resumes where it was.
        var writer = try Writer(socketPath: redis.socketPath, seed: seed)
        try Self.wait("writes", seconds: 30) { writer.count > 1000 }
        _ = try primary.call("CLIENT", "KILL", "TYPE", "replica")
        try Self.wait("writes while the link is down", seconds: 30) { writer.count > 3000 }
        try writer.finish()
        try Self.caughtUp(primary, replica)
        #expect(try Self.info(primary, "sync_partial_ok", section: "stats") == "1")
        #expect(try Self.info(primary, "sync_full", section: "stats") == "1")
        try Self.expectSame(primary, replica, seed: seed, "after the cut link")

        // The replica killed (SIGKILL) under load, and started again on its store: a partial resync from
        // the offset committed with its last write, nothing applied twice or skipped.
        writer = try Writer(socketPath: redis.socketPath, seed: seed ^ 1)
        try Self.wait("writes", seconds: 30) { writer.count > 2000 }
        daemon.stop(signal: SIGKILL)
        try Self.wait("writes while the replica is down", seconds: 30) { writer.count > 4000 }
        daemon = try Self.replica(of: port, dataDirectory: directory.file("store"))
        defer { daemon.stop() }
        replica = try RESPTestConnection(unixPath: daemon.socketPath)
        try Self.wait("writes after the restart", seconds: 30) { writer.count > 6000 }
        try writer.finish()
        try Self.caughtUp(primary, replica)
        #expect(try Self.info(primary, "sync_partial_ok", section: "stats") == "2")
        #expect(try Self.info(primary, "sync_full", section: "stats") == "1")
        try Self.expectSame(primary, replica, seed: seed, "after the replica's restart")

        // REPLICAOF NO ONE, a write of its own: the dataset departs from the primary's, so following it
        // again is a full sync (the local key goes), not a resume.
        #expect(try replica.call("REPLICAOF", "NO", "ONE") == .simple("OK"))
        #expect(try replica.call("ROLE") == .array([.bulk(Array("master".utf8)), .integer(0), .array([])]))
        #expect(try replica.call("SET", "local", "x") == .simple("OK"))
        #expect(try replica.call("REPLICAOF", "127.0.0.1", String(port)) == .simple("OK"))
        try Self.wait("a full sync after REPLICAOF") { try Self.info(replica, "shmkv_full_syncs") == "1" }
        try Self.caughtUp(primary, replica)
        #expect(try Self.info(primary, "sync_full", section: "stats") == "2")
        try Self.expectSame(primary, replica, seed: seed, "after REPLICAOF NO ONE and back")
    }

    @Test func restartedPrimaryMeansAFullResync() throws {
        let seed = UInt64(Date().timeIntervalSince1970 * 1000) ^ 4
        let port = freeTCPPort()
        var redis = try Self.primary(port: port).0
        var primary = try RESPTestConnection(unixPath: redis.socketPath)
        try Self.load(primary, RedisDataset.make(seed: seed, keysPerDatabase: 30))
        let daemon = try Self.replica(of: port)
        defer { daemon.stop() }
        let replica = try RESPTestConnection(unixPath: daemon.socketPath)
        try Self.caughtUp(primary, replica)
        // A primary without persistence comes back empty, with a new history: the replica's dataset is
        // replaced by the new one (keys it held that the new primary lacks are gone).
        redis.stop()
        // replica-serve-stale-data no: while the link is down, reads answer MASTERDOWN.
        #expect(try replica.call("CONFIG", "SET", "replica-serve-stale-data", "no") == .simple("OK"))
        try Self.wait("the link goes down") { try Self.info(replica, "master_link_status") == "down" }
        #expect(try replica.call("GET", "x") == .error("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."))
        #expect(try replica.call("CONFIG", "SET", "replica-serve-stale-data", "yes") == .simple("OK"))
        redis = try Self.primary(port: port).0
        primary = try RESPTestConnection(unixPath: redis.socketPath)
        try Self.load(primary, RedisDataset.make(seed: seed ^ 5, keysPerDatabase: 20, databases: [1]))
        try Self.wait("a second full sync") { try Self.info(replica, "shmkv_full_syncs") == "2" }
        try Self.caughtUp(primary, replica)
        try Self.expectSame(primary, replica, seed: seed, "after the primary's restart")
    }

    @Test func localStoreSeesThePrimarysWrites() throws {
        let (redis, port) = try Self.primary()
        let primary = try RESPTestConnection(unixPath: redis.socketPath)
        let daemon = try Self.replica(of: port)
        defer { daemon.stop() }
        let replica = try RESPTestConnection(unixPath: daemon.socketPath)
        try Self.caughtUp(primary, replica)
        let store = try LocalStore(directory: daemon.dataDirectory)
        // The SET is sent without waiting for its reply (a reply is read when the connection falls quiet).
        let raw = try RawConnection(unixPath: redis.socketPath)
        var lags: [Double] = []
        // The first of 21 writes warms the reader up and is not counted.
        for i in 0..<21 {
            let value = Array("v\(i)-\(UInt64.random(in: 0 ... .max))".utf8)
            let start = Date()
            raw.send(Array("*3\r\n$3\r\nSET\r\n$7\r\nwatched\r\n$\(value.count)\r\n".utf8) + value + [13, 10])
            // Polled every 20 µs (a bounded wait: 30 s).
            while try store.get("watched") != value {
                guard Date().timeIntervalSince(start) < 30 else { Issue.record("LocalStore did not see write \(i) within 30 s"); return }
                usleep(20)
            }
            if i > 0 { lags.append(Date().timeIntervalSince(start) * 1e6) }
            #expect(raw.readAvailable(quietMilliseconds: 20) == Array("+OK\r\n".utf8))
        }
        lags.sort()
        print("replication: a primary's SET seen by LocalStore after \(Int(lags[10])) µs (median of 20), \(Int(lags[19])) µs at most")
    }
}
