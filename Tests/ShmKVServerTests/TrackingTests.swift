import Foundation
import ShmKV
import TestSupport
import Testing
import Wire

/// The same raw RESP conversation with the daemon and with redis-server: every byte each side sends
/// back is compared (RESP3 pushes included), step by step.
final class RawTwin {
    let daemon: [RawConnection], redis: [RawConnection]

    init(_ daemon: Daemon, _ redis: RedisServer, connections: Int) throws {
        self.daemon = try (0..<connections).map { _ in try RawConnection(unixPath: daemon.socketPath) }
        self.redis = try (0..<connections).map { _ in try RawConnection(unixPath: redis.socketPath) }
    }

    /// Sends `words` on connection `n` of both; returns nothing (see `expectQuiet`/`expect`).
    func send(_ n: Int, _ words: String...) { send(n, words) }

    func send(_ n: Int, _ words: [String]) {
        daemon[n].send(respCommand(words))
        redis[n].send(respCommand(words))
    }

    /// What each side's connection `n` has received since the last look. Both are read together until
    /// neither has sent anything for 150 ms (20 ms once both hold the same whole replies); then the
    /// daemon's bytes are awaited (up to 5 s) until there are as many as redis-server's, so a loaded
    /// machine does not make a late push look missing. `evenOut`: redis-server's are awaited likewise
    /// when the daemon has more (its timeouts are checked only 10 times a second), for replies expected
    /// to be equal.
    func received(_ n: Int, evenOut: Bool = false) -> (daemon: String, redis: String) {
        var mine: [UInt8] = [], theirs: [UInt8] = []
        while true {
            let settled = !theirs.isEmpty && mine == theirs && RawTwin.endsAtReply(theirs)
            let got = RawConnection.readAny([daemon[n], redis[n]], waitMilliseconds: settled ? 20 : 150)
            if got[0].isEmpty && got[1].isEmpty { break }
            mine += got[0]
            theirs += got[1]
        }
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            if mine.count < theirs.count { mine += daemon[n].readAvailable(quietMilliseconds: 50) }
            else if evenOut && theirs.count < mine.count { theirs += redis[n].readAvailable(quietMilliseconds: 50) }
            else { break }
        }
        return (String(decoding: mine, as: UTF8.self), String(decoding: theirs, as: UTF8.self))
    }

    /// Whether `bytes` end where a reply ends: whole RESP2 replies, or (RESP3, which the RESP2 decoder
    /// does not read) the end of a line.
    static func endsAtReply(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                do {
                    guard let (_, used) = try RESPReplyDecoder.decode(UnsafeRawBufferPointer(rebasing: raw[offset...])) else { return false }
                    offset += used
                } catch {
                    return raw.count >= 2 && raw[raw.count - 2] == 13 && raw[raw.count - 1] == 10
                }
            }
            return true
        }
    }

    /// Connection `n` of both received the same bytes (and, when given, these).
    func expectSame(_ n: Int, _ what: String, _ expected: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        let (mine, theirs) = received(n, evenOut: true)
        #expect(mine == theirs, "\(what): daemon \(mine.debugDescription) vs redis-server \(theirs.debugDescription)", sourceLocation: sourceLocation)
        if let expected { #expect(mine == expected, "\(what): \(mine.debugDescription)", sourceLocation: sourceLocation) }
    }

    /// Connection `n` of both speaks RESP3 (HELLO's reply differs between the servers and is dropped).
    /// Runs `script` against both servers on connection 0 in RESP2 and connection 1 in RESP3 (after a
    /// FLUSHALL on each), expecting the same bytes for every command. Needs two connections.
    static func expectSameReplies(_ script: [[String]], _ daemon: Daemon, _ redis: RedisServer,
                                  sourceLocation: SourceLocation = #_sourceLocation) throws {
        let twin = try RawTwin(daemon, redis, connections: 2)
        twin.resp3(1)
        for connection in 0..<2 {
            twin.send(connection, "FLUSHALL")
            twin.expectSame(connection, "FLUSHALL", sourceLocation: sourceLocation)
            for words in script {
                twin.daemon[connection].send(respCommand(words))
                twin.redis[connection].send(respCommand(words))
                twin.expectSame(connection, "\(words.joined(separator: " ")) on RESP\(connection == 0 ? 2 : 3)", sourceLocation: sourceLocation)
            }
        }
    }

    /// Both servers with every keyspace event on, connection 0 subscribed to all of them and connection
    /// 1 free for commands (`expectSameEvents`).
    static func listeningToEvents(_ daemon: Daemon, _ redis: RedisServer) throws -> RawTwin {
        let twin = try RawTwin(daemon, redis, connections: 2)
        twin.send(1, "CONFIG", "SET", "notify-keyspace-events", "KEA")
        twin.expectSame(1, "CONFIG SET")
        twin.send(0, "PSUBSCRIBE", "__key*@*__:*")
        twin.expectSame(0, "PSUBSCRIBE")
        return twin
    }

    /// Sends each command on connection 1 of both servers: its reply, and the events it caused on the
    /// listening connection 0, must be the same bytes.
    func expectSameEvents(_ commands: [[String]], sourceLocation: SourceLocation = #_sourceLocation) {
        for words in commands {
            daemon[1].send(respCommand(words))
            redis[1].send(respCommand(words))
            expectSame(1, "\(words.joined(separator: " "))", sourceLocation: sourceLocation)
            expectSame(0, "events of \(words.joined(separator: " "))", sourceLocation: sourceLocation)
        }
    }

    func resp3(_ n: Int) {
        send(n, "HELLO", "3")
        _ = received(n)
    }

    /// The client id of connection `n` on each side.
    func ids(_ n: Int) -> (daemon: String, redis: String) {
        send(n, "CLIENT", "ID")
        let (mine, theirs) = received(n)
        func id(_ reply: String) -> String { String(decoding: reply.utf8.dropFirst().prefix { $0 != 13 }, as: UTF8.self) }
        return (id(mine), id(theirs))
    }
}

