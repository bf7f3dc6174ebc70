import Foundation
import ShmKV
import StoreLayout
import TestSupport
import Testing
import Wire

/// The Swift clients' typed collection methods, and `LocalStore` reading what they wrote in place:
/// small (packed) and large (a record per element) collections, long members, numbered databases,
/// SWAPDB, expiry and WRONGTYPE.
@Suite("Collections through Client and AsyncClient, read in place by LocalStore")
struct LocalStoreCollectionTests {
    @Test("hashes, sets and sorted sets written by Client read the same through LocalStore's typed views, small and large")
    func typedViews() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
        let store = try LocalStore(directory: daemon.dataDirectory)
        let long = [UInt8](repeating: UInt8(ascii: "L"), count: 700)
        for size in [3, 400] {
            let h = bytes("h\(size)"), s = bytes("s\(size)"), z = bytes("z\(size)")
            #expect(try client.hset(h, (0..<size).map { (bytes("f\($0)"), bytes("v\($0)")) } + [(long, bytes("long"))]) == Int64(size + 1))
            #expect(try client.sadd(s, (0..<size).map { bytes("m\($0)") } + [long]) == Int64(size + 1))
            #expect(try client.zadd(z, (0..<size).map { (Double($0) / 2, bytes("m\($0)")) } + [(-1, long)]) == Int64(size + 1))
            try store.read { snapshot throws in
                #expect(try snapshot.type(of: h) == .hash)
                try snapshot.withHash(h) { hash throws in
                    #expect(hash?.count == size + 1)
                    #expect(try hash?.field(bytes("f1")) == bytes("v1"))
                    #expect(try hash?.field(long) == bytes("long"))
                    #expect(try hash?.field(bytes("nope")) == nil)
                    #expect(try hash?.all().count == size + 1)
                }
                try snapshot.withSet(s) { set throws in
                    #expect(try set?.contains(bytes("m2")) == true)
                    #expect(try set?.contains(long) == true)
                    #expect(try set?.contains(bytes("x")) == false)
                    #expect(Set(try set?.members() ?? []) == Set((0..<size).map { bytes("m\($0)") } + [long]))
                }
                try snapshot.withSortedSet(z) { zset throws in
                    guard let zset else {
                        Issue.record("no sorted set")
                        return
                    }
                    #expect(try zset.score(of: bytes("m2")) == 1)
                    #expect(try zset.rank(of: bytes("m2")) == 3)
                    #expect(try zset.rank(of: long) == 0)
                    #expect(try zset.range(.rank(0, 1)).map(\.member) == [long, bytes("m0")])
                    #expect(try zset.range(.rank(0, 0), reverse: true).map(\.score) == [Double(size - 1) / 2])
                    #expect(try zset.range(.score(min: 0, minExclusive: true, max: 1, maxExclusive: false)).map(\.member) == [bytes("m1"), bytes("m2")])
                    #expect(try zset.range(.score(min: -.infinity, minExclusive: false, max: .infinity, maxExclusive: false), offset: 1, limit: 2).count == 2)
                }
            }
            // The clients read the same through the daemon.
            #expect(try client.hget(h, long) == bytes("long"))
            #expect(try client.hgetAll(h).count == size + 1)
            #expect(try client.sismember(s, long))
            #expect(try client.smembers(s).count == size + 1)
            #expect(try client.zscore(z, bytes("m2")) == 1)
            #expect(try client.zrank(z, bytes("m2")) == 3)
            #expect(try client.zrange(z, 0, 1).map(\.member) == [long, bytes("m0")])
            #expect(try client.zrangeByScore(z, min: "(0", max: "1").map(\.member) == [bytes("m1"), bytes("m2")])
            #expect(try store.hashField(h, bytes("f2")) == bytes("v2"))
            #expect(try store.isMember(s, bytes("m1")))
            #expect(try store.score(z, bytes("m1")) == 0.5)
        }
        // Lex ranges over members that share a score.
        _ = try client.zadd(bytes("lex"), ["a", "b", "c", "d"].map { (0, bytes($0)) })
        let lex = try store.range(bytes("lex"), .lex(min: .exclusive(bytes("a")), max: .inclusive(bytes("c"))))
        #expect(lex.map(\.member) == [bytes("b"), bytes("c")])
        // WRONGTYPE, the same through the socket and locally.
        try client.put("str", "x")
        #expect(throws: ShmKVError.server(.wrongType, WrongTypeError.message)) { try client.hget(bytes("str"), bytes("f")) }
        #expect(throws: ShmKVError.server(.wrongType, WrongTypeError.message)) { try store.hashField(bytes("str"), bytes("f")) }
        #expect(throws: ShmKVError.server(.wrongType, WrongTypeError.message)) { try client.get(bytes("h3")) }
        #expect(try store.get(bytes("h3")) == nil)
        #expect(try store.type(of: bytes("h3")) == .hash)
        // A collection past its deadline is gone for LocalStore at once.
        _ = try client.call("PEXPIRE", "s3", "20")
        #expect(eventually(seconds: 5) { (try? store.isMember(bytes("s3"), bytes("m1"))) == false })
    }

    @Test("LocalStore opens a numbered database, and follows SWAPDB from its snapshot")
    func numberedDatabases() async throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let resp = try RESPClient(address: .unix(path: daemon.socketPath), timeoutSeconds: 10)
        _ = try resp.command([bytes("SELECT"), bytes("2")])
        _ = try resp.command([bytes("HSET"), bytes("job:1"), bytes("state"), bytes("done")])
        #expect(throws: ShmKVError.self) { try LocalStore(directory: daemon.dataDirectory, database: 16) }
        let two = try LocalStore(directory: daemon.dataDirectory, database: 2)
        #expect(try two.hashField(bytes("job:1"), bytes("state")) == bytes("done"))
        #expect(try two.read(database: 0) { try $0.type(of: bytes("job:1")) } == nil)
        _ = try resp.command([bytes("SWAPDB"), bytes("0"), bytes("2")])
        #expect(try two.read(database: 0) { try $0.withHash(bytes("job:1")) { try $0?.field(bytes("state")) } } == bytes("done"))
        #expect(try two.type(of: bytes("job:1")) == nil)
        // The async client's typed methods work in database 0 (the native protocol's).
        let async = AsyncClient(address: .unix(path: daemon.socketPath), connections: 1, timeoutSeconds: 30)
        #expect(try await async.hget(bytes("job:1"), bytes("state")) == bytes("done"))
        #expect(try await async.zadd(bytes("z"), [(1, bytes("a"))]) == 1)
        #expect(try await async.zincrBy(bytes("z"), bytes("a"), 2.5) == 3.5)
    }
}
