import Foundation
import ShmKV
import TestSupport
import Testing
import Wire

/// Passwords, users and permissions, through every client: redis-cli, redis-py, nutcracker, the native
/// `Client` and `shmkv`; and Redis's replies compared with a real redis-server's.
@Suite("Authentication and access")
struct AuthTests {
    static let password = "s3cret pass"

    /// A daemon whose default user has `password` (from a file), plus `extraConfig` YAML.
    /// `users` adds `auth.users` with a password file `<name>.pw` holding `<name>-pw` for each name.
    func daemon(users: [(name: String, permissions: String, prefixes: String)] = [], environment: [String: String] = [:]) throws -> (Daemon, TemporaryDirectory) {
        let dir = TemporaryDirectory("shmkv-auth")
        try Data("\(AuthTests.password)\n".utf8).write(to: URL(fileURLWithPath: dir.file("pw")))
        var yaml = "auth:\n  passwordFile: \(dir.file("pw"))\n"
        if !users.isEmpty { yaml += "  users:\n" }
        for user in users {
            try Data("\(user.name)-pw\r\n".utf8).write(to: URL(fileURLWithPath: dir.file("\(user.name).pw")))
            yaml += "    \(user.name):\n      passwordFile: \(dir.file("\(user.name).pw"))\n"
            yaml += "      permissions: \(user.permissions)\n      keyPrefixes: \(user.prefixes)\n"
        }
        try Data(yaml.utf8).write(to: URL(fileURLWithPath: dir.file("c.yaml")))
        return (try Daemon(extraArguments: ["--config", dir.file("c.yaml")], environment: environment), dir)
    }

    func cli(_ daemon: Daemon, _ args: [String], stdin: [UInt8]? = nil) throws -> String {
        try TestSupport.redisCLI(daemon, args, stdin: stdin)
    }

    @Test("before AUTH only AUTH, HELLO, PING and QUIT run; redis-cli -a and --user/--pass; ACL WHOAMI and LIST")
    func redisCLI() throws {
        let (daemon, dir) = try daemon()
        defer { daemon.stop(); dir.remove() }
        #expect(try cli(daemon, ["GET", "k"]) == "NOAUTH Authentication required.")
        #expect(try cli(daemon, ["SET", "k", "v"]) == "NOAUTH Authentication required.")
        #expect(try cli(daemon, ["PING"]) == "PONG")
        #expect(try cli(daemon, ["AUTH", "wrong"]) == "WRONGPASS invalid username-password pair or user is disabled.")
        #expect(try cli(daemon, ["--no-auth-warning", "-a", AuthTests.password, "SET", "k", "v"]) == "OK")
        #expect(try cli(daemon, ["--no-auth-warning", "-a", AuthTests.password, "GET", "k"]) == "v")
        #expect(try cli(daemon, ["--no-auth-warning", "--user", "default", "--pass", AuthTests.password, "ACL", "WHOAMI"]) == "default")
        // ACL LIST shows the password as Redis does: its SHA-256, as sha256sum computes it.
        let digest = try runProcess("/usr/bin/sha256sum", [], stdin: Array(AuthTests.password.utf8)).stdout.prefix(64)
        #expect(try cli(daemon, ["--no-auth-warning", "-a", AuthTests.password, "ACL", "LIST"]) == "user default on #\(digest) ~* &* +@all")
        // AUTH on the same connection lifts the refusal for what follows.
        let session = try cli(daemon, [], stdin: Array("GET k\nAUTH \"\(AuthTests.password)\"\nGET k\n".utf8))
        #expect(session == "NOAUTH Authentication required.\n\nOK\nv")
    }

    @Test("unauthenticated replies and request limits are byte for byte redis-server's with requirepass")
    func matchesRedisServer() throws {
        let redis = try RedisServer(extraArguments: ["--requirepass", AuthTests.password])
        let (daemon, dir) = try daemon()
        defer { daemon.stop(); dir.remove() }
        let cases = [
            "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", "*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n", "*2\r\n$4\r\nAUTH\r\n$5\r\nwrong\r\n",
            "*3\r\n$4\r\nAUTH\r\n$7\r\ndefault\r\n$5\r\nwrong\r\n", "*4\r\n$4\r\nAUTH\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n",
            "*5\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$7\r\ndefault\r\n$5\r\nwrong\r\n",
            "*11\r\n", "*10\r\n$16385\r\n", "*1\r\n$99999999999999999999\r\n",
            "GET k\r\n", "*1\r\n$4\r\nQUIT\r\n",
        ]
        for input in cases {
            let bytes = Array(input.utf8)
            let expected = String(decoding: try RawConnection.exchange(unixPath: redis.socketPath, bytes), as: UTF8.self)
            let got = String(decoding: try RawConnection.exchange(unixPath: daemon.socketPath, bytes), as: UTF8.self)
            #expect(got == expected, "\(input.debugDescription)")
        }
        // Once authenticated, the large-request limits are the ordinary ones.
        let big = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$20000\r\n" + String(repeating: "x", count: 20000) + "\r\n"
        let auth = "*2\r\n$4\r\nAUTH\r\n$\(AuthTests.password.utf8.count)\r\n\(AuthTests.password)\r\n"
        let reply = String(decoding: try RawConnection.exchange(unixPath: daemon.socketPath, Array((auth + big).utf8)), as: UTF8.self)
        #expect(reply == "+OK\r\n+OK\r\n")
    }

