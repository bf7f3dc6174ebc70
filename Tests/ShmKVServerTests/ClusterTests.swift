import Foundation
import ShmKV
import TestSupport
import Testing
@testable import ShmKVServer

/// A free TCP port on loopback (bound, read and released; the daemon binds it right after).
private func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw DaemonError.didNotStart(status: -1, stderr: "no free port") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Three `shmkvd` nodes on loopback sharing one static slot map.
private struct ThreeNodes {
    let daemons: [Daemon]
    let ports: [Int]
    let ids: [String]

    init() throws {
        let ids = ["a", "b", "c"].map { String(repeating: $0, count: 40) }
        self.ids = ids
        let ports = try (0..<3).map { _ in try freePort() }
        let ranges = ["0-5460", "5461-10922", "10923-16383"]
        let map = (0..<3).map { "\(ids[$0]) 127.0.0.1:\(ports[$0]) \(ranges[$0])" }.joined(separator: "; ")
        daemons = try (0..<3).map { i in
            try Daemon(extraArguments: ["--listen", "127.0.0.1:\(ports[i])"],
                       environment: ["SHMKV_CLUSTER_ENABLED": "yes", "SHMKV_CLUSTER_MY_ID": ids[i], "SHMKV_CLUSTER_NODES": map])
        }
        self.ports = ports
    }

    func stop() { for daemon in daemons { _ = daemon.stop() } }

