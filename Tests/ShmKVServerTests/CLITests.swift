import Foundation
import ShmKV
import TestSupport
import Testing

/// The `shmkv` binary against the real daemon, over both transports.
@Suite struct CLITests {
    enum Transport: String, CaseIterable, Sendable { case unix, tcp }

    func arguments(_ daemon: Daemon, _ transport: Transport) -> [String] {
        switch transport {
        case .unix: ["--socket", daemon.socketPath]
        case .tcp: ["--host", daemon.tcpHost, "--port", String(daemon.tcpPort)]
        }
    }

    @Test(arguments: Transport.allCases)
    func everyCommandWorks(transport: Transport) throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let cli = Products.path("shmkv")
        let to = arguments(daemon, transport)
        func run(_ args: [String], stdin: [UInt8]? = nil) throws -> ProcessResult {
            // Connection options belong to the subcommand: shmkv get --socket S key
            try runProcess(cli, [args[0]] + to + Array(args.dropFirst()), stdin: stdin)
        }
        #expect(try run(["ping"]).stdout == "PONG\n")
        #expect(try run(["put", "a", "1"]).stdout == "OK\n")
        let get = try run(["get", "a"])
        #expect(get.stdout == "1\n" && get.status == 0)
        let missing = try run(["get", "nope"])
        #expect(missing.status == 1 && missing.stdout.isEmpty)
        // From stdin with '-', binary: shown escaped, never raw, unless --raw.
        #expect(try run(["put", "bin", "-"], stdin: [0x00, 0x1B, 0x41, 0xFF]).status == 0)
        #expect(try run(["get", "bin"]).stdout == "\"\\x00\\x1bA\\xff\"\n")
        #expect(try run(["get", "bin", "--raw"]).stdoutBytes == [0x00, 0x1B, 0x41, 0xFF])
        // From a file.
        let file = daemon.directory.file("value.txt")
        try Data("from a file".utf8).write(to: URL(fileURLWithPath: file))
        #expect(try run(["put", "f", "--file", file]).status == 0)
        #expect(try run(["get", "f"]).stdout == "from a file\n")
        // Conditions.
        let nx = try run(["put", "a", "2", "--nx"])
        #expect(nx.status == 1 && nx.stdout == "NOT STORED\n")
        #expect(try run(["put", "a", "3", "--xx"]).status == 0)
        #expect(try run(["incr", "counter", "--by", "5"]).stdout == "5\n")
        #expect(try run(["incr", "counter"]).stdout == "6\n")
        #expect(try run(["mget", "a", "nope", "counter"]).stdout == "3\n(nil)\n6\n")
        #expect(try run(["scan", "--prefix", "c"]).stdout == "counter\t6\n")
        #expect(try run(["scan", "--limit", "2", "--keys-only"]).stdout == "a\nbin\n")
        #expect(try run(["scan", "--from", "b", "--to", "d", "--keys-only"]).stdout == "bin\ncounter\n")
        // JSON for machines.
        let json = try run(["get", "bin", "--json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(object?["key"] as? String == "bin")
        #expect((object?["value"] as? [String: String])?["base64"] == "ABtB/w==")
        let stats = try JSONSerialization.jsonObject(with: Data(try run(["stats", "--json"]).stdout.utf8)) as? [String: Int]
        #expect(stats?["keys"] == 4) // a, bin, f, counter
        #expect(try run(["stats"]).stdout.contains("writes_committed "))
        #expect(try run(["del", "a"]).stdout == "1\n")
        let delAgain = try run(["del", "a"])
        #expect(delAgain.status == 1 && delAgain.stdout == "0\n")
        // Errors: usage is argument-parser's 64; a server refusal is 2 with a message.
        #expect(try run(["put", "k"]).status == 64)
        let tooLong = try run(["put", String(repeating: "k", count: 512), "v"])
        #expect(tooLong.status == 2 && tooLong.stderr.contains("INVALID_KEY"))
    }

    @Test func connectionErrorsExitTwoAndSHMKVSocketIsHonoured() throws {
        let cli = Products.path("shmkv")
        let failed = try runProcess(cli, ["ping", "--socket", "/nonexistent/shmkvd.sock"])
        #expect(failed.status == 2)
        #expect(failed.stderr.contains("connection error"))
        let daemon = try Daemon()
        defer { daemon.stop() }
        let viaEnv = try runProcess(cli, ["put", "e", "v"], environment: ["SHMKV_SOCKET": daemon.socketPath])
        #expect(viaEnv.status == 0)
        #expect(try runProcess(cli, ["get", "e"], environment: ["SHMKV_SOCKET": daemon.socketPath]).stdout == "v\n")
    }

    @Test("watch prints put and delete lines from the ring (--data-dir, or the socket's directory) and over the socket; get and scan read locally")
    func watchAndLocalReads() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let cli = Products.path("shmkv")
        let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
        try client.put("user:1", "a")
        try client.put("other", "b")
        #expect(try client.delete("user:1"))
        try client.put("user:2", "c\u{1}")
        let expected = "put 1 user:1\ndelete 3 user:1\nput 4 user:2\n"
        for how in [["--data-dir", daemon.dataDirectory], ["--socket", daemon.socketPath], ["--remote", "--socket", daemon.socketPath],
                    ["--host", daemon.tcpHost, "--port", String(daemon.tcpPort)]] {
            let watched = try runProcess(cli, ["watch"] + how + ["--from", "1", "--count", "3", "user:"])
            #expect(watched.stdout == expected, "\(how): \(watched.stderr)")
            #expect(watched.status == 0)
        }
        let json = try runProcess(cli, ["watch", "--data-dir", daemon.dataDirectory, "--from", "2", "--count", "1", "--json"])
        #expect(json.stdout.hasPrefix("{\"event\":\"put\",\"key\":\"other\",\"redis_event\":\"set\",\"sequence\":2,\"txn\":"))
        // A watcher started first sees a write made afterwards by another process.
        // (It prints nothing before its first event, so keep writing until one arrives.)
        let live = try ChildProcess(cli, ["watch", "--data-dir", daemon.dataDirectory, "--count", "1", "live:"])
        let writer = Thread {
            for attempt in 0..<500 where live.process.isRunning {
                _ = try? client.put("live:\(attempt)", "x")
                usleep(20_000)
            }
        }
        writer.start()
        let line = live.readLine()
        #expect(line?.hasPrefix("put ") == true && line?.contains(" live:") == true)
        #expect(live.wait() == 0)
        let get = try runProcess(cli, ["get", "--data-dir", daemon.dataDirectory, "user:2"])
        #expect(get.stdout == "\"c\\x01\"\n")
        #expect(try runProcess(cli, ["get", "--local", "--socket", daemon.socketPath, "other"]).stdout == "b\n")
        let missing = try runProcess(cli, ["get", "--data-dir", daemon.dataDirectory, "user:1"])
        #expect(missing.status == 1)
        let scan = try runProcess(cli, ["scan", "--data-dir", daemon.dataDirectory, "--prefix", "user:", "--keys-only"])
        #expect(scan.stdout == "user:2\n")
        let bad = try runProcess(cli, ["get", "--data-dir", "/nonexistent/dir", "k"])
        #expect(bad.status == 2 && bad.stderr.contains("cannot read /nonexistent/dir directly"))
    }
}
