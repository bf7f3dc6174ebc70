import Foundation
import ShmKV
import TestSupport
import Wire
import Testing

@Suite("Expiry: Redis's commands, replies and errors; lazy and active expiry on every read path")
final class ExpiryTests {
    @Test("SET's expiry options, SETEX, PSETEX, GETEX, EXPIRE family, TTL family, PERSIST answer as redis-server does")
    func commandsAnswerAsRedis() throws {
        let daemon = try Daemon()
        defer { _ = daemon.stop() }
        let redis = try RedisServer()
        let twin = try Twin(daemon, redis)
        let now = Int64(Date().timeIntervalSince1970)
        let script: [[String]] = [
            ["SET", "k", "v", "EX", "100"], ["SET", "k", "v", "PX", "100000"], ["SET", "k", "v", "EXAT", String(now + 100)],
            ["SET", "k", "v", "PXAT", String((now + 100) * 1000)], ["SET", "k", "v", "KEEPTTL"],
            ["SET", "k", "v", "EX", "0"], ["SET", "k", "v", "EX", "-1"], ["SET", "k", "v", "PX", "9223372036854775807"],
            ["SET", "k", "v", "EX", "9223372036854775"], ["SET", "k", "v", "EX", "9223372036854776"], ["SET", "k", "v", "PXAT", "0"],
            ["SET", "k", "v", "EX", "10", "PX", "10"], ["SET", "k", "v", "KEEPTTL", "EX", "1"], ["SET", "k", "v", "EX", "1", "KEEPTTL"],
            ["SET", "k", "v", "EX", "abc"], ["SET", "k", "v", "EX"], ["SET", "k", "v", "EX", "1.5"], ["SET", "k", "v", "NX", "NX"],
            ["SET", "k", "v", "GET", "GET"], ["SET", "k", "v", "KEEPTTL", "KEEPTTL"], ["SET", "k", "v", "EX", "10", "EX", "20"],
            ["SET", "k", "v", "PERSIST"], ["SET", "k", "w", "GET", "NX"], ["SET", "k", "w", "XX", "GET", "EX", "50"],
            ["SETEX", "s", "0", "v"], ["SETEX", "s", "-5", "v"], ["SETEX", "s", "abc", "v"], ["SETEX", "s", "9223372036854775", "v"],
            ["PSETEX", "s", "0", "v"], ["PSETEX", "s", "9223372036854775807", "v"], ["SETEX", "s", "100", "v"], ["PSETEX", "p", "100000", "v"],
            ["GETEX", "k", "KEEPTTL"], ["GETEX", "k", "PERSIST", "EX", "10"], ["GETEX", "k", "EX", "10", "EX", "20"],
            ["GETEX", "k", "EX", "0"], ["GETEX", "nokey", "EX", "10"], ["GETEX", "k", "EX", "abc"], ["GETEX", "k", "FOO"],
            ["GETEX", "k", "NX"], ["GETEX", "k"], ["GETEX", "k", "PERSIST"], ["GETEX", "k", "PXAT", "1"], ["EXISTS", "k"],
            ["SET", "e", "v"], ["EXPIRE", "e", "10", "FOO"], ["EXPIRE", "e", "10", "NX", "XX"], ["EXPIRE", "e", "10", "GT", "LT"],
            ["EXPIRE", "e", "10", "NX", "GT"], ["EXPIRE", "e", "9223372036854775807"], ["EXPIRE", "e", "9223372036854775"],
            ["PEXPIRE", "e", "9223372036854775807"], ["EXPIREAT", "e", "9223372036854775807"], ["EXPIRE", "e", "abc"],
            ["EXPIRE", "e", "100", "XX"], ["EXPIRE", "e", "100", "GT"], ["EXPIRE", "e", "100", "LT"], ["EXPIRE", "e", "100", "XX", "LT"],
            ["EXPIRE", "e", "100", "NX"], ["EXPIRE", "e", "50", "XX"], ["EXPIRE", "e", "40", "GT"], ["EXPIRE", "e", "60", "GT"],
            ["EXPIRE", "e", "70", "LT"], ["EXPIRE", "e", "30", "XX", "LT"], ["EXPIRE", "e", "100", "XX", "GT"],
            ["EXPIRE", "nokey", "10"], ["PERSIST", "e"], ["PERSIST", "e"], ["PERSIST", "nokey"],
            ["EXPIRE", "e", "-1"], ["EXISTS", "e"], ["SET", "e", "v"], ["PEXPIREAT", "e", "0"], ["EXISTS", "e"],
            ["SET", "e", "v"], ["EXPIREAT", "e", "-5"], ["GET", "e"], ["TTL", "nokey"], ["PTTL", "nokey"],
            ["EXPIRETIME", "nokey"], ["PEXPIRETIME", "nokey"], ["SET", "n", "1"], ["TTL", "n"], ["PTTL", "n"], ["EXPIRETIME", "n"],
            ["EXPIREAT", "n", String(now + 500)], ["EXPIRETIME", "n"], ["PEXPIRETIME", "n"],
            ["INCR", "n"], ["EXPIRETIME", "n"], ["APPEND", "n", "0"], ["EXPIRETIME", "n"], ["SET", "n", "x", "KEEPTTL"],
            ["EXPIRETIME", "n"], ["SET", "n", "x"], ["TTL", "n"], ["MSET", "n", "1"], ["TTL", "n"],
            ["TOUCH", "n", "nokey", "k", "n"], ["TTL", "k", "x"], ["PERSIST"], ["EXPIRE", "k"],
            // The largest deadlines: seconds rounded without overflow (found by fuzz-server).
            ["SET", "far", "v"], ["PEXPIREAT", "far", "9223372036854775807"], ["EXPIRETIME", "far"], ["PEXPIRETIME", "far"],
            ["PEXPIREAT", "far", "9223372036854775500"], ["EXPIRETIME", "far"], ["PEXPIREAT", "far", "9223372036854775499"],
            ["EXPIRETIME", "far"], ["MULTI"], ["EXPIRETIME", "far"], ["PEXPIRETIME", "far"], ["EXEC"], ["DEL", "far"],
        ]
        for words in script { try twin.expectSame(words) }
        // Times to live as they run down, within a second of each other.
        for words in [["TTL", "s"], ["PTTL", "p"], ["TTL", "k"]] { try twin.expectSame(words, tolerance: 1000) }
        try twin.expectSame(["PEXPIRETIME", "s"], tolerance: 1000)
        try twin.expectSame(["DBSIZE"])
        // INFO keyspace counts the keys with a deadline (s and p), as redis-server does.
        for reply in [try twin.both(["INFO", "keyspace"])].flatMap({ [$0.daemon, $0.redis] }) {
            guard case .bulk(let text) = reply else { Issue.record("INFO: \(reply)"); continue }
            #expect(String(decoding: text, as: UTF8.self).contains("keys=3,expires=2,"), "\(String(decoding: text, as: UTF8.self))")
        }
    }

