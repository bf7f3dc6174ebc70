import Foundation
import ShmKV
import TestSupport
import Testing

/// Past one host with what people already run: Debian's twemproxy (nutcracker) in front of three shards,
/// as docs/SCALING.md describes it.
@Suite struct ScalingTests {
    static let password = "shard secret"

    @Test("three shards behind twemproxy: redis-benchmark, redis-py pipelines and MGET, every key on exactly one shard")
    func twemproxyThreeShards() async throws {
        let shards = try (0..<3).map { _ in try Daemon(environment: ["SHMKV_AUTH_PASSWORD": ScalingTests.password]) }
        defer { for shard in shards { shard.stop() } }
        let proxy = try Nutcracker(servers: shards.map { "\($0.tcpHost):\($0.tcpPort)" }, password: ScalingTests.password)
        defer { withExtendedLifetime(proxy) {} }  // it runs until the test ends
        let port = proxy.port
        let auth = ["-a", ScalingTests.password, "-h", "127.0.0.1", "-p", String(port)]
        #expect(try eventually { try runProcess("/usr/bin/redis-cli", ["--no-auth-warning"] + auth + ["PING"]).stdout == "PONG\n" },
                "nutcracker did not answer on port \(port)")

        // redis-benchmark through the proxy: random keys out of 1,000, one at a time and pipelined.
        for extra in [["-t", "set,get"], ["-t", "set", "-P", "16"]] {
            let bench = try runProcess("/usr/bin/redis-benchmark", auth + ["-n", "4000", "-r", "1000", "-d", "16", "-q"] + extra)
            #expect(bench.status == 0 && bench.stdout.contains("SET: "), "redis-benchmark \(extra): \(bench.stdout) \(bench.stderr)")
        }

        // redis-py through the proxy: a pipeline of 500 SETs, MGET across shards, a pipeline of DELs.
        // RESP2 and no CLIENT SETINFO: twemproxy knows neither HELLO nor CLIENT (SCALING.md).
        let script = """
            import sys, redis
            r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]), password=sys.argv[2], protocol=2,
                            lib_name=None, lib_version=None)
            pipe = r.pipeline(transaction=False)
            for i in range(500):
                pipe.set(f"py:{i}", f"v{i}")
            assert pipe.execute() == [True] * 500
            keys = [f"py:{i}" for i in range(500)]
            assert r.mget(keys) == [f"v{i}".encode() for i in range(500)], "MGET across shards"
            pipe = r.pipeline(transaction=False)
            for i in range(0, 500, 5):
                pipe.delete(f"py:{i}")
            assert pipe.execute() == [1] * 100
            assert r.mget(["py:0", "py:1"]) == [None, b"v1"]
            print("ok")
            """
        guard let python = redisPyPython() else { return }
        let py = try runProcess(python, ["-c", script, String(port), ScalingTests.password])
        #expect(py.stdout == "ok\n", "redis-py: \(py.stderr)")

        // Every key is on exactly one shard, and every shard holds some.
        var owner: [String: Int] = [:]
        for (index, shard) in shards.enumerated() {
            let client = try Client(socketPath: shard.socketPath, timeoutSeconds: 10,
                                    credentials: Credentials(password: ScalingTests.password))
            defer { client.close() }
            var count = 0
            for try await entry in client.scan(prefix: []) {
                let key = String(decoding: entry.key, as: UTF8.self)
                #expect(owner[key] == nil, "\(key) is on shard \(owner[key] ?? -1) and on shard \(index)")
                owner[key] = index
                count += 1
            }
            #expect(count > 0, "shard \(index) holds no key")
        }
        let pythonKeys = (0..<500).filter { $0 % 5 != 0 }.map { "py:\($0)" }
        #expect(pythonKeys.allSatisfy { owner[$0] != nil }, "a key redis-py wrote is on no shard")
        #expect(owner.keys.filter { $0.hasPrefix("py:") }.count == pythonKeys.count)
        let benchmarkKeys = owner.keys.filter { $0.hasPrefix("key:") }.count
        #expect(benchmarkKeys > 900 && benchmarkKeys <= 1000, "redis-benchmark keys on the shards: \(benchmarkKeys)")
    }
}