    func cli(_ port: Int, _ args: [String]) throws -> String {
        let result = try runProcess("/usr/bin/redis-cli", ["-p", String(port)] + args)
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

@Suite("Redis Cluster's protocol over a static slot map: MOVED, CROSSSLOT, CLUSTER commands; redis-cli -c, redis-py, redis-benchmark")
struct ClusterTests {
    @Test("hash slots as Redis computes them (CRC16, hash tags) and the map's checks")
    func slotsAndMap() throws {
        func slot(_ key: String) -> Int { ClusterMap.slot(Array(key.utf8)) }
        #expect(slot("foo") == 12182)
        #expect(slot("123456789") == 0x31C3 & 16383)
        #expect(slot("{user1000}.following") == slot("{user1000}.followers"))
        #expect(slot("foo{}{bar}") == ClusterMap.slot(Array("foo{}{bar}".utf8)) && slot("foo{}{bar}") != slot("bar"))
        #expect(slot("foo{{bar}}zap") == slot("{bar"))
        #expect(slot("foo{bar}{zap}") == slot("bar"))
        let a = String(repeating: "a", count: 40), b = String(repeating: "b", count: 40)
        #expect(throws: ConfigurationError.self) { _ = try ClusterMap(nodes: "\(a) 127.0.0.1:1 0-100", myID: a, listen: nil) }
        #expect(throws: ConfigurationError.self) {
            _ = try ClusterMap(nodes: "\(a) 127.0.0.1:1 0-9000; \(b) 127.0.0.1:2 9000-16383", myID: a, listen: nil)
        }
        #expect(throws: ConfigurationError.self) { _ = try ClusterMap(nodes: "xyz 127.0.0.1:1 0-16383", myID: "xyz", listen: nil) }
        #expect(throws: ConfigurationError.self) { _ = try ClusterMap(nodes: "\(a) 127.0.0.1:1 0-16383", myID: b, listen: nil) }
        let map = try ClusterMap(nodes: "\(a) 127.0.0.1:1 0-8000,9000-16383; \(b) 127.0.0.1:2 8001-8999", myID: b, listen: nil)
        #expect(map.ownsSlot(8500) && !map.ownsSlot(100) && map.owner(of: 16000).port == 1)
        #expect(map.slotRanges.map(\.range) == [0...8000, 8001...8999, 9000...16383])
        let single = try ClusterMap(nodes: "", myID: "", listen: "0.0.0.0:7379")
        #expect(single.nodes.count == 1 && single.myself.host == "127.0.0.1" && ClusterMap.isNodeID(single.myself.id))
    }

    @Test("three nodes: MOVED to the owner, CROSSSLOT, hash tags, redis-cli -c, CLUSTER SLOTS/NODES/SHARDS/INFO, MULTI")
    func threeNodes() throws {
        let cluster = try ThreeNodes()
        defer { cluster.stop() }
        let (p1, p2, p3) = (cluster.ports[0], cluster.ports[1], cluster.ports[2])
        // foo is in slot 12182, node 3's.
        #expect(try cluster.cli(p1, ["SET", "foo", "bar"]) == "MOVED 12182 127.0.0.1:\(p3)")
        #expect(try cluster.cli(p1, ["-c", "SET", "foo", "bar"]) == "OK")
        #expect(try cluster.cli(p2, ["-c", "GET", "foo"]) == "bar")
        #expect(try cluster.cli(p3, ["GET", "foo"]) == "bar")
        #expect(try cluster.cli(p3, ["DBSIZE"]) == "1" && cluster.cli(p1, ["DBSIZE"]) == "0")
        #expect(try cluster.cli(p1, ["-c", "MSET", "a", "1", "b", "2"]) == "CROSSSLOT Keys in request don't hash to the same slot")
        #expect(try cluster.cli(p1, ["-c", "MSET", "{user}a", "1", "{user}b", "2"]) == "OK")
        #expect(try cluster.cli(p1, ["-c", "MGET", "{user}a", "{user}b"]) == "1\n2")
        #expect(try cluster.cli(p2, ["CLUSTER", "KEYSLOT", "foo"]) == "12182")
        #expect(try cluster.cli(p2, ["CLUSTER", "MYID"]) == cluster.ids[1])
        #expect(try cluster.cli(p1, ["CLUSTER", "SLOTS"]).split(separator: "\n") == [
            "0", "5460", "127.0.0.1", "\(p1)", "\(cluster.ids[0])", "5461", "10922", "127.0.0.1", "\(p2)", "\(cluster.ids[1])",
            "10923", "16383", "127.0.0.1", "\(p3)", "\(cluster.ids[2])",
        ])
        let nodes = try cluster.cli(p2, ["CLUSTER", "NODES"]).split(separator: "\n").map { $0.split(separator: " ") }
        #expect(nodes.count == 3 && nodes[1][2] == "myself,master" && nodes[0][2] == "master")
        #expect(nodes[2][1] == "127.0.0.1:\(p3)@\(p3 + 10000)" && nodes[2].last == "10923-16383")
        #expect(try cluster.cli(p1, ["CLUSTER", "INFO"]).hasPrefix("cluster_state:ok"))
        #expect(try cluster.cli(p1, ["CLUSTER", "SHARDS"]).contains("online"))
        #expect(try cluster.cli(p1, ["INFO", "cluster"]).contains("cluster_enabled:1"))
        #expect(try cluster.cli(p1, ["CONFIG", "GET", "cluster-enabled"]) == "cluster-enabled\nyes")
        #expect(try cluster.cli(p1, ["READONLY"]) == "OK")
        // Inside MULTI a key of another node is refused at once and EXEC aborts, as Redis does.
        let multi = try runProcess("/usr/bin/redis-cli", ["-p", String(p1)], stdin: Array("MULTI\nSET foo x\nEXEC\n".utf8)).stdout
        #expect(multi.contains("MOVED 12182") && multi.contains("EXECABORT"), "\(multi)")
        // A daemon without cluster.enabled refuses CLUSTER as Redis does.
        let plain = try Daemon()
        defer { _ = plain.stop() }
        #expect(try cluster.cli(plain.tcpPort, ["CLUSTER", "SLOTS"]) == "ERR This instance has cluster support disabled")
    }

    @Test("redis-py's RedisCluster: pipeline, mget_nonatomic, scan_iter over the nodes; every key on the node that owns its slot")
    func redisPyCluster() throws {
        let cluster = try ThreeNodes()
        defer { cluster.stop() }
        guard let python = redisPyPython() else { return }
        let script = """
        import sys, redis
        from redis.cluster import RedisCluster, ClusterNode
        ports = [int(p) for p in sys.argv[1:]]
        rc = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", ports[0])], decode_responses=True)
        assert len(rc.get_primaries()) == 3, rc.get_primaries()
        pipe = rc.pipeline()
        for i in range(300):
            pipe.set(f"user:{i}", i)
        assert all(pipe.execute())
        values = rc.mget_nonatomic([f"user:{i}" for i in range(300)])
        assert values == [str(i) for i in range(300)], values[:5]
        assert rc.incr("counter") == 1 and rc.get("counter") == "1"
        found = set(rc.scan_iter(match="user:*", count=50))
        assert found == {f"user:{i}" for i in range(300)}, len(found)
        total = 0
        for port in ports:
            node = redis.Redis(host="127.0.0.1", port=port, decode_responses=True)
            slots = node.execute_command("CLUSTER", "SLOTS")
            me = [(s[0], s[1]) for s in slots if s[2][1] == port]
            keys = node.keys("*")
            total += len(keys)
            for key in keys:
                slot = rc.keyslot(key)
                assert any(lo <= slot <= hi for lo, hi in me), (key, slot, port, me)
        assert total == 301, total
        print("ok")
        """
        let result = try runProcess(python, ["-c", script] + cluster.ports.map(String.init))
        #expect(result.stdout.contains("ok"), "\(result.stdout) \(result.stderr)")
    }

    @Test("redis-benchmark --cluster drives the three nodes; a single node owning every slot serves cluster clients")
    func benchmarkAndSingleNode() throws {
        let cluster = try ThreeNodes()
        defer { cluster.stop() }
        let run = try runProcess("/usr/bin/redis-benchmark", ["-p", String(cluster.ports[0]), "--cluster", "-t", "set,get",
                                                               "-n", "20000", "-r", "1000", "-q"])
        let output = run.stdout + run.stderr
        #expect(output.contains("Cluster has 3 master nodes"), "\(output)")
        #expect(output.contains("SET: ") && output.contains("GET: "), "\(output)")
        var total = 0
        for port in cluster.ports { total += Int(try cluster.cli(port, ["DBSIZE"])) ?? 0 }
        #expect(total > 0)
        let single = try Daemon(environment: ["SHMKV_CLUSTER_ENABLED": "yes"])
        defer { _ = single.stop() }
        #expect(try cluster.cli(single.tcpPort, ["-c", "MSET", "{t}1", "a", "{t}2", "b"]) == "OK")
        #expect(try cluster.cli(single.tcpPort, ["-c", "GET", "foo"]) == "")
        #expect(try cluster.cli(single.tcpPort, ["CLUSTER", "SLOTS"]).split(separator: "\n").prefix(4) == ["0", "16383", "127.0.0.1", "\(single.tcpPort)"])
    }

    @Test("the native protocol gets the same slot check: MOVED with the owner's address, CROSSSLOT; the CLI follows MOVED once")
    func nativeRequestsAreRouted() throws {
        let cluster = try ThreeNodes()
        defer { cluster.stop() }
        let first = try Client(address: .tcp(host: "127.0.0.1", port: cluster.ports[0]), timeoutSeconds: 10)
        defer { first.close() }
        // foo is slot 12182, the third node's; bar is slot 5061, the first's.
        for attempt in [{ _ = try first.put("foo", "x") }, { _ = try first.get("foo") }, { _ = try first.delete("foo") },
                        { _ = try first.incr(Array("foo".utf8)) }, { _ = try first.ttl(Array("foo".utf8)) },
                        { try first.mput([KeyValue(key: Array("foo".utf8), value: [1])]) },
                        { _ = try first.transaction([.put(key: Array("foo".utf8), value: [1])]) }] as [() throws -> Void] {
            do {
                try attempt()
                Issue.record("a request for slot 12182 was served by the first node")
            } catch let error as ShmKVError {
                #expect(error == .server(.moved, "MOVED 12182 127.0.0.1:\(cluster.ports[2])"))
                #expect(error.redirection.map { "\($0.slot) \($0.host) \($0.port)" } == "12182 127.0.0.1 \(cluster.ports[2])")
            }
        }
        #expect(throws: ShmKVError.server(.crossSlot, "CROSSSLOT Keys in request don't hash to the same slot")) {
            _ = try first.mget([Array("foo".utf8), Array("bar".utf8)])
        }
        #expect(try first.put("bar", "here"))
        #expect(try first.get("bar") == Array("here".utf8))
        #expect(try LocalStore(directory: cluster.daemons[0].dataDirectory).get("foo") == nil)
        // The CLI follows the redirection to the owner, and says so.
        let put = try runProcess(Products.path("shmkv"), ["--port", String(cluster.ports[0]), "put", "foo", "x"])
        #expect(put.status == 0 && put.stderr.contains("redirected to slot [12182] located at 127.0.0.1:\(cluster.ports[2])"), "\(put.stderr)")
        #expect(try cluster.cli(cluster.ports[2], ["GET", "foo"]) == "x")
        #expect(try LocalStore(directory: cluster.daemons[0].dataDirectory).get("foo") == nil)
    }
}