    @Test("named users: read-only, key prefixes, NOPERM texts as Redis's; SCAN and KEYS show only the user's keys")
    func users() throws {
        let (daemon, dir) = try daemon(users: [("reader", "[read]", "[\"app:\"]"), ("writer", "[read, write]", "[]")])
        defer { daemon.stop(); dir.remove() }
        let admin = ["--no-auth-warning", "-a", AuthTests.password]
        let reader = ["--no-auth-warning", "--user", "reader", "--pass", "reader-pw"]
        let writer = ["--no-auth-warning", "--user", "writer", "--pass", "writer-pw"]
        #expect(try cli(daemon, admin + ["MSET", "app:1", "a", "app:2", "b", "other", "c"]) == "OK")
        #expect(try cli(daemon, reader + ["GET", "app:1"]) == "a")
        #expect(try cli(daemon, reader + ["MGET", "app:1", "app:2"]) == "a\nb")
        #expect(try cli(daemon, reader + ["GET", "other"]) == "NOPERM this user has no permissions to access one of the keys used as arguments")
        #expect(try cli(daemon, reader + ["MGET", "app:1", "other"]) == "NOPERM this user has no permissions to access one of the keys used as arguments")
        #expect(try cli(daemon, reader + ["SET", "app:1", "x"]) == "NOPERM this user has no permissions to run the 'set' command")
        #expect(try cli(daemon, reader + ["CONFIG", "GET", "save"]) == "NOPERM this user has no permissions to run the 'config|get' command")
        #expect(try cli(daemon, reader + ["FLUSHDB"]) == "NOPERM this user has no permissions to run the 'flushdb' command")
        #expect(try cli(daemon, reader + ["SUBSCRIBE", "x"]) == "NOPERM this user has no permissions to access one of the channels used as arguments")
        #expect(try cli(daemon, reader + ["KEYS", "*"]) == "app:1\napp:2")
        #expect(try cli(daemon, reader + ["--scan"]) == "app:1\napp:2")
        #expect(try cli(daemon, reader + ["ACL", "WHOAMI"]) == "reader")
        #expect(try cli(daemon, reader + ["ACL", "LIST"]) == "NOPERM this user has no permissions to run the 'acl|list' command")
        #expect(try cli(daemon, writer + ["SET", "other", "w"]) == "OK")
        #expect(try cli(daemon, writer + ["FLUSHDB"]) == "NOPERM this user has no permissions to run the 'flushdb' command")
        #expect(try cli(daemon, ["--no-auth-warning", "--user", "reader", "--pass", "wrong", "GET", "app:1"]).contains("WRONGPASS"))
        let list = try cli(daemon, admin + ["ACL", "LIST"]).split(separator: "\n").map(String.init)
        #expect(list.count == 3)
        #expect(list[1].hasPrefix("user reader on #") && list[1].hasSuffix(" ~app:* resetchannels -@all +@read"))
        #expect(list[2].hasPrefix("user writer on #") && list[2].hasSuffix(" ~* &* -@all +@read +@write"))

        // The native protocol enforces the same: the client, and the CLI with --user and --password-file.
        let native = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10, credentials: Credentials(user: "reader", password: "reader-pw"))
        #expect(try native.get(Array("app:2".utf8)) == Array("b".utf8))
        #expect(throws: ShmKVError.self) { try native.get(Array("other".utf8)) }
        #expect(throws: ShmKVError.self) { try native.put(Array("app:3".utf8), Array("x".utf8)) }
        #expect(try native.scanPage(ScanQuery(mode: .prefix, start: [])).entries.map { String(decoding: $0.key, as: UTF8.self) } == ["app:1", "app:2"])
        let scan = try runProcess(Products.path("shmkv"), ["--socket", daemon.socketPath, "--user", "reader", "--password-file", dir.file("reader.pw"), "scan"].shuffledSubcommandFirst())
        #expect(scan.status == 0, "\(scan.stderr)")
        #expect(scan.stdout.contains("app:1") && !scan.stdout.contains("other"))
    }

    @Test("the native client, shmkv (--password-file, SHMKV_PASSWORD) and redis-py authenticate; without a password they are refused")
    func clients() throws {
        let (daemon, dir) = try daemon()
        defer { daemon.stop(); dir.remove() }
        #expect(throws: ShmKVError.self) { try Client(socketPath: daemon.socketPath, timeoutSeconds: 10).get(Array("k".utf8)) }
        #expect(throws: ShmKVError.self) { try Client(socketPath: daemon.socketPath, timeoutSeconds: 10, credentials: Credentials(password: "nope")) }
        let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10, credentials: Credentials(password: AuthTests.password))
        try client.put(Array("k".utf8), Array("v".utf8))
        #expect(try client.get(Array("k".utf8)) == Array("v".utf8))

        let shmkv = Products.path("shmkv")
        let refused = try runProcess(shmkv, ["get", "k", "--socket", daemon.socketPath])
        #expect(refused.status == 2 && refused.stderr.contains("NOAUTH"))
        let fromFile = try runProcess(shmkv, ["get", "k", "--socket", daemon.socketPath, "--password-file", dir.file("pw")])
        #expect(fromFile.status == 0 && fromFile.stdout == "v\n", "\(fromFile.stderr)")
        let fromEnv = try runProcess(shmkv, ["put", "k2", "w", "--socket", daemon.socketPath], environment: ["SHMKV_PASSWORD": AuthTests.password])
        #expect(fromEnv.status == 0, "\(fromEnv.stderr)")

        let script = """
            import redis, sys
            r = redis.Redis(unix_socket_path=sys.argv[1], password=sys.argv[2], protocol=3)
            assert r.get("k2") == b"w", r.get("k2")
            r.set("py", "1")
            u = redis.Redis(unix_socket_path=sys.argv[1], username="default", password=sys.argv[2])
            assert u.acl_whoami() == "default"
            try:
                redis.Redis(unix_socket_path=sys.argv[1], password="wrong").ping()
                raise SystemExit("a wrong password was accepted")
            except redis.exceptions.AuthenticationError:
                pass
            try:
                redis.Redis(unix_socket_path=sys.argv[1]).get("k")
                raise SystemExit("no password was accepted")
            except redis.exceptions.AuthenticationError:
                pass
            print("ok")
            """
        guard let python = redisPyPython() else { return }
        let py = try runProcess(python, ["-c", script, daemon.socketPath, AuthTests.password])
        #expect(py.stdout == "ok\n", "\(py.stderr)")
        #expect(try client.get(Array("py".utf8)) == Array("1".utf8))
    }

    @Test("twemproxy (nutcracker) with redis_auth routes through to the daemon")
    func nutcracker() throws {
        let (daemon, dir) = try daemon()
        defer { daemon.stop(); dir.remove() }
        let proxy = try Nutcracker(servers: ["\(daemon.tcpHost):\(daemon.tcpPort)"], password: AuthTests.password)
        defer { withExtendedLifetime(proxy) {} }  // it runs until the test ends
        let port = proxy.port
        func viaProxy(_ args: [String]) throws -> String {
            let r = try runProcess("/usr/bin/redis-cli", ["--no-auth-warning", "-a", AuthTests.password, "-p", String(port)] + args)
            return (r.stdout + r.stderr).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        #expect(try eventually { try viaProxy(["PING"]) == "PONG" }, "nutcracker did not answer on port \(port)")
        #expect(try viaProxy(["SET", "through", "proxy"]) == "OK")
        #expect(try viaProxy(["GET", "through"]) == "proxy")
        #expect(try viaProxy(["MGET", "through", "missing"]) == "proxy")
        let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10, credentials: Credentials(password: AuthTests.password))
        #expect(try client.get(Array("through".utf8)) == Array("proxy".utf8))
    }

    @Test("a connection that does not authenticate within auth.timeout is closed")
    func authTimeout() throws {
        let (daemon, dir) = try daemon(environment: ["SHMKV_AUTH_TIMEOUT": "1"])
        defer { daemon.stop(); dir.remove() }
        let idle = try RawConnection(unixPath: daemon.socketPath)
        let (_, closed) = idle.readUntilClosed()
        #expect(closed)
        let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10, credentials: Credentials(password: AuthTests.password))
        sleep(2)
        #expect(try client.ping(Array("still".utf8)) == Array("still".utf8))
        let stats = try client.stats()
        #expect(stats.first { $0.name == "auth_timeout_disconnections" }?.value == 1)
    }
}

extension Array where Element == String {
    /// Moves the last element (the subcommand) to the front: options may stand on either side of it.
    func shuffledSubcommandFirst() -> [String] { [last!] + dropLast() }
}