    @Test("a key past its deadline is gone from GET, MGET, EXISTS, STRLEN, KEYS, SCAN, DBSIZE and writes see it absent")
    func lazyExpiryOnEveryReadPath() throws {
        let daemon = try Daemon()
        defer { _ = daemon.stop() }
        let redis = try RedisServer()
        let twin = try Twin(daemon, redis)
        for words in [["SET", "live", "1"], ["SET", "short", "abc", "PX", "300"], ["SET", "n", "5", "PX", "300"],
                      ["SET", "cond", "x", "PX", "300"]] {
            try twin.expectSame(words)
        }
        // Until both have passed the deadlines (PTTL does not delete a key in either server).
        #expect(try eventually(seconds: 10) {
            let (a, b) = try twin.both(["PTTL", "cond"])
            return a == .integer(-2) && b == .integer(-2)
        })
        let script: [[String]] = [
            ["GET", "short"], ["MGET", "short", "live"], ["EXISTS", "short", "live"], ["STRLEN", "short"], ["KEYS", "*"],
            ["SCAN", "0", "COUNT", "100"], ["DBSIZE"], ["TTL", "short"], ["GETRANGE", "short", "0", "-1"],
            ["INCR", "n"], ["TTL", "n"], ["SET", "cond", "y", "NX"], ["TTL", "cond"], ["GETDEL", "short"], ["DEL", "short"],
        ]
        for words in script { try twin.expectSame(words) }
    }

    @Test("the writer deletes due keys without any read (active expiry), announcing each as expired; INFO counts them")
    func activeExpiryDeletesAndAnnounces() throws {
        let daemon = try Daemon()
        defer { _ = daemon.stop() }
        let subscriber = try RawConnection(unixPath: daemon.socketPath)
        let client = try RESPClient(address: .unix(path: daemon.socketPath), timeoutSeconds: 10)
        subscriber.send(respCommand("SUBSCRIBE", "__keyevent@0__:expired"))
        var commands: [[[UInt8]]] = []
        for i in 0..<50 { commands.append(["SET", "k\(i)", "v", "PX", "\(20 + i)"].map { Array($0.utf8) }) }
        _ = try client.pipeline(commands)
        // Each expiry is a message on the channel naming the key; nothing reads the keys.
        var received: [UInt8] = []
        var expired = Set<String>()
        let deadline = Date().addingTimeInterval(10)
        while expired.count < 50 && Date() < deadline {
            received += subscriber.readAvailable(quietMilliseconds: 200)
            var offset = 0
            expired.removeAll()
            while let (reply, used) = try received[offset...].withUnsafeBytes({ try RESPReplyDecoder.decode($0) }) {
                offset += used
                if case .array(let parts) = reply, parts.count == 3, parts[0] == .bulk(Array("message".utf8)),
                   case .bulk(let key) = parts[2] {
                    expired.insert(String(decoding: key, as: UTF8.self))
                }
            }
        }
        #expect(expired == Set((0..<50).map { "k\($0)" }), "\(expired.count) of 50 expiries announced")
        let info = try redisCLI(daemon, ["INFO", "stats"])
        #expect(info.contains("expired_keys:50"), "\(info)")
        #expect(try redisCLI(daemon, ["DBSIZE"]) == "0")
    }

    @Test("keyspace events name each command as redis-server does (set, expire, del, expired, persist, incrby, append)")
    func keyEventsMatchRedis() throws {
        let daemon = try Daemon()
        defer { _ = daemon.stop() }
        let redis = try RedisServer()
        let twin = try Twin(daemon, redis)
        _ = try twin.redis.command(["CONFIG", "SET", "notify-keyspace-events", "KEA"].map { Array($0.utf8) })
        let listeners = [try RawConnection(unixPath: daemon.socketPath), try RawConnection(unixPath: redis.socketPath)]
        for listener in listeners {
            listener.send(respCommand("PSUBSCRIBE", "__keyevent@0__:*"))
            _ = listener.readAvailable(quietMilliseconds: 200)
        }
        let script: [[String]] = [
            ["SET", "a", "1"], ["SET", "b", "v", "EX", "100"], ["INCR", "c"], ["APPEND", "c", "x"], ["EXPIRE", "a", "100"],
            ["PERSIST", "a"], ["DEL", "b"], ["GETDEL", "c"], ["SETEX", "d", "100", "v"], ["GETEX", "d", "PERSIST"],
            ["GETEX", "d", "EX", "50"], ["EXPIRE", "a", "-1"], ["MSET", "m", "1", "n", "2"], ["SET", "p", "v", "NX"],
            ["SET", "p", "w", "NX"], ["DECRBY", "q", "3"], ["SET", "e", "v", "PX", "30"],
        ]
        for words in script { _ = try twin.both(words) }
        // Every command's events, then the expiry of e (within Redis's and the writer's 100 ms passes).
        let streams = try listeners.map { try keyEvents($0, until: "__keyevent@0__:expired e") }
        #expect(streams[0] == streams[1], "daemon: \(streams[0])\nredis-server: \(streams[1])")
        #expect(streams[1].count > 15)
    }

    @Test("deadlines survive a restart; LocalStore and the native client see a key past its deadline as absent")
    func deadlinesSurviveRestartsAndLocalReadersExpire() throws {
        let directory = TemporaryDirectory("expiry-restart")
        defer { directory.remove() }
        let data = directory.file("data")
        var daemon = try Daemon(dataDirectory: data)
        _ = try redisCLI(daemon, ["SET", "long", "v", "EX", "1000"])
        _ = try redisCLI(daemon, ["SET", "short", "v", "PX", "3000"])
        let store = try LocalStore(directory: data)
        #expect(try store.ttl(Array("short".utf8)).remaining != nil)
        guard case .expires(_, let remaining) = try store.ttl(Array("long".utf8)) else {
            Issue.record("long has no deadline")
            return
        }
        #expect(remaining > 900_000 && remaining <= 1_000_000)
        #expect(daemon.stop() == 0)
        // No daemon: the local reader judges the deadline itself.
        #expect(eventually(seconds: 10) { (try? store.get("short")) == nil }, "short outlived its 3 s")
        #expect(try store.ttl(Array("short".utf8)) == .missing)
        #expect(try store.scan(prefix: []).map(\.key) == [Array("long".utf8)])
        #expect(try store.read { try $0.count() } == 1)
        daemon = try Daemon(dataDirectory: data)
        defer { _ = daemon.stop() }
        let ttl = Int(try redisCLI(daemon, ["TTL", "long"])) ?? -9
        #expect(ttl > 900 && ttl <= 1000)
        let client = try Client(address: .unix(path: daemon.socketPath))
        #expect(try client.get(Array("short".utf8)) == nil)
        #expect(try client.scanPage(ScanQuery(mode: .prefix, start: [])).entries.map(\.key) == [Array("long".utf8)])
    }
}

