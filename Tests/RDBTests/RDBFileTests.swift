import Foundation
import RDB
import TestSupport
import Testing

/// Whole RDB files: those Debian's redis-server 7.0.15 writes, read key by key; those written here,
/// which redis-server starts from; and damaged ones, which are errors naming the offset.
@Suite("RDB files: redis-server's read key by key, ours loaded by redis-server, damage named by offset")
struct RDBFileTests {
    /// What `bytes` decodes to, fed in pieces of seeded random sizes (1 byte to 64 KiB).
    static func decode(_ bytes: [UInt8], seed: UInt64, maximumRecordBytes: Int = 1 << 30)
        throws -> (image: KeyspaceImage, records: [RDBRecord]) {
        var random = SplitMix64(seed: seed)
        var decoder = RDBFileDecoder(maximumRecordBytes: maximumRecordBytes)
        var image: KeyspaceImage = [:]
        var records: [RDBRecord] = []
        var at = 0
        while true {
            while let record = try decoder.next() {
                if case .key(let entry) = record {
                    image[entry.database, default: [:]][entry.key] = StoredKey(entry.value, expiresAt: entry.expiresAt)
                } else {
                    records.append(record)
                }
            }
            if at == bytes.count {
                if decoder.isComplete {
                    guard decoder.remaining.isEmpty else { throw RDBError(offset: decoder.offset, reason: "bytes after the end") }
                    break
                }
                decoder.finish()
                continue
            }
            let piece = Int.random(in: 0..<4, using: &random) == 0 ? Int.random(in: 1...16, using: &random) : Int.random(in: 1...65536, using: &random)
            decoder.append(bytes[at..<min(at + piece, bytes.count)])
            at = min(at + piece, bytes.count)
        }
        return (image, records)
    }

    /// Builds `image` on redis-server (plus a stream with a consumer group in database 3), SAVEs, and
    /// returns the file.
    static func redisFile(_ image: KeyspaceImage, _ redis: RedisServer) throws -> [UInt8] {
        let c = try RESPTestConnection(unixPath: redis.socketPath)
        let commands = RedisDataset.commands(image)
        for start in stride(from: 0, to: commands.count, by: 300) {
            for reply in try c.pipeline(Array(commands[start..<min(start + 300, commands.count)])) {
                if case .error(let message) = reply { Issue.record("redis-server: \(message)") }
            }
        }
        _ = try c.call("SELECT", "3")
        _ = try c.call("XADD", "stream", "1-1", "f", "v")
        _ = try c.call("XGROUP", "CREATE", "stream", "g", "0")
        _ = try c.call("XREADGROUP", "GROUP", "g", "alice", "COUNT", "1", "STREAMS", "stream", ">")
        #expect(try c.call("SAVE") == .simple("OK"))
        return Array(try Data(contentsOf: URL(fileURLWithPath: redis.directory.file("dump.rdb"))))
    }

    @Test("a file redis-server SAVEs (every type and encoding, TTLs, three databases) reads key by key in pieces of any size; a stream with a consumer group is refused by name and stepped over")
    func redisFileReadsKeyByKey() throws {
        let seed = UInt64(Date().timeIntervalSince1970 * 1000)
        let expected = RedisDataset.make(seed: seed)
        let redis = try RedisServer()
        let file = try Self.redisFile(expected, redis)
        let (image, records) = try Self.decode(file, seed: seed)
        #expect(RedisDataset.difference(image, expected) == nil, "seed \(seed): \(RedisDataset.difference(image, expected) ?? "")")
        let refused = records.compactMap { if case .refused(let r) = $0 { r } else { nil } }
        #expect(refused.map { [$0.database: String(decoding: $0.key, as: UTF8.self)] } == [[3: "stream"]] && refused.first?.what == "a stream with consumer groups")
        #expect(records.contains(.aux(key: Array("redis-ver".utf8), value: Array("7.0.15".utf8))))
        #expect(records.contains(.selectDatabase(9)))
        guard case .end(let checksum) = records.last else { Issue.record("no end"); return }
        #expect(checksum != nil)
    }

    @Test("a file written here (every type, sizes on both sides of Redis's thresholds, TTLs, databases, a function library) is what redis-server starts from")
    func ourFileStartsRedis() throws {
        let seed = UInt64(Date().timeIntervalSince1970 * 1000) ^ 0x5eed
        let expected = RedisDataset.make(seed: seed, keysPerDatabase: 90)
        let directory = TemporaryDirectory("rdb-ours")
        defer { directory.remove() }
        var writer = RDBFileWriter(aux: [("redis-bits", "64")])
        writer.function(code: Array("#!lua name=mylib\nredis.register_function('answer', function() return 42 end)".utf8))
        var bytes = writer.take()
        for (db, keys) in expected.sorted(by: { $0.key < $1.key }) {
            writer.selectDatabase(db, keys: keys.count, expires: keys.values.filter { $0.expiresAt != nil }.count)
            for (key, stored) in keys { writer.key(key, stored.value, expiresAt: stored.expiresAt) }
            bytes += writer.take()
        }
        writer.finish()
        bytes += writer.take()
        try Data(bytes).write(to: URL(fileURLWithPath: directory.file("ours.rdb")))
        let redis = try RedisServer(extraArguments: ["--dir", directory.path, "--dbfilename", "ours.rdb"])
        let c = try RESPTestConnection(unixPath: redis.socketPath)
        try c.waitUntilLoaded()
        let image = try c.image()
        #expect(RedisDataset.difference(image, expected) == nil, "seed \(seed): \(RedisDataset.difference(image, expected) ?? "")")
        #expect(try c.call("FCALL", "answer", "0") == .integer(42))
        // And this reader reads what it wrote.
        #expect(RedisDataset.difference(try Self.decode(bytes, seed: seed).image, expected) == nil)
    }

