import Foundation
import RDB
import ShmKV
import TestSupport
import Testing
import Wire

/// Moving in and out with one command each: `shmkv load --rdb` of the dump.rdb redis-server wrote, into a
/// stopped and into a running daemon, and `shmkv dump --rdb`, which redis-server starts from; compared
/// key by key, deadlines to the millisecond.
@Suite struct RDBMigrationTests {
    let cli = Products.path("shmkv")
    static let library = "#!lua name=migrated\nredis.register_function('twice', function(keys, args) return args[1] * 2 end)"

    /// redis-server holding `expected`, a stream with a consumer group in database 3 (which ShmKV
    /// refuses) and a function library, SAVEd: its file.
    static func redisDump(_ expected: KeyspaceImage, _ redis: RedisServer) throws -> String {
        let c = try RESPTestConnection(unixPath: redis.socketPath)
        let commands = RedisDataset.commands(expected)
        for start in stride(from: 0, to: commands.count, by: 300) { _ = try c.pipeline(Array(commands[start..<min(start + 300, commands.count)])) }
        _ = try c.call("SELECT", "3")
        _ = try c.call("XADD", "events", "1-1", "f", "v")
        _ = try c.call("XGROUP", "CREATE", "events", "workers", "0")
        _ = try c.call("FUNCTION", "LOAD", library)
        #expect(try c.call("SAVE") == .simple("OK"))
        return redis.directory.file("dump.rdb")
    }

    @Test func redisFileIntoAStoppedDaemonAndBack() throws {
        let seed = UInt64(Date().timeIntervalSince1970 * 1000)
        let expected = RedisDataset.make(seed: seed, keysPerDatabase: 60)
        let redis = try RedisServer()
        let file = try Self.redisDump(expected, redis)
        let directory = TemporaryDirectory("rdb-migration")
        defer { directory.remove() }
        let store = directory.file("store")

        // In: one command, no daemon running (one is started for the load and stopped).
        let load = try runProcess(cli, ["load", "--rdb", file, "--data-dir", store, "--json", "--progress"])
        #expect(load.status == 0, "\(load.stderr)")
        #expect(load.stderr.contains("refused: db 3 key \"events\": a stream with consumer groups"), "\(load.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(load.stdout.utf8)) as? [String: Any], "\(load.stdout)")
        #expect(summary["loaded"] as? Int == expected.values.reduce(0) { $0 + $1.count })
        #expect(summary["functions"] as? Int == 1 && (summary["refused"] as? [Any])?.count == 1)
        #expect((summary["databases"] as? [String: [String: Int]])?["9"]?["zset"] == expected[9]!.values.filter { if case .sortedSet = $0.value { true } else { false } }.count)

        let daemon = try Daemon(dataDirectory: store)
        defer { daemon.stop() }
        let shmkv = try RESPTestConnection(unixPath: daemon.socketPath)
        let image = try shmkv.image()
        #expect(RedisDataset.difference(image, expected) == nil, "seed \(seed): \(RedisDataset.difference(image, expected) ?? "")")
        #expect(try shmkv.call("FCALL", "twice", "0", "21") == .integer(42))

        // Out: one command, from a snapshot while the daemon runs; redis-server starts from the file.
        let out = directory.file("out.rdb")
        let dump = try runProcess(cli, ["dump", "--rdb", out, "--data-dir", store])
        #expect(dump.status == 0 && dump.stderr.contains("dumped \(expected.values.reduce(0) { $0 + $1.count }) keys"), "\(dump.stderr)")
        let back = try RedisServer(extraArguments: ["--dir", directory.path, "--dbfilename", "out.rdb"])
        let there = try RESPTestConnection(unixPath: back.socketPath)
        try there.waitUntilLoaded()
        let theirs = try there.image()
        #expect(RedisDataset.difference(theirs, expected) == nil, "seed \(seed): \(RedisDataset.difference(theirs, expected) ?? "")")
        #expect(try there.call("FCALL", "twice", "0", "4") == .integer(8))
    }

    @Test func intoARunningDaemonReplacingWhatIsThere() throws {
        let seed = UInt64(Date().timeIntervalSince1970 * 1000) ^ 0xbeef
        let expected = RedisDataset.make(seed: seed, keysPerDatabase: 30, databases: [0, 1])
        let redis = try RedisServer()
        let file = try Self.redisDump(expected, redis)
        let daemon = try Daemon()
        defer { daemon.stop() }
        let shmkv = try RESPTestConnection(unixPath: daemon.socketPath)
        // A key the file also holds, of another type, is replaced; a key it does not hold stays.
        let clash = try #require(expected[0]!.keys.first { if case .string = expected[0]![$0]!.value { false } else { true } })
        _ = try shmkv.pipeline([[Array("SET".utf8), clash, Array("old".utf8)], [Array("SET".utf8), Array("mine".utf8), Array("stays".utf8)]])
        let load = try runProcess(cli, ["--socket", daemon.socketPath, "load", "--rdb", file, "--batch", "7"])
        #expect(load.status == 0 && load.stderr.contains("loaded \(expected.values.reduce(0) { $0 + $1.count }) keys"), "\(load.stderr)")
        var image = try shmkv.image()
        #expect(image[0]?.removeValue(forKey: Array("mine".utf8)) == StoredKey(.string(Array("stays".utf8))))
        #expect(RedisDataset.difference(image, expected) == nil, "seed \(seed): \(RedisDataset.difference(image, expected) ?? "")")
    }

    @Test func aDamagedFileLoadsNothingPastTheDamage() throws {
        let seed = UInt64(Date().timeIntervalSince1970 * 1000) ^ 0xf00d
        let redis = try RedisServer()
        let file = try Self.redisDump(RedisDataset.make(seed: seed, keysPerDatabase: 40, databases: [0]), redis)
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: file)))
        let daemon = try Daemon()
        defer { daemon.stop() }
        let shmkv = try RESPTestConnection(unixPath: daemon.socketPath)
        var random = SplitMix64(seed: seed)
        // A changed byte in the middle: the checksum pass finds it and nothing at all is stored.
        var changed = bytes
        let at = Int.random(in: 100..<(bytes.count - 20), using: &random)
        changed[at] ^= 0x20
        let bad = redis.directory.file("changed.rdb")
        try Data(changed).write(to: URL(fileURLWithPath: bad))
        let refused = try runProcess(cli, ["--socket", daemon.socketPath, "load", "--rdb", bad])
        #expect(refused.status == 2 && refused.stderr.contains("checksum is wrong") && refused.stderr.contains("nothing was loaded"), "\(refused.stderr)")
        #expect(try shmkv.call("DBSIZE") == .integer(0))
        // Cut short and read from a pipe (no checksum pass is possible): what precedes the cut is
        // stored, the error names the offset, and no key after it exists.
        let cut = Int.random(in: (bytes.count / 3)..<(bytes.count * 2 / 3), using: &random)
        let partial = try runProcess(cli, ["--socket", daemon.socketPath, "load", "--rdb", "-"], stdin: Array(bytes[..<cut]))
        #expect(partial.status == 2 && partial.stderr.contains("at offset"), "\(partial.stderr)")
        var decoder = RDBFileDecoder()
        decoder.append(bytes[..<cut])
        decoder.finish()
        var before: Set<[UInt8]> = []
        while let record = try? decoder.next() { if case .key(let entry) = record { before.insert(entry.key) } }
        let stored = try shmkv.image()[0].map { Set($0.keys) } ?? []
        #expect(stored == before, "seed \(seed): \(stored.count) stored, \(before.count) whole records before the cut at \(cut)")
    }
}