@Suite("Expiry through the native protocol: Client, AsyncClient and the shmkv CLI")
struct NativeExpiryTests {
    @Test("PUT with a time to live or keeping it, TTL and EXPIRE (relative, absolute, persist), from both clients and the CLI")
    func nativeExpiry() async throws {
        let daemon = try Daemon()
        defer { _ = daemon.stop() }
        let client = try Client(address: .unix(path: daemon.socketPath), timeoutSeconds: 10)
        let k = Array("k".utf8)
        #expect(try client.ttl(k) == .missing)
        try client.put(k, Array("v".utf8), expiry: .after(milliseconds: 60_000))
        guard case .expires(let deadline, let remaining) = try client.ttl(k) else { Issue.record("no deadline"); return }
        #expect(remaining > 59_000 && remaining <= 60_000)
        try client.put(k, Array("w".utf8), expiry: .keep)
        guard case .expires(let kept, _) = try client.ttl(k) else { Issue.record("KEEPTTL lost the deadline"); return }
        #expect(kept == deadline)
        try client.put(k, Array("x".utf8))
        #expect(try client.ttl(k) == .persistent)
        #expect(try client.expire(k, milliseconds: 5_000))
        #expect(try client.ttl(k).remaining.map { $0 > 4_000 && $0 <= 5_000 } == true)
        #expect(try client.persist(k))
        #expect(try client.persist(k) == false)
        #expect(try client.expire(Array("nokey".utf8), milliseconds: 5_000) == false)
        let at = Int64(Date().timeIntervalSince1970 * 1000) + 100_000
        #expect(try client.expire(k, milliseconds: at, mode: .absolute))
        guard case .expires(let d, _) = try client.ttl(k) else { Issue.record("no deadline"); return }
        #expect(d == at)
        #expect(try client.expire(k, milliseconds: 0))
        #expect(try client.get(k) == nil)
        // The same through AsyncClient.
        let pool = AsyncClient(address: .unix(path: daemon.socketPath), connections: 2)
        // (Times here are long: the test process's other tests may hold its cooperative threads for seconds.)
        try await pool.put(k, Array("v".utf8), expiry: .after(milliseconds: 600_000))
        #expect(try await pool.ttl(k).remaining.map { $0 > 0 && $0 <= 600_000 } == true)
        #expect(try await pool.expire(k, milliseconds: 50))
        #expect(eventually(seconds: 10) { (try? client.get(k)) == nil }, "k outlived its 50 ms")
        #expect(try await pool.ttl(k) == .missing)
        // The CLI: put --ttl, ttl (socket and --local), expire.
        let cli = Products.path("shmkv")
        let socket = ["--socket", daemon.socketPath]
        #expect(try runProcess(cli, socket + ["put", "c", "v", "--ttl", "100"]).stdout == "OK\n")
        let shown = try runProcess(cli, socket + ["ttl", "c"]).stdout
        #expect(shown.hasSuffix("Z)\n") && (Int(shown.split(separator: " ")[0]).map { $0 > 90_000 } ?? false), "\(shown)")
        let local = try runProcess(cli, ["ttl", "c", "--data-dir", daemon.dataDirectory, "--json"]).stdout
        #expect(local.contains("\"exists\":true") && local.contains("\"ttl_ms\":"), "\(local)")
        #expect(try runProcess(cli, socket + ["expire", "c", "--persist"]).stdout == "1\n")
        #expect(try runProcess(cli, socket + ["ttl", "c"]).stdout == "persistent\n")
        let missing = try runProcess(cli, socket + ["ttl", "none"])
        #expect(missing.stdout == "missing\n" && missing.status == 1)
        #expect(try runProcess(cli, socket + ["expire", "c", "0"]).stdout == "1\n")
        #expect(try runProcess(cli, socket + ["get", "c"]).status == 1)
    }
}

extension TimeToLive {
    /// The milliseconds left, if the key has a deadline.
    var remaining: Int64? { if case .expires(_, let r) = self { r } else { nil } }
}