    @Test("a truncated file is an error at or before the cut, a changed byte is an error (the checksum at the latest), a record over the limit is refused before it is buffered")
    func damage() throws {
        let seed = UInt64(Date().timeIntervalSince1970 * 1000) ^ 0xdead
        let redis = try RedisServer()
        let file = try Self.redisFile(RedisDataset.make(seed: seed, keysPerDatabase: 12), redis)
        var random = SplitMix64(seed: seed)
        for _ in 0..<300 {
            let cut = Int.random(in: 0..<file.count, using: &random)
            do {
                _ = try Self.decode(Array(file[..<cut]), seed: seed)
                Issue.record("a file cut at \(cut) of \(file.count) read without an error (seed \(seed))")
            } catch let error as RDBError {
                #expect(error.offset <= cut, "cut at \(cut): \(error) (seed \(seed))")
            }
        }
        for _ in 0..<300 {
            var changed = file
            let at = Int.random(in: 9..<file.count, using: &random)
            changed[at] ^= UInt8.random(in: 1...255, using: &random)
            #expect(throws: RDBError.self, "byte \(at) changed (seed \(seed))") { try Self.decode(changed, seed: seed) }
        }
        // Not an RDB file, a version this does not read.
        #expect(throws: RDBError.self) { try Self.decode(Array("REDIS0013".utf8) + [0xFF], seed: seed) }
        #expect(throws: RDBError.self) { try Self.decode(Array("HELLO0009".utf8) + [0xFF], seed: seed) }
        // A string claiming 2^40 bytes is refused at once, not waited for.
        var decoder = RDBFileDecoder(maximumRecordBytes: 1 << 20)
        decoder.append(Array("REDIS0010".utf8) + [RDBType.string, 1, 0x6b, 0x81, 0, 0, 1, 0, 0, 0, 0, 0])
        #expect(throws: RDBError.self) { _ = try decoder.next() }
        // A value larger than the record limit: an error once that much is held.
        var small = RDBFileDecoder(maximumRecordBytes: 1000)
        var writer = RDBFileWriter()
        writer.key(Array("k".utf8), .hash((0..<400).map { FieldValue(Array("f\($0)".utf8), Array("v".utf8)) }))
        writer.finish()
        let big = writer.take()
        var failure: RDBError?
        for start in stride(from: 0, to: big.count, by: 100) where failure == nil {
            small.append(big[start..<min(start + 100, big.count)])
            do { while try small.next() != nil {} } catch { failure = error }
        }
        #expect(failure?.reason.contains("larger than the limit") == true, "\(String(describing: failure))")
    }

    @Test("module values and module AUX data in their self-describing form are stepped over, named by the module's type")
    func modules() throws {
        // A module id for type name "mymodtype" (9 characters of 6 bits) and encoding version 3.
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        let id = "mymodtype".reduce(UInt64(0)) { $0 << 6 | UInt64(alphabet.firstIndex(of: $1)!) } << 10 | 3
        var w = RDBWriter()
        w.raw("REDIS0010".utf8)
        w.byte(0xF7)                                   // module AUX: id, when (UINT opcode, value), value
        w.length(id); w.length(2); w.length(2)
        w.length(5); w.string(Array("aux".utf8)); w.length(0)
        w.byte(RDBType.module2); w.string(Array("m".utf8))
        w.length(id)
        w.length(1); w.length(77)                      // SINT
        w.length(3); w.raw([0, 0, 0x80, 0x3f])     // FLOAT
        w.length(4); w.raw([UInt8](repeating: 0, count: 8))
        w.length(5); w.string(Array("payload".utf8))
        w.length(0)
        w.byte(RDBType.string); w.string(Array("after".utf8)); w.string(Array("yes".utf8))
        w.byte(0xFF)
        w.raw([UInt8](repeating: 0, count: 8))     // no checksum
        let (image, records) = try Self.decode(w.bytes, seed: 1)
        #expect(records.contains(.moduleAux("mymodtype")))
        #expect(records.contains { if case .refused(let r) = $0 { r.what == "a value of module type 'mymodtype'" && r.key == Array("m".utf8) } else { false } })
        #expect(image[0]?[Array("after".utf8)] == StoredKey(.string(Array("yes".utf8))))
    }
}