@Suite("CLIENT TRACKING as redis-server: default mode, NOLOOP, OPTIN/OPTOUT, BCAST, REDIRECT, flushes, errors; redis-py's cache")
struct TrackingTests {
    @Test("RESP3 default mode: a read key is invalidated once by another connection's write, expiry or flush; NOLOOP")
    func defaultModeRESP3() throws {
        let daemon = try Daemon()
        defer { _ = daemon.stop() }
        let redis = try RedisServer()
        let twin = try RawTwin(daemon, redis, connections: 2)
        twin.resp3(0)
        twin.send(0, "CLIENT", "TRACKING", "ON")
        twin.expectSame(0, "tracking on", "+OK\r\n")
        twin.send(0, "GET", "a")
        twin.expectSame(0, "GET a")
        twin.send(1, "SET", "a", "1")
        twin.expectSame(1, "SET a")
        twin.expectSame(0, "invalidation of a", ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\na\r\n")
        twin.send(1, "SET", "a", "2")
        twin.expectSame(0, "no second invalidation before a new read", "")
        twin.send(0, "MGET", "a", "b")
        twin.expectSame(0, "MGET")
        twin.send(1, "DEL", "b")
        twin.expectSame(1, "DEL b")
        twin.expectSame(0, "a missing key read is tracked too", "")
        twin.send(1, "SET", "b", "x")
        twin.expectSame(1, "SET b")
        twin.expectSame(0, "invalidation of b")
        // Long enough for the GET (and the reads of both replies, 150 ms of quiet each) to come first on
        // a loaded machine (sanitizers, CI); both servers' active expiry then deletes it well within 2.5 s.
        twin.send(1, "SET", "c", "1", "PX", "1500")
        twin.expectSame(1, "SET c")
        twin.send(0, "GET", "c")
        twin.expectSame(0, "GET c", "$1\r\n1\r\n")
        Thread.sleep(forTimeInterval: 2.5)
        twin.expectSame(0, "invalidation when c expires", ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nc\r\n")
        twin.send(0, "EXISTS", "a")
        twin.expectSame(0, "EXISTS a")
        // The tracking connection's own write: invalidated after its reply (no NOLOOP).
        twin.send(0, "SET", "a", "3")
        twin.expectSame(0, "own write then its invalidation")
        twin.send(0, "GET", "a")
        twin.expectSame(0, "GET a again")
        twin.send(1, "FLUSHDB")
        twin.expectSame(1, "FLUSHDB")
        twin.expectSame(0, "a flush invalidates everything", ">2\r\n$10\r\ninvalidate\r\n_\r\n")
        // NOLOOP: the connection's own writes are not announced to it.
        twin.send(0, "CLIENT", "TRACKING", "ON", "NOLOOP")
        twin.send(0, "GET", "n")
        twin.send(0, "SET", "n", "1")
        twin.expectSame(0, "NOLOOP: no invalidation for an own write")
        twin.send(0, "GET", "n")
        twin.expectSame(0, "GET n, tracked")
        twin.send(1, "SET", "n", "2")
        twin.expectSame(1, "SET n")
        twin.expectSame(0, "NOLOOP: another connection's write is announced")
        twin.send(0, "CLIENT", "TRACKINGINFO")
        twin.expectSame(0, "TRACKINGINFO")
        twin.send(0, "CLIENT", "TRACKING", "OFF")
        twin.send(0, "GET", "n")
        twin.expectSame(0, "OFF, then GET n")
        twin.send(1, "SET", "n", "3")
        twin.expectSame(1, "SET n")
        twin.expectSame(0, "off: nothing more")
    }

    @Test("OPTIN and OPTOUT with CLIENT CACHING, and BCAST with prefixes")
    func optInOutAndBroadcast() throws {
        let daemon = try Daemon()
        defer { _ = daemon.stop() }
        let redis = try RedisServer()
        let twin = try RawTwin(daemon, redis, connections: 2)
        twin.resp3(0)
        twin.send(0, "CLIENT", "TRACKING", "ON", "OPTIN")
        twin.send(0, "GET", "x")
        twin.send(0, "CLIENT", "CACHING", "YES")
        twin.send(0, "GET", "y")
        twin.send(0, "GET", "z")
        twin.expectSame(0, "OPTIN reads")
        for key in ["x", "y", "z"] { twin.send(1, "SET", key, "1"); twin.expectSame(1, "SET \(key)") }
        twin.expectSame(0, "OPTIN: only the read after CACHING YES is tracked")
        twin.send(0, "CLIENT", "TRACKING", "OFF")
        twin.send(0, "CLIENT", "TRACKING", "ON", "OPTOUT")
        twin.send(0, "CLIENT", "CACHING", "NO")
        twin.send(0, "GET", "x")
        twin.send(0, "GET", "y")
        twin.expectSame(0, "OPTOUT reads")
        for key in ["x", "y"] { twin.send(1, "SET", key, "2"); twin.expectSame(1, "SET \(key)") }
        twin.expectSame(0, "OPTOUT: all but the read after CACHING NO")
        twin.send(0, "CLIENT", "TRACKING", "OFF")
        twin.send(0, "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:", "PREFIX", "job:")
        twin.expectSame(0, "BCAST on")
        for key in ["user:1", "other", "job:7", "user:2"] {
            twin.send(1, "SET", key, "v")
            twin.expectSame(1, "SET \(key)")
            twin.expectSame(0, "BCAST after SET \(key)")
        }
        twin.send(0, "CLIENT", "TRACKINGINFO")
        twin.expectSame(0, "TRACKINGINFO in BCAST")
        twin.send(0, "CLIENT", "GETREDIR")
        twin.expectSame(0, "GETREDIR", ":0\r\n")
    }

    @Test("REDIRECT to a RESP2 subscriber of __redis__:invalidate and to a RESP3 client; a gone target is reported")
    func redirect() throws {
        let daemon = try Daemon()
        defer { _ = daemon.stop() }
        let redis = try RedisServer()
        let twin = try RawTwin(daemon, redis, connections: 4)
        let target = twin.ids(0)
        twin.send(0, "SUBSCRIBE", "__redis__:invalidate")
        twin.expectSame(0, "subscribe")
        twin.daemon[1].send(respCommand("CLIENT", "TRACKING", "ON", "REDIRECT", target.daemon))
        twin.redis[1].send(respCommand("CLIENT", "TRACKING", "ON", "REDIRECT", target.redis))
        twin.expectSame(1, "tracking with REDIRECT", "+OK\r\n")
        twin.send(1, "GET", "k")
        twin.expectSame(1, "GET k")
        twin.send(2, "SET", "k", "v")
        twin.expectSame(2, "SET k")
        twin.expectSame(0, "a __redis__:invalidate message with the key",
                        "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$1\r\nk\r\n")
        twin.send(2, "FLUSHALL")
        twin.expectSame(2, "FLUSHALL")
        twin.expectSame(0, "a flush through REDIRECT")
        twin.send(1, "CLIENT", "GETREDIR")
        let (mine, theirs) = twin.received(1)
        #expect(mine == ":\(target.daemon)\r\n" && theirs == ":\(target.redis)\r\n")
        // A RESP3 tracking client whose target has gone hears of it when an invalidation would be sent.
        let gone = twin.ids(3)
        twin.resp3(1)
        twin.daemon[1].send(respCommand("CLIENT", "TRACKING", "ON", "REDIRECT", gone.daemon))
        twin.redis[1].send(respCommand("CLIENT", "TRACKING", "ON", "REDIRECT", gone.redis))
        twin.expectSame(1, "redirect to connection 3")
        shutdown(twin.daemon[3].fd, Int32(SHUT_RDWR))
        shutdown(twin.redis[3].fd, Int32(SHUT_RDWR))
        Thread.sleep(forTimeInterval: 0.2)
        twin.send(1, "GET", "q")
        twin.expectSame(1, "GET q")
        twin.send(2, "SET", "q", "1")
        twin.expectSame(2, "SET q")
        let broken = twin.received(1)
        #expect(broken.daemon == ">2\r\n$21\r\ntracking-redir-broken\r\n:\(gone.daemon)\r\n", "\(broken.daemon.debugDescription)")
        #expect(broken.redis == ">2\r\n$21\r\ntracking-redir-broken\r\n:\(gone.redis)\r\n")
        twin.send(1, "CLIENT", "TRACKINGINFO")
        let info = twin.received(1)
        #expect(info.daemon.contains("broken_redirect") && info.redis.contains("broken_redirect"))
    }

    @Test("CLIENT TRACKING, CACHING, GETREDIR and TRACKINGINFO errors and replies as redis-server")
    func errors() throws {
        let daemon = try Daemon()
        defer { _ = daemon.stop() }
        let redis = try RedisServer()
        let twin = try Twin(daemon, redis)
        for words in [
            ["CLIENT", "TRACKING"], ["CLIENT", "TRACKING", "MAYBE"], ["CLIENT", "TRACKING", "ON", "PREFIX", "a"],
            ["CLIENT", "TRACKING", "ON", "OPTIN", "OPTOUT"], ["CLIENT", "TRACKING", "ON", "BCAST", "OPTIN"],
            ["CLIENT", "TRACKING", "ON", "REDIRECT", "999999"], ["CLIENT", "TRACKING", "ON", "REDIRECT", "x"],
            ["CLIENT", "TRACKING", "ON", "FOO"], ["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "ab", "PREFIX", "a"],
            ["CLIENT", "CACHING", "YES"], ["CLIENT", "GETREDIR"], ["CLIENT", "TRACKINGINFO"],
            ["CLIENT", "TRACKING", "ON", "OPTIN"], ["CLIENT", "CACHING", "NO"], ["CLIENT", "CACHING", "MAYBE"],
            ["CLIENT", "CACHING", "YES"], ["CLIENT", "TRACKINGINFO"], ["CLIENT", "TRACKING", "ON", "OPTOUT"],
            ["CLIENT", "TRACKING", "ON", "BCAST"], ["CLIENT", "TRACKING", "OFF"], ["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a"],
            ["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "ab"], ["CLIENT", "TRACKING", "ON"], ["CLIENT", "TRACKINGINFO"],
            ["CLIENT", "GETREDIR"], ["CLIENT", "CACHING"], ["CLIENT", "GETREDIR", "x"],
        ] {
            try twin.expectSame(words)
        }
    }

    @Test("hostile tracking input: thousands of prefixes are checked in n log n and capped; BCAST still finds the one a key is under")
    func manyPrefixes() throws {
        let daemon = try Daemon()
        defer { _ = daemon.stop() }
        let tracker = try RawConnection(unixPath: daemon.socketPath)
        let writer = try RESPClient(address: .unix(path: daemon.socketPath), timeoutSeconds: 10)
        tracker.send(respCommand("HELLO", "3"))
        _ = tracker.readAvailable(quietMilliseconds: 100)
        let prefixes = (0..<9_000).flatMap { ["PREFIX", "p\(10_000 + $0):"] }
        tracker.send(respCommand(["CLIENT", "TRACKING", "ON", "BCAST"] + prefixes))
        #expect(String(decoding: tracker.read(5), as: UTF8.self) == "+OK\r\n")
        tracker.send(respCommand(["CLIENT", "TRACKING", "ON", "BCAST"] + (0..<2_000).flatMap { ["PREFIX", "q\($0)"] }))
        let tooMany = "-ERR too many tracking prefixes: at most 10000 per connection\r\n"
        let refused = String(decoding: tracker.read(tooMany.utf8.count, timeoutSeconds: 10), as: UTF8.self)
        #expect(refused == tooMany, "\(refused)")
        _ = try writer.command(["SET", "p13456:x", "1"].map { Array($0.utf8) })
        let push = ">2\r\n$10\r\ninvalidate\r\n*1\r\n$8\r\np13456:x\r\n"
        let pushed = String(decoding: tracker.read(push.utf8.count, timeoutSeconds: 10), as: UTF8.self)
        #expect(pushed == push, "\(pushed.debugDescription)")
        // An overlap in a long list is found (and named) without a pairwise scan.
        let other = try RawConnection(unixPath: daemon.socketPath)
        other.send(respCommand(["CLIENT", "TRACKING", "ON", "BCAST"] + (0..<3_000).flatMap { ["PREFIX", "r\($0)"] }))
        var overlapBytes = other.read(1, timeoutSeconds: 10)
        overlapBytes += other.readAvailable(quietMilliseconds: 200)
        let overlapping = String(decoding: overlapBytes, as: UTF8.self)
        #expect(overlapping.hasPrefix("-ERR Prefix 'r1") && overlapping.contains("overlaps with another provided prefix 'r1"), "\(overlapping)")
    }

    @Test("redis-py 8's client-side cache (cache_config, RESP3) serves hits locally and sees other clients' writes")
    func redisPyCache() throws {
        let daemon = try Daemon()
        defer { _ = daemon.stop() }
        guard let python = redisPyPython() else { return }
        let script = """
        import sys, time, redis
        from redis.cache import CacheConfig
        port = int(sys.argv[1])
        cached = redis.Redis(host="127.0.0.1", port=port, protocol=3, decode_responses=True, cache_config=CacheConfig())
        other = redis.Redis(host="127.0.0.1", port=port, decode_responses=True)
        other.set("greeting", "hello")
        assert cached.get("greeting") == "hello"
        cache = cached.get_cache()
        assert cache.size == 1, cache.size
        for _ in range(100):
            assert cached.get("greeting") == "hello"
        other.set("greeting", "bonjour")
        deadline = time.time() + 5
        value = cached.get("greeting")
        while value != "bonjour" and time.time() < deadline:
            time.sleep(0.05)
            value = cached.get("greeting")
        assert value == "bonjour", value
        other.delete("greeting")
        deadline = time.time() + 5
        while cached.get("greeting") is not None and time.time() < deadline:
            time.sleep(0.05)
        assert cached.get("greeting") is None
        print("ok")
        """
        let result = try runProcess(python, ["-c", script, String(daemon.tcpPort)])
        #expect(result.stdout.contains("ok"), "\(result.stdout) \(result.stderr)")
    }
}
