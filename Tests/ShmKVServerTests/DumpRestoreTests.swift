import Foundation
import RDB
import ShmKV
import TestSupport
import Testing
import Wire

/// DUMP and RESTORE against Debian's redis-server: payloads move both ways for every type, and the
/// replies to every option and mistake are Redis's.
@Suite struct DumpRestoreTests {
    /// Every key of `from` (databases 0–15) RESTOREd into `to` with its deadline (ABSTTL).
    static func copyAll(from: RESPTestConnection, to: RESPTestConnection) throws {
        for db in 0..<16 {
            _ = try from.call("SELECT", String(db))
            _ = try to.call("SELECT", String(db))
            guard case .array(let names) = try from.call("KEYS", "*") else { continue }
            let keys = names.compactMap { if case .bulk(let k) = $0 { k } else { nil } }
            let answers = try from.pipeline(keys.flatMap { [[Array("DUMP".utf8), $0], [Array("PEXPIRETIME".utf8), $0]] })
            var restores: [[[UInt8]]] = []
            for (i, key) in keys.enumerated() {
                guard case .bulk(let payload) = answers[2 * i], case .integer(let at) = answers[2 * i + 1] else { continue }
                restores.append([Array("RESTORE".utf8), key, Array(String(max(at, 0)).utf8), payload, Array("ABSTTL".utf8)])
            }
            for (reply, command) in zip(try to.pipeline(restores), restores) where reply != .simple("OK") {
                Issue.record("RESTORE \(String(decoding: command[1], as: UTF8.self).debugDescription): \(reply)")
            }
        }
    }

    @Test func payloadsMoveBothWaysForEveryType() throws {
        let seed = UInt64(Date().timeIntervalSince1970 * 1000)
        let expected = RedisDataset.make(seed: seed, keysPerDatabase: 48)
        let redis = try RedisServer(), daemon = try Daemon()
        defer { daemon.stop() }
        let source = try RESPTestConnection(unixPath: redis.socketPath), shmkv = try RESPTestConnection(unixPath: daemon.socketPath)
        let commands = RedisDataset.commands(expected)
        for start in stride(from: 0, to: commands.count, by: 300) { _ = try source.pipeline(Array(commands[start..<min(start + 300, commands.count)])) }
        // redis-server → shmkvd: the same data, every deadline to the millisecond.
        try Self.copyAll(from: source, to: shmkv)
        let here = try shmkv.image()
        #expect(RedisDataset.difference(here, expected) == nil, "seed \(seed): \(RedisDataset.difference(here, expected) ?? "")")
        // shmkvd → a fresh redis-server.
        let target = try RedisServer()
        let back = try RESPTestConnection(unixPath: target.socketPath)
        try Self.copyAll(from: shmkv, to: back)
        let there = try back.image()
        #expect(RedisDataset.difference(there, expected) == nil, "seed \(seed): \(RedisDataset.difference(there, expected) ?? "")")
    }

    @Test func repliesAreRedisOwn() throws {
        let redis = try RedisServer(), daemon = try Daemon()
        defer { daemon.stop() }
        let twin = try Twin(daemon, redis)
        for words in [["SET", "s", "hello"], ["RPUSH", "l", "a", "b"], ["HSET", "h", "f", "v"], ["ZADD", "z", "-0", "m"], ["SADD", "set", "1", "x"],
                      ["XADD", "x", "1-1", "a", "1", "b", "two"], ["XADD", "x", "1-2", "a", "3", "b", "4"], ["XADD", "x", "2-0", "c", "-7"]] {
            try twin.expectSame(words)
        }
        try twin.expectSame(["DUMP", "nosuchkey"])
        // Payloads are the same bytes where the encoding is the same (strings, lists, hashes, streams
        // that never lost an entry).
        for key in ["s", "l", "h", "z", "x"] { try twin.expectSame(["DUMP", key]) }
        guard case .bulk(let payload) = try twin.redis.command([Array("DUMP".utf8), Array("l".utf8)]) else {
            Issue.record("no DUMP payload"); return
        }
        func both(_ words: [String], payloadAt index: Int = 3) throws {
            var args = words.map { Array($0.utf8) }
            if index < args.count && words[index] == "<payload>" { args[index] = payload }
            let mine = try twin.daemon.command(args), theirs = try twin.redis.command(args)
            #expect(mine == theirs, "\(words): \(mine) vs redis-server \(theirs)")
        }
        for words in [["RESTORE", "l", "0", "<payload>"], ["RESTORE", "new", "abc", "<payload>"], ["RESTORE", "new", "-5", "<payload>"],
                      ["RESTORE", "new", "0", "garbage"], ["RESTORE", "new", "0", "<payload>", "IDLETIME", "-1"],
                      ["RESTORE", "new", "0", "<payload>", "FREQ", "256"], ["RESTORE", "new", "0", "<payload>", "FREQ", "x"],
                      ["RESTORE", "new", "0", "<payload>", "FREQ", "5", "IDLETIME", "5"], ["RESTORE", "new", "0", "<payload>", "BOGUS"],
                      ["RESTORE", "new", "0", "<payload>", "IDLETIME"], ["RESTORE", "l", "abc", "<payload>"],
                      ["RESTORE", "new", "0", "<payload>", "FREQ", "5", "REPLACE", "ABSTTL"], ["LRANGE", "new", "0", "-1"],
                      ["RESTORE", "new", "1", "<payload>", "ABSTTL", "REPLACE"], ["EXISTS", "new"],
                      ["RESTORE", "s", "1", "<payload>", "ABSTTL", "REPLACE"], ["EXISTS", "s"],
                      ["RESTORE", "h", "100000", "<payload>", "REPLACE"], ["TYPE", "h"], ["LRANGE", "h", "0", "-1"],
                      ["RESTORE", "l", "0", "<payload>", "REPLACE", "IDLETIME", "100"], ["LRANGE", "l", "0", "-1"]] {
            try both(words)
        }
        try twin.expectSame(["PTTL", "h"], tolerance: 50)
        // A payload whose checksum holds but whose value is not one: Redis's "Bad data format".
        let bad = DumpPayload.seal([RDBType.list, 2, 1, 0x61])
        let args = [Array("RESTORE".utf8), Array("bad".utf8), Array("0".utf8), bad]
        #expect(try twin.daemon.command(args) == twin.redis.command(args))
        // An empty collection is bad data too.
        let empty = [Array("RESTORE".utf8), Array("empty".utf8), Array("0".utf8), DumpPayload.seal([RDBType.set, 0])]
        #expect(try twin.daemon.command(empty) == twin.redis.command(empty))
        // A stream with a consumer group: refused by name (ShmKV's streams have none).
        _ = try twin.redis.command(["XGROUP", "CREATE", "x", "workers", "0"].map { Array($0.utf8) })
        guard case .bulk(let grouped) = try twin.redis.command([Array("DUMP".utf8), Array("x".utf8)]) else { Issue.record("no DUMP of x"); return }
        #expect(try twin.daemon.command([Array("RESTORE".utf8), Array("g".utf8), Array("0".utf8), grouped])
                == .error("ERR a stream with consumer groups cannot be restored: ShmKV's streams have none"))
    }
}
