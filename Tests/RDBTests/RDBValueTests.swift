import Foundation
import RDB
import TestSupport
import Testing

/// Values as Redis's DUMP writes them (the value part of an RDB file), read back: every encoding
/// Debian's redis-server 7.0.15 writes, with its thresholds lowered so that each appears, and the older
/// encodings (ziplist) from bytes laid out by hand.
@Suite("RDB values: every encoding redis-server writes, read from its DUMP payloads; malformed input is an error")
struct RDBValueTests {
    /// The bulk reply to DUMP `key` on `connection` (nil: no such key).
    private func dump(_ connection: RawConnection, _ key: String) throws -> [UInt8]? {
        connection.send(respCommand("DUMP", key))
        var reply: [UInt8] = []
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            reply += connection.readAvailable(quietMilliseconds: 50)
            guard let end = reply.firstIndex(of: 0x0d), reply.first == UInt8(ascii: "$"),
                  let length = Int(String(decoding: reply[1..<end], as: UTF8.self)) else { continue }
            if length < 0 { return nil }
            if reply.count >= end + 2 + length + 2 { return Array(reply[(end + 2)..<(end + 2 + length)]) }
        }
        Issue.record("no complete DUMP reply for \(key): \(String(decoding: reply, as: UTF8.self).debugDescription)")
        return nil
    }

    private func send(_ connection: RawConnection, _ words: [String]) {
        connection.send(respCommand(words))
        _ = connection.readAvailable(quietMilliseconds: 20)
    }

    private static func bytes(_ items: [String]) -> [[UInt8]] { items.map { Array($0.utf8) } }

    @Test("strings, lists (one and several listpack nodes), sets (intset, hashtable), sorted sets (listpack, skiplist) and hashes (listpack, hashtable) as redis-server dumps them")
    func everyEncodingFromRedis() throws {
        let redis = try RedisServer()
        let c = try RawConnection(unixPath: redis.socketPath)
        let long = String(repeating: "abcdefgh", count: 40)
        let big = String(repeating: "x", count: 5000)
        // Entries whose sizes sit on the back length's widths (127 | 128 bytes, 16382 | 16383 | 16384).
        let edges = [125, 126, 16377, 16378, 16379].map { String(repeating: "e", count: $0) }
        let listItems = ["a", "", "1", "-5", "127", "128", "4000", "-4096", "30000", "8000000", "-2000000000",
                         "9000000000000", String(repeating: "y", count: 70), big, "0012", "1.5", "-0", "+5"] + edges
        for words in [["SET", "s:int", "12345"], ["SET", "s:raw", "hello"], ["SET", "s:lzf", long],
                      ["RPUSH", "l:one"] + listItems,
                      ["CONFIG", "SET", "list-max-listpack-size", "3"], ["RPUSH", "l:nodes"] + (1...10).map { "item\($0)" },
                      ["SADD", "set:int", "1", "2", "3", "-7", "70000", "9000000000"], ["SADD", "set:str", "a", "b", "c"],
                      ["ZADD", "z:small", "1", "a", "2.5", "b", "-inf", "c", "3", "d"],
                      ["CONFIG", "SET", "zset-max-listpack-entries", "2"], ["ZADD", "z:big", "1", "a", "0.1", "b", "inf", "c", "-0", "d"],
                      ["HSET", "h:small", "f", "v", "n", "7", "empty", ""],
                      ["CONFIG", "SET", "hash-max-listpack-entries", "1"], ["HSET", "h:big", "f", "v", "n", "-7"]] {
            send(c, words)
        }
        let expected: [(String, RDBValue)] = [
            ("s:int", .string(Array("12345".utf8))), ("s:raw", .string(Array("hello".utf8))), ("s:lzf", .string(Array(long.utf8))),
            ("l:one", .list(Self.bytes(listItems))), ("l:nodes", .list(Self.bytes((1...10).map { "item\($0)" }))),
        ]
        for (key, value) in expected {
            let payload = try #require(try dump(c, key), "DUMP \(key)")
            #expect(try DumpPayload.value(of: payload) == value, "\(key)")
        }
        func unordered(_ key: String) throws -> RDBValue { try DumpPayload.value(of: try #require(try dump(c, key), "DUMP \(key)")) }
        guard case .set(let ints) = try unordered("set:int"), case .set(let strs) = try unordered("set:str") else {
            Issue.record("sets did not read as sets"); return
        }
        #expect(Set(ints) == Set(Self.bytes(["1", "2", "3", "-7", "70000", "9000000000"])))
        #expect(Set(strs) == Set(Self.bytes(["a", "b", "c"])))
        for (key, members) in [("z:small", [("c", -Double.infinity), ("a", 1), ("b", 2.5), ("d", 3)]),
                               ("z:big", [("c", Double.infinity), ("a", 1), ("b", 0.1), ("d", 0)])] {
            guard case .sortedSet(let read) = try unordered(key) else { Issue.record("\(key) is not a sorted set"); continue }
            #expect(read.sorted { $0.member.lexicographicallyPrecedes($1.member) }
                    == members.map { ScoredMember(Array($0.0.utf8), $0.1) }.sorted { $0.member.lexicographicallyPrecedes($1.member) }, "\(key)")
        }
        for (key, pairs) in [("h:small", [("f", "v"), ("n", "7"), ("empty", "")]), ("h:big", [("f", "v"), ("n", "-7")])] {
            guard case .hash(let read) = try unordered(key) else { Issue.record("\(key) is not a hash"); continue }
            #expect(Set(read.map { [$0.field, $0.value] }) == Set(pairs.map { [Array($0.0.utf8), Array($0.1.utf8)] }), "\(key)")
        }
    }

    @Test("a ziplist laid out by hand (Redis before 7.0): strings, 4-bit and 16-bit integers")
    func ziplist() throws {
        // zlbytes 21, zltail 16, zllen 3 | "ab" | 5 (immediate) | -300 (int16) | end
        let blob: [UInt8] = [21, 0, 0, 0, 16, 0, 0, 0, 3, 0,
                             0x00, 0x02, 0x61, 0x62, 0x04, 0xf6, 0x02, 0xc0, 0xd4, 0xfe, 0xff]
        var writer = RDBWriter()
        writer.byte(RDBType.listZiplist)
        writer.string(blob)
        #expect(try DumpPayload.value(of: DumpPayload.seal(writer.bytes)) == .list(Self.bytes(["ab", "5", "-300"])))
        var bad = blob
        bad[11] = 0x30  // a 48-byte string in a 21-byte blob
        var badWriter = RDBWriter()
        badWriter.byte(RDBType.listZiplist)
        badWriter.string(bad)
        #expect(throws: RDBError.self) { try DumpPayload.value(of: DumpPayload.seal(badWriter.bytes)) }
    }

    @Test("modules and hashes with field expiry are refused by type; a wrong checksum, trailing bytes and random damage are errors, never a crash")
    func malformed() throws {
        for type in [RDBType.module2, RDBType.hashListpackEx] {
            #expect(throws: RDBUnsupportedType.self) { try DumpPayload.value(of: DumpPayload.seal([type, 0])) }
        }
        var sealed = DumpPayload.seal([RDBType.string, 1, 0x61])
        sealed[2] = 0x62
        #expect(throws: RDBError.self) { try DumpPayload.value(of: sealed) }
        #expect(throws: RDBError.self) { try DumpPayload.value(of: DumpPayload.seal([RDBType.string, 1, 0x61, 0x00])) }
        // A count far beyond the bytes: refused before anything is reserved.
        #expect(throws: RDBError.self) { try DumpPayload.value(of: DumpPayload.seal([RDBType.list, 0x81, 0, 0, 0, 1, 0, 0, 0, 0])) }

        let redis = try RedisServer()
        let c = try RawConnection(unixPath: redis.socketPath)
        for words in [["RPUSH", "l", "a", "1", "300", "70000", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"], ["ZADD", "z", "1", "a", "2", "b"],
                      ["HSET", "h", "f", "v", "g", "1"], ["SADD", "s", "1", "2", "3"],
                      ["XADD", "x", "5-1", "f", "v", "g", "1"], ["XADD", "x", "6-0", "f", "w", "g", "2"], ["XADD", "x", "7-3", "other", "3"],
                      ["XADD", "x", "8-0", "f", "x", "g", "3"], ["XDEL", "x", "6-0"]] {
            send(c, words)
        }
        let seed = UInt64(Date().timeIntervalSince1970 * 1000)
        var random = SplitMix64(seed: seed)
        for key in ["l", "z", "h", "s", "x"] {
            let payload = try #require(try dump(c, key))
            let body = Array(payload[..<(payload.count - 10)])
            for _ in 0..<2000 {
                var damaged = body
                for _ in 0..<Int.random(in: 1...3, using: &random) {
                    damaged[Int.random(in: 0..<damaged.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
                }
                if Bool.random(using: &random) { damaged.removeLast(Int.random(in: 0..<damaged.count, using: &random)) }
                // Either a value or an error: no trap, no out-of-bounds read (the seed repeats a failure).
                _ = try? DumpPayload.value(of: DumpPayload.seal(damaged))
            }
        }
        print("malformed RDB values: seed \(seed)")
    }

    /// Values written here are RESTOREd by redis-server, which then holds the same data: read back with
    /// its commands' replies compared with what was written (through its DUMP and this reader).
    @Test("values written in Redis's encodings (quicklist 2 of listpacks, intset, listpack, plain forms, stream nodes) are RESTOREd by redis-server with the same data")
    func writtenValuesRestoreInRedis() throws {
        let redis = try RedisServer()
        let c = try RawConnection(unixPath: redis.socketPath)
        let seed = UInt64(Date().timeIntervalSince1970 * 1000)
        var random = SplitMix64(seed: seed)
        func item() -> [UInt8] {
            switch Int.random(in: 0..<6, using: &random) {
            case 0: return Array(String(Int64.random(in: -5000...5000, using: &random)).utf8)
            case 1: return Array(String(Int64.random(in: Int64.min...Int64.max, using: &random)).utf8)
            case 2: return (0..<Int.random(in: 0...80, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            case 3: return [UInt8](repeating: 0x7a, count: Int.random(in: 100...20_000, using: &random))
            case 4: return Array(["0", "-0", "007", "+1", " 1", "1.0"][Int.random(in: 0..<6, using: &random)].utf8)
            default: return Array("k\(Int.random(in: 0...1_000_000, using: &random))".utf8)
            }
        }
        func unique(_ count: Int, _ make: () -> [UInt8]) -> [[UInt8]] {
            var seen = Set<[UInt8]>(), out: [[UInt8]] = []
            while out.count < count { let x = make(); if seen.insert(x).inserted { out.append(x) } }
            return out
        }
        var values: [RDBValue] = [.string([]), .string(item()), .set(Self.bytes(["1", "-2", "70000", "9000000000"]))]
        for size in [1, 5, 127, 129, 600] {
            values.append(.list((0..<size).map { _ in item() }))
            values.append(.set(unique(size, item)))
            values.append(.set(unique(size) { Array(String(Int64.random(in: -100_000...100_000, using: &random)).utf8) }))
            let scores: [Double] = [0, -0.0, 1, -1.5, 0.1, 1e300, -.infinity, .infinity, 3]
            values.append(.sortedSet(zip(unique(size, item), (0..<size).map { _ in scores[Int.random(in: 0..<scores.count, using: &random)] }).map { ScoredMember($0, $1) }))
            values.append(.hash(zip(unique(size, item), (0..<size).map { _ in item() }).map { FieldValue($0, $1) }))
            // Nodes end at 100 entries or 4 KiB; entries with the first's fields store only values.
            var id = RDBStreamID(ms: UInt64.random(in: 0...1 << 50, using: &random), seq: 0)
            let first = unique(Int.random(in: 1...3, using: &random), item)
            let entries = (0..<size).map { _ in
                id = Bool.random(using: &random) ? RDBStreamID(ms: id.ms, seq: id.seq + 1) : RDBStreamID(ms: id.ms + UInt64.random(in: 1...9999, using: &random), seq: 0)
                let names = Bool.random(using: &random) ? first : unique(Int.random(in: 1...3, using: &random), item)
                return RDBStreamEntry(id: id, fields: names.flatMap { [$0, item()] })
            }
            values.append(.stream(RDBStream(lastID: RDBStreamID(ms: id.ms, seq: id.seq + UInt64(size % 2)), entries: entries)))
        }
        values.append(.stream(RDBStream(lastID: RDBStreamID(ms: 5, seq: 5), entries: [])))
        for (i, value) in values.enumerated() {
            var writer = RDBWriter()
            writer.value(value)
            let key = "k\(i)"
            var restore = respCommand("RESTORE", key, "0", "")
            // The payload is binary: the command's last bulk string is laid out by hand.
            restore.removeLast(6)  // "$0\r\n\r\n"
            let payload = DumpPayload.seal(writer.bytes)
            restore += Array("$\(payload.count)\r\n".utf8) + payload + Array("\r\n".utf8)
            c.send(restore)
            let reply = String(decoding: c.readAvailable(quietMilliseconds: 50), as: UTF8.self)
            guard reply == "+OK\r\n" else {
                Issue.record("RESTORE of value \(i) (seed \(seed)): \(reply.debugDescription)")
                continue
            }
            let back = try DumpPayload.value(of: try #require(try dump(c, key)))
            #expect(RedisDataset.normalized(back) == RedisDataset.normalized(value), "value \(i) came back different (seed \(seed))")
        }
    }
}
