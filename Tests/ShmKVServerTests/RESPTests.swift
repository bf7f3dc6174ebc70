import Foundation
import ShmKV
import TestSupport
import Testing

/// Redis's own tools and client library against the real daemon.
@Suite("RESP with redis-cli, redis-benchmark and redis-py")
struct RESPTests {
    func cli(_ daemon: Daemon, _ args: [String], stdin: [UInt8]? = nil) throws -> String {
        try redisCLI(daemon, args, stdin: stdin)
    }

    @Test("every command through redis-cli, with Redis's replies and error texts")
    func everyCommand() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let steps: [([String], String)] = [
            (["PING"], "PONG\n"),
            (["PING", "hello"], "hello\n"),
            (["ECHO", "a b"], "a b\n"),
            (["SET", "k", "v1"], "OK\n"),
            (["GET", "k"], "v1\n"),
            (["GET", "missing"], "\n"),
            (["SET", "k", "v2", "GET"], "v1\n"),
            (["SET", "k", "v3", "NX"], "\n"),
            (["SET", "k", "v3", "XX"], "OK\n"),
            (["SET", "nope", "x", "XX"], "\n"),
            (["SET", "k", "v", "NX", "XX"], "ERR syntax error\n"),
            (["SET", "k", "v3", "EX", "10"], "OK\n"),
            (["TTL", "k"], "10\n"),
            (["PERSIST", "k"], "1\n"),
            (["TTL", "k"], "-1\n"),
            (["SET", "k"], "ERR wrong number of arguments for 'set' command\n"),
            (["SETNX", "k", "x"], "0\n"),
            (["SETNX", "fresh", "x"], "1\n"),
            (["GETDEL", "fresh"], "x\n"),
            (["GETDEL", "fresh"], "\n"),
            (["INCR", "n"], "1\n"),
            (["INCRBY", "n", "41"], "42\n"),
            (["DECR", "n"], "41\n"),
            (["DECRBY", "n", "40"], "1\n"),
            (["INCR", "k"], "ERR value is not an integer or out of range\n"),
            (["INCRBY", "n", "abc"], "ERR value is not an integer or out of range\n"),
            (["SET", "big", "9223372036854775807"], "OK\n"),
            (["INCR", "big"], "ERR increment or decrement would overflow\n"),
            (["DECRBY", "n", "-9223372036854775808"], "ERR decrement would overflow\n"),
            (["STRLEN", "k"], "2\n"),
            (["STRLEN", "missing"], "0\n"),
            (["APPEND", "k", "456"], "5\n"),
            (["APPEND", "new", "ab"], "2\n"),
            (["GET", "k"], "v3456\n"),
            (["GETRANGE", "k", "1", "-2"], "345\n"),
            (["GETRANGE", "k", "-100", "100"], "v3456\n"),
            (["GETRANGE", "k", "9", "10"], "\n"),
            (["MSET", "a", "1", "b", "2"], "OK\n"),
            (["MSET", "a"], "ERR wrong number of arguments for 'mset' command\n"),
            (["MGET", "a", "b", "missing"], "1\n2\n\n"),
            (["MSETNX", "a", "9", "z", "9"], "0\n"),
            (["MSETNX", "y", "9", "z", "9"], "1\n"),
            (["EXISTS", "a", "b", "missing", "a"], "3\n"),
            (["DEL", "y", "z", "missing"], "2\n"),
            (["KEYS", "*"], "a\nb\nbig\nk\nn\nnew\n"),
            (["DBSIZE"], "6\n"),
            (["KEYS", "?"], "a\nb\nk\nn\n"),
            (["KEYS", "[ab]*"], "a\nb\nbig\n"),
            (["SELECT", "0"], "OK\n"),
            (["SELECT", "1"], "OK\n"),
            (["SELECT", "16"], "ERR DB index is out of range\n"),
            (["AUTH", "secret"], "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\n"),
            (["AUTH", "bob", "secret"], "WRONGPASS invalid username-password pair or user is disabled.\n"),
            (["AUTH", "default", "anything"], "OK\n"),
            (["CONFIG", "GET", "save"], "save\n\n"),
            (["CONFIG", "GET", "appendonly"], "appendonly\nno\n"),
            (["CONFIG", "SET", "save", ""], "OK\n"),
            (["CONFIG", "SET", "appendonly", "yes"], "ERR CONFIG SET failed (possibly related to argument 'appendonly') - ShmKV does not change it (always 'no')\n"),
            (["COMMAND", "COUNT"], "194\n"),
            (["CLIENT", "SETNAME", "bad name"], "ERR Client names cannot contain spaces, newlines or special characters.\n"),
            (["CLIENT", "SETINFO", "LIB-NAME", "test"], "OK\n"),
            (["CLIENT", "GETNAME"], "\n"),
            (["HELLO", "4"], "NOPROTO unsupported protocol version\n"),
            (["NOSUCH", "x", "y"], "ERR unknown command 'NOSUCH', with args beginning with: 'x' 'y' \n"),
            (["QUIT"], "OK\n"),
            (["FLUSHDB"], "OK\n"),
            (["DBSIZE"], "0\n"),
        ]
        for (args, expected) in steps {
            var trimmed = expected
            while trimmed.hasSuffix("\n") { trimmed.removeLast() }
            #expect(try cli(daemon, args) == trimmed, "\(args)")
        }
        // Several commands on one connection: names, ids, TIME, INFO, COMMAND DOCS.
        let session = try cli(daemon, [], stdin: Array("CLIENT SETNAME tester\nCLIENT GETNAME\nCLIENT ID\nTIME\nCLIENT LIST\n".utf8))
        let lines = session.split(separator: "\n").map(String.init)
        #expect(lines[0] == "OK" && lines[1] == "tester" && Int(lines[2]) != nil)
        #expect(Int(lines[3]).map { abs($0 - Int(Date().timeIntervalSince1970)) < 600 } == true)
        #expect(session.contains("name=tester") && session.contains("cmd=client|list"))
        let info = try cli(daemon, ["INFO"])
        for section in ["# Server", "# Clients", "# Memory", "# Persistence", "# Stats", "redis_version:", "connected_clients:"] {
            #expect(info.contains(section), "\(section)")
        }
        try runProcess("/usr/bin/redis-cli", ["-p", String(daemon.tcpPort), "SET", "x", "1"])
        #expect(try cli(daemon, ["INFO", "keyspace"]).contains("# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0"))
        #expect(try cli(daemon, ["COMMAND", "DOCS", "get"]).contains("Returns the string value of a key."))
        #expect(try cli(daemon, ["COMMAND", "INFO", "get"]) == "get\n2\nreadonly\nfast\n1\n1\n1")
        // A RESP write is seen by the native client at once, and the other way round.
        let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
        #expect(try client.get("x") == Array("1".utf8))
        try client.put("from-native", "yes")
        #expect(try cli(daemon, ["GET", "from-native"]) == "yes")
    }

    @Test("redis-cli --pipe loads a file of SET commands; -x stores a binary value from stdin; --scan --pattern")
    func pipeBinaryAndScan() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        var file = ""
        for i in 0..<5000 { file += "*3\r\n$3\r\nSET\r\n$\(String(i).count + 2)\r\np:\(i)\r\n$1\r\nv\r\n" }
        for i in 0..<300 { file += "SET other:\(i) x\r\n" }
        let piped = try cli(daemon, ["--pipe"], stdin: Array(file.utf8))
        #expect(piped.contains("errors: 0, replies: 5300"), "\(piped)")
        #expect(try cli(daemon, ["DBSIZE"]) == "5300")
        let binary = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        #expect(try cli(daemon, ["-x", "SET", "bin"], stdin: binary) == "OK")
        let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
        #expect(try client.get("bin") == binary)
        let scanned = try cli(daemon, ["--scan", "--pattern", "p:1*"]).split(separator: "\n")
        let expected = (0..<5000).map { "p:\($0)" }.filter { $0.hasPrefix("p:1") }
        #expect(scanned.count == expected.count)
        #expect(Set(scanned.map(String.init)) == Set(expected))
        // Cursor paging by hand: every key exactly once.
        var cursor = "0"
        var seen: [String] = []
        repeat {
            let page = try cli(daemon, ["SCAN", cursor, "MATCH", "other:*", "COUNT", "100"]).split(separator: "\n").map(String.init)
            cursor = page[0]
            seen += page.dropFirst()
        } while cursor != "0"
        #expect(seen.count == 300 && Set(seen).count == 300)
        #expect(try cli(daemon, ["SCAN", "123456789"]).hasPrefix("ERR invalid or expired SCAN cursor"))
    }

    @Test("redis-cli psubscribe receives keyspace and keyevent notifications for writes made by shmkv put")
    func keyspaceNotifications() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let subscriber = try ChildProcess("/usr/bin/redis-cli", ["-p", String(daemon.tcpPort), "psubscribe", "__keyspace@0__:*", "__keyevent@0__:del"])
        for _ in 0..<6 { _ = subscriber.readLine() }  // two confirmations, three lines each
        let shmkv = Products.path("shmkv")
        #expect(try runProcess(shmkv, ["put", "--socket", daemon.socketPath, "user:1", "ada"]).status == 0)
        #expect(try runProcess(shmkv, ["del", "--socket", daemon.socketPath, "user:1"]).status == 0)
        var lines: [String] = []
        while lines.count < 12, let line = subscriber.readLine(timeoutSeconds: 10) { lines.append(line) }
        #expect(lines == ["pmessage", "__keyspace@0__:*", "__keyspace@0__:user:1", "set",
                          "pmessage", "__keyspace@0__:*", "__keyspace@0__:user:1", "del",
                          "pmessage", "__keyevent@0__:del", "__keyevent@0__:del", "user:1"])
    }

    @Test("redis-benchmark -t ping,set,get,incr,mset finishes with no error, with and without -P 16")
    func redisBenchmark() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        for extra in [[String](), ["-P", "16"]] {
            let result = try runProcess("/usr/bin/redis-benchmark",
                                        ["-h", daemon.tcpHost, "-p", String(daemon.tcpPort), "-t", "ping,set,get,incr,mset",
                                         "-n", "20000", "-q"] + extra)
            #expect(result.status == 0, "\(result.stderr)")
            let text = result.stdout + result.stderr
            for test in ["PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "MSET (10 keys)"] {
                #expect(text.contains("\(test): ") && text.contains("requests per second"), "\(test) in \(extra): \(text)")
            }
            #expect(!text.lowercased().contains("error"), "\(text)")
        }
        let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
        // 2 × 20,000 INCRs of counter:__rand_int__ (the default key space is one key).
        #expect(try client.get("counter:__rand_int__") == Array("40000".utf8))
    }

    @Test("redis-cli -3 gets RESP3 replies")
    func resp3() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        #expect(try cli(daemon, ["-3", "HELLO", "3"]).hasPrefix("server redis\nversion 7.4.0\nproto 3\n"))
        let raw = try RawConnection(unixPath: daemon.socketPath)
        raw.send(Array("HELLO 3\r\n".utf8))
        let hello = String(decoding: raw.read(8), as: UTF8.self)
        #expect(hello == "%7\r\n$6\r\n")
        _ = raw.readAvailable()
        raw.send(Array("GET missing\r\nCONFIG GET appendonly\r\nCLIENT INFO\r\nSUBSCRIBE c\r\n".utf8))
        let expected = "_\r\n%1\r\n$10\r\nappendonly\r\n$2\r\nno\r\n="
        #expect(String(decoding: raw.read(expected.utf8.count), as: UTF8.self) == expected)
        let rest = String(decoding: raw.readAvailable(), as: UTF8.self)
        #expect(rest.contains(">3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n"))
    }

    @Test("redis-py 8: a realistic session with RESP3 (its default) and with protocol=2")
    func redisPy() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        guard let python = redisPyPython() else { return }
        let script = """
        import sys, time, redis
        port, proto = int(sys.argv[1]), int(sys.argv[2])
        kwargs = {} if proto == 3 else {"protocol": 2}
        r = redis.Redis(host="127.0.0.1", port=port, decode_responses=True, **kwargs)
        assert r.ping()
        assert r.set("user:1", "ada") and r.get("user:1") == "ada"
        assert r.set("user:1", "x", nx=True) is None
        assert r.incr("visits") == 1 and r.incrby("visits", 9) == 10 and r.decr("visits") == 9
        p = r.pipeline(transaction=False)
        for i in range(100):
            p.set(f"item:{i}", i)
        p.get("item:42")
        p.mget("item:1", "item:2", "missing")
        results = p.execute()
        assert results[100] == "42" and results[101] == ["1", "2", None], results[100:]
        assert r.mset({"a": "1", "b": "2"}) and r.mget(["a", "b"]) == ["1", "2"]
        assert sorted(r.scan_iter(match="item:*", count=7)) == sorted(f"item:{i}" for i in range(100))
        assert r.exists("a", "b", "missing") == 2 and r.delete("a", "b") == 2
        assert r.append("s", "ab") == 2 and r.strlen("s") == 2 and r.getrange("s", 0, 0) == "a"
        assert r.getdel("s") == "ab" and r.get("s") is None
        assert r.dbsize() == 102
        assert r.client_setname("py") and r.client_getname() == "py"
        assert "redis_version" in r.info("server")
        ps = r.pubsub()
        ps.psubscribe("__keyspace@0__:watched:*")
        ps.subscribe("__keyevent@0__:del")
        deadline = time.time() + 5
        confirmations = 0
        while confirmations < 2 and time.time() < deadline:
            m = ps.get_message(timeout=1)
            if m and m["type"] in ("psubscribe", "subscribe"):
                confirmations += 1
        r.set("watched:1", "v")
        r.delete("watched:1")
        got = []
        while len(got) < 3 and time.time() < deadline:
            m = ps.get_message(timeout=1)
            if m and m["type"] in ("pmessage", "message"):
                got.append((m["channel"], m["data"]))
        assert got == [("__keyspace@0__:watched:1", "set"), ("__keyspace@0__:watched:1", "del"),
                       ("__keyevent@0__:del", "watched:1")], got
        ps.close()
        try:
            r.execute_command("NOSUCH")
            raise SystemExit("NOSUCH did not fail")
        except redis.ResponseError as e:
            assert "unknown command" in str(e)
        assert r.ping()
        print("ok", proto, redis.__version__)
        """
        for proto in ["3", "2"] {
            let result = try runProcess(python, ["-c", script, String(daemon.tcpPort), proto])
            #expect(result.stdout.hasPrefix("ok \(proto) 8."), "protocol \(proto): \(result.stdout) \(result.stderr)")
            _ = try runProcess("/usr/bin/redis-cli", ["-p", String(daemon.tcpPort), "FLUSHDB"])
        }
    }

    @Test("a subscriber that does not keep up is told on __shmkv__:resync instead of silently missing events; FLUSHDB can be switched off")
    func lappedSubscriberAndFlushSwitch() throws {
        let daemon = try Daemon(environment: ["SHMKV_RING_CAPACITY": "4096", "SHMKV_RESP_ALLOW_FLUSH": "no"])
        defer { daemon.stop() }
        let raw = try RawConnection(unixPath: daemon.socketPath)
        raw.send(Array("PSUBSCRIBE *\r\n".utf8))
        #expect(String(decoding: raw.read(19), as: UTF8.self) == "*3\r\n$10\r\npsubscribe")
        _ = raw.readAvailable()
        // The subscriber reads nothing while 20,000 changes go by a 4 KiB ring.
        let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
        for chunk in 0..<40 {
            try client.mput((0..<500).map { KeyValue(key: Array("key:\(chunk):\($0)".utf8), value: [1]) })
        }
        var text = ""
        // Bounded: each read waits at most 2 s for more, and at most 100 reads.
        for _ in 0..<100 where !text.contains("__shmkv__:resync") {
            let more = raw.readAvailable(quietMilliseconds: 2000)
            if more.isEmpty { break }
            text += String(decoding: more, as: UTF8.self)
        }
        #expect(text.contains("$16\r\n__shmkv__:resync\r\n$"))
        #expect(text.contains("lapped "))
        // The connection still works.
        raw.send(Array("PING\r\n".utf8))
        #expect(try cli(daemon, ["FLUSHDB"]) == "ERR FLUSHDB is disabled on this server (resp.allowFlush)")
        #expect(try cli(daemon, ["DBSIZE"]) == "20000")
    }

    @Test("connections opened at once are spread over the reactors (CLIENT LIST's io-thread)")
    func connectionsSpreadOverReactors() throws {
        let daemon = try Daemon()  // two reactors
        defer { daemon.stop() }
        // Ten connections opened back to back, before any says a word: one reactor's listener wake-up
        // can accept them all, and must hand some over to the other.
        let connections = try (0..<10).map { _ in try RawConnection(unixPath: daemon.socketPath) }
        for connection in connections {
            connection.send(respCommand("PING"))
            #expect(connection.read(7) == Array("+PONG\r\n".utf8))
        }
        connections[0].send(respCommand("CLIENT", "LIST"))
        let list = String(decoding: connections[0].readAvailable(), as: UTF8.self)
        let threads = list.split(separator: "\n").compactMap { line in
            line.split(separator: " ").first { $0.hasPrefix("io-thread=") }.map { String($0.dropFirst(10)) }
        }
        #expect(threads.count == 10, "\(list)")
        let onFirst = threads.filter { $0 == "0" }.count, onSecond = threads.filter { $0 == "1" }.count
        #expect(onFirst + onSecond == 10 && abs(onFirst - onSecond) <= 1, "io-threads \(threads)")
        withExtendedLifetime(connections) {}
    }
}
