import Foundation
import ShmKV
import TestSupport
import Testing

/// `shmkv bench` against the real daemon: every protocol and transport, the request mix, TTLs, local
/// reads, JSON output; and a clear failure when it cannot run.
@Suite("shmkv bench")
struct BenchCommandTests {
    let cli = Products.path("shmkv")

    func json(_ arguments: [String]) throws -> [String: Any] {
        let run = try runProcess(cli, ["bench", "--json"] + arguments)
        try #require(run.status == 0, "\(arguments): \(run.stderr)")
        return try #require(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], "\(run.stdout)")
    }

    @Test("native and RESP over Unix and TCP count every request, GET:SET as asked, no errors")
    func protocolsAndTransports() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let tcp = ["--host", daemon.tcpHost, "--port", String(daemon.tcpPort)]
        for (target, proto) in [(["--socket", daemon.socketPath], "native"), (tcp, "native"), (["--socket", daemon.socketPath], "resp"), (tcp, "resp")] {
            let r = try json(target + ["--protocol", proto, "-c", "4", "-P", "3", "-r", "1000", "--keys", "50", "--ratio", "3:1"])
            #expect(r["requests"] as? Int == 1000 && r["errors"] as? Int == 0, "\(proto) \(target): \(r)")
            let gets = r["gets"] as? Int ?? 0, sets = r["sets"] as? Int ?? 0
            #expect(gets + sets == 1000 && gets > sets * 2 && sets > 100, "\(r)")
            // Preloaded: every GET finds its key.
            #expect(r["misses"] as? Int == 0)
            let latency = r["latency_us"] as? [String: Double] ?? [:]
            #expect(Set(latency.keys) == ["p50", "p90", "p99", "p99.9", "max"])
        }
        let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
        #expect(try client.get(Array("key:000000000049".utf8)) == [UInt8](repeating: UInt8(ascii: "x"), count: 100))
        #expect(try client.get(Array("key:000000000050".utf8)) == nil)
    }

    @Test("SETs with --ttl carry it; --duration ends the run; --local reads the map in-process")
    func ttlDurationAndLocal() throws {
        let dir = TemporaryDirectory("shmkv-bench")
        defer { dir.remove() }
        let daemon = try Daemon(dataDirectory: dir.file("data"))
        defer { daemon.stop() }
        let socket = ["--socket", daemon.socketPath]
        let sets = try json(socket + ["--no-preload", "--ratio", "0:1", "--ttl", "100", "--keys", "5", "-c", "2", "-r", "200", "-d", "7"])
        #expect(sets["sets"] as? Int == 200 && sets["errors"] as? Int == 0)
        let resp = try RESPClient(address: .unix(path: daemon.socketPath), timeoutSeconds: 10)
        let ttl = try resp.command(["TTL", "key:000000000003"].map { Array($0.utf8) })
        #expect(ttl == .integer(100) || ttl == .integer(99), "\(ttl)")
        #expect(try resp.command(["STRLEN", "key:000000000003"].map { Array($0.utf8) }) == .integer(7))

        let started = Date()
        let timed = try json(socket + ["--no-preload", "--keys", "5", "-c", "2", "--duration", "0.5"])
        #expect(Date().timeIntervalSince(started) < 30)
        #expect((timed["requests"] as? Int ?? 0) > 0 && timed["errors"] as? Int == 0)

        let local = try json(socket + ["--local", "--data-dir", dir.file("data"), "--keys", "5", "-c", "2", "-r", "1000", "--ratio", "1:0"])
        #expect(local["requests"] as? Int == 1000 && local["misses"] as? Int == 0
                && (local["target"] as? String)?.hasPrefix("LocalStore /") == true, "\(local)")
        let missing = try json(["--local", "--data-dir", dir.file("data"), "--no-preload", "--keys", "1000", "-c", "1", "-r", "500", "--ratio", "1:0"])
        #expect((missing["misses"] as? Int ?? 0) > 400, "keys past key:000000000004 were never stored: \(missing)")
    }

    @Test("a refused connection or password ends with exit 2 and the reason; bad options are refused")
    func failures() throws {
        let dir = TemporaryDirectory("shmkv-bench-auth")
        defer { dir.remove() }
        try Data("pw\n".utf8).write(to: URL(fileURLWithPath: dir.file("pw")))
        let daemon = try Daemon(environment: ["SHMKV_AUTH_PASSWORD_FILE": dir.file("pw")])
        defer { daemon.stop() }
        for proto in ["native", "resp"] {
            let refused = try runProcess(cli, ["bench", "--socket", daemon.socketPath, "--protocol", proto, "-r", "10", "--no-preload"])
            #expect(refused.status == 2 && (refused.stderr.contains("NOAUTH") || refused.stderr.contains("uthentication")), "\(proto): \(refused.stderr)")
            let allowed = try runProcess(cli, ["bench", "--socket", daemon.socketPath, "--protocol", proto, "-r", "10", "--keys", "10",
                                               "--password-file", dir.file("pw"), "--json"])
            #expect(allowed.status == 0, "\(proto): \(allowed.stderr)")
        }
        let nobody = try runProcess(cli, ["bench", "--socket", dir.file("nothing.sock"), "-r", "10"])
        #expect(nobody.status == 2 && nobody.stderr.contains("nothing.sock"), "\(nobody.stderr)")
        for bad in [["--ratio", "0:0"], ["--ratio", "x"], ["-c", "0"], ["--pipeline", "0"], ["--ttl", "0"], ["--duration", "-1"]] {
            #expect(try runProcess(cli, ["bench", "--socket", daemon.socketPath] + bad).status != 0, "\(bad)")
        }
    }
}
