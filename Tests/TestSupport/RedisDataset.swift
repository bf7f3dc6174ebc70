import Foundation
import RDB
import Wire

/// A key's value and deadline (Unix time in ms) as the RDB codec reads them.
public struct StoredKey: Equatable, Sendable {
    public var value: RDBValue
    public var expiresAt: Int64?
    public init(_ value: RDBValue, expiresAt: Int64? = nil) {
        self.value = value
        self.expiresAt = expiresAt
    }
}

/// Numbered databases of keys: what a server holds, as a test compares it key by key.
public typealias KeyspaceImage = [Int: [[UInt8]: StoredKey]]

/// A seeded dataset of every type in small and large sizes (so that every encoding Redis 7.0 writes
/// appears: int, raw and LZF strings; quicklists of one and several listpack nodes; intsets and hash
/// tables; listpack and skiplist sorted sets; listpack and hash table hashes), in three databases, a
/// third of the keys with a deadline an hour or more away.
public enum RedisDataset {
    public static func make(seed: UInt64, keysPerDatabase: Int = 60, databases: [Int] = [0, 3, 9]) -> KeyspaceImage {
        var random = SplitMix64(seed: seed)
        func item(_ big: Bool) -> [UInt8] {
            switch Int.random(in: 0..<5, using: &random) {
            case 0: return Array(String(Int64.random(in: -70_000...70_000, using: &random)).utf8)
            case 1: return Array(String(Int64.random(in: .min ... .max, using: &random)).utf8)
            case 2: return (0..<Int.random(in: 0...(big ? 300 : 40), using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            case 3: return Array(String(repeating: "abcd", count: Int.random(in: 1...(big ? 3000 : 10), using: &random)).utf8)
            default: return Array("m\(Int.random(in: 0...10_000_000, using: &random))".utf8)
            }
        }
        func unique(_ n: Int, _ make: () -> [UInt8]) -> [[UInt8]] {
            var seen = Set<[UInt8]>(), out: [[UInt8]] = []
            while out.count < n { let x = make(); if seen.insert(x).inserted { out.append(x) } }
            return out
        }
        // Ids with gaps (XADD's and XDEL's ghosts go between, see `commands`); entries with the same
        // fields as the first (Redis packs only their values) or others; a last id past the last entry
        // (its entry deleted), and now and then no entry left at all.
        func stream(_ n: Int, big: Bool) -> RDBStream {
            var ms = UInt64.random(in: 1...1_000_000_000_000, using: &random)
            let common = [Array("job".utf8), Array("state".utf8)]
            var entries: [RDBStreamEntry] = []
            for _ in 0..<(Int.random(in: 0..<10, using: &random) == 0 ? 0 : n) {
                ms += UInt64.random(in: 2...1000, using: &random)
                let names = Bool.random(using: &random) ? common : unique(Int.random(in: 1...4, using: &random)) { item(big) }
                entries.append(RDBStreamEntry(id: RDBStreamID(ms: ms, seq: UInt64.random(in: 0...3, using: &random)),
                                              fields: names.flatMap { [$0, item(big)] }))
            }
            let last = entries.isEmpty || Bool.random(using: &random) ? RDBStreamID(ms: ms + 1, seq: 7) : entries.last!.id
            return RDBStream(lastID: last, entries: entries)
        }
        let scores: [Double] = [0, 1, -1.5, 0.1, 1e300, -.infinity, .infinity, 3, 12345.678]
        let hour = Int64(Date().timeIntervalSince1970 * 1000) + 3_600_000
        var image: KeyspaceImage = [:]
        for db in databases {
            var keys: [[UInt8]: StoredKey] = [:]
            for i in 0..<keysPerDatabase {
                let big = i % 5 == 4
                let n = big ? Int.random(in: 130...700, using: &random) : Int.random(in: 1...20, using: &random)
                let value: RDBValue
                switch i % 7 {
                case 0: value = .string(item(big))
                case 1: value = .list((0..<n).map { _ in item(big) })
                case 2: value = .set(unique(n) { item(big) })
                case 3: value = .set(unique(n) { Array(String(Int64.random(in: -1_000_000...1_000_000, using: &random)).utf8) })
                case 4: value = .sortedSet(unique(n) { item(big) }.map { ScoredMember($0, scores[Int.random(in: 0..<scores.count, using: &random)]) })
                case 5: value = .hash(unique(n) { item(big) }.map { FieldValue($0, item(big)) })
                default: value = .stream(stream(n, big: big))
                }
                let key = Array("d\(db):\(["s", "l", "set", "iset", "z", "h", "x"][i % 7]):\(i)".utf8) + (i % 11 == 0 ? [0, 0xFF, 10] : [])
                keys[key] = StoredKey(value, expiresAt: i % 3 == 0 ? hour + Int64(i) * 1000 + Int64(db) : nil)
            }
            image[db] = keys
        }
        return image
    }

    /// RESP commands that build `image` on an empty server (SELECT, then per key a write and PEXPIREAT).
    public static func commands(_ image: KeyspaceImage) -> [[[UInt8]]] {
        func b(_ s: String) -> [UInt8] { Array(s.utf8) }
        var out: [[[UInt8]]] = []
        for (db, keys) in image.sorted(by: { $0.key < $1.key }) {
            out.append([b("SELECT"), b(String(db))])
            for (key, stored) in keys {
                switch stored.value {
                case .string(let v): out.append([b("SET"), key, v])
                case .list(let items): out.append([b("RPUSH"), key] + items)
                case .set(let members): out.append([b("SADD"), key] + members)
                case .sortedSet(let members): out.append([b("ZADD"), key] + members.flatMap { [b(scoreText($0.score)), $0.member] })
                case .hash(let pairs): out.append([b("HSET"), key] + pairs.flatMap { [$0.field, $0.value] })
                case .stream(let stream): out += streamCommands(key, stream)
                }
                if let at = stored.expiresAt { out.append([b("PEXPIREAT"), key, b(String(at))]) }
            }
        }
        return out
    }

    /// XADDs of every entry, with a ghost after every fifth and one at the last id when no entry holds
    /// it, then an XDEL of the ghosts: so that Redis's nodes hold deleted entries.
    private static func streamCommands(_ key: [UInt8], _ stream: RDBStream) -> [[[UInt8]]] {
        func id(_ id: RDBStreamID) -> [UInt8] { Array("\(id.ms)-\(id.seq)".utf8) }
        var out: [[[UInt8]]] = [], ghosts: [RDBStreamID] = []
        for (i, entry) in stream.entries.enumerated() {
            out.append([Array("XADD".utf8), key, id(entry.id)] + entry.fields)
            // (None after the last entry: that ghost would be the stream's last id.)
            if i % 5 == 4 && i < stream.entries.count - 1 {
                ghosts.append(RDBStreamID(ms: entry.id.ms + 1, seq: 0))
                out.append([Array("XADD".utf8), key, id(ghosts.last!), Array("ghost".utf8), []])
            }
        }
        if stream.entries.last?.id != stream.lastID {
            ghosts.append(stream.lastID)
            out.append([Array("XADD".utf8), key, id(stream.lastID), Array("ghost".utf8), []])
        }
        if !ghosts.isEmpty { out.append([Array("XDEL".utf8), key] + ghosts.map(id)) }
        return out
    }

    /// A score as ZADD takes it.
    public static func scoreText(_ score: Double) -> String {
        score == .infinity ? "+inf" : score == -.infinity ? "-inf" : "\(score)"
    }

    /// `image` with each set's, hash's and sorted set's elements in one order (a server's own order is
    /// its business), for comparing.
    public static func normalized(_ image: KeyspaceImage) -> KeyspaceImage {
        image.filter { !$0.value.isEmpty }.mapValues { $0.mapValues { StoredKey(normalized($0.value), expiresAt: $0.expiresAt) } }
    }

    public static func normalized(_ value: RDBValue) -> RDBValue {
        // memcmp: values share long prefixes, which a generic comparison walks slowly in a debug build.
        func before(_ a: [UInt8], _ b: [UInt8]) -> Bool {
            a.withUnsafeBytes { x in
                b.withUnsafeBytes { y in
                    let n = min(x.count, y.count)
                    let order = n == 0 ? 0 : memcmp(x.baseAddress!, y.baseAddress!, n)
                    return order != 0 ? order < 0 : x.count < y.count
                }
            }
        }
        switch value {
        case .string, .list, .stream: return value
        case .set(let members): return .set(members.sorted(by: before))
        case .sortedSet(let members): return .sortedSet(members.sorted { before($0.member, $1.member) })
        case .hash(let pairs): return .hash(pairs.sorted { before($0.field, $1.field) })
        }
    }

    /// The first difference between two images, or nil when they hold the same keys with the same
    /// values and deadlines (within `tolerance` ms).
    public static func difference(_ a: KeyspaceImage, _ b: KeyspaceImage, tolerance: Int64 = 0) -> String? {
        let a = normalized(a), b = normalized(b)
        for db in Set(a.keys).union(b.keys).sorted() {
            let left = a[db] ?? [:], right = b[db] ?? [:]
            if left.count != right.count { return "database \(db): \(left.count) keys vs \(right.count)" }
            for (key, x) in left {
                let name = String(decoding: key, as: UTF8.self).debugDescription
                guard let y = right[key] else { return "database \(db): \(name) missing on the right" }
                if case .stream(let p) = x.value, case .stream(let q) = y.value, p != q {
                    let at = zip(p.entries, q.entries).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(p.entries.count, q.entries.count)
                    return "database \(db): stream \(name): last ids \(p.lastID) vs \(q.lastID), \(p.entries.count) entries vs \(q.entries.count), "
                        + "first difference at entry \(at): \(at < p.entries.count ? "\(p.entries[at])" : "none") vs \(at < q.entries.count ? "\(q.entries[at])" : "none")"
                }
                if x.value != y.value { return "database \(db): \(name) differs: \(x.value) vs \(y.value)".prefix(600).description }
                switch (x.expiresAt, y.expiresAt) {
                case (nil, nil): break
                case (let p?, let q?) where abs(p - q) <= tolerance: break
                default: return "database \(db): \(name) deadline \(String(describing: x.expiresAt)) vs \(String(describing: y.expiresAt))"
                }
            }
        }
        return nil
    }
}

/// A blocking RESP connection for tests (requests and replies of any size, binary safe).
public final class RESPTestConnection: @unchecked Sendable {
    // Invariant: used from one test at a time.
    private let raw: RawConnection
    private var input: [UInt8] = []

    public init(unixPath: String) throws { raw = try RawConnection(unixPath: unixPath) }

    /// Sends `commands` in one write and reads their replies (at most 30 s in all).
    public func pipeline(_ commands: [[[UInt8]]]) throws -> [RESPReply] {
        var out: [UInt8] = []
        for args in commands {
            out += Array("*\(args.count)\r\n".utf8)
            for arg in args { out += Array("$\(arg.count)\r\n".utf8) + arg + [13, 10] }
        }
        raw.send(out)
        var replies: [RESPReply] = []
        let deadline = Date().addingTimeInterval(30)
        while replies.count < commands.count {
            if let (reply, used) = try input.withUnsafeBytes({ try RESPReplyDecoder.decode($0) }) {
                input.removeFirst(used)
                replies.append(reply)
                continue
            }
            guard Date() < deadline else { throw DaemonError.didNotStart(status: -1, stderr: "\(replies.count) of \(commands.count) replies within 30 s") }
            input += raw.readAvailable(quietMilliseconds: 20)
        }
        return replies
    }

    public func call(_ words: String...) throws -> RESPReply { try pipeline([words.map { Array($0.utf8) }])[0] }

    /// Waits (at most 60 s) until the server answers PING with PONG rather than LOADING.
    public func waitUntilLoaded() throws {
        let deadline = Date().addingTimeInterval(60)
        while try call("PING") != .simple("PONG") {
            guard Date() < deadline else { throw DaemonError.didNotStart(status: -1, stderr: "still loading after 60 s") }
            usleep(20_000)
        }
    }

    /// What the server holds in `databases`: every key (KEYS *), its DUMP read by the RDB codec, and
    /// its PEXPIRETIME.
    public func image(databases: Range<Int> = 0..<16) throws -> KeyspaceImage {
        var image: KeyspaceImage = [:]
        for db in databases {
            let replies = try pipeline([[Array("SELECT".utf8), Array(String(db).utf8)], [Array("KEYS".utf8), [UInt8(ascii: "*")]]])
            guard case .array(let names) = replies[1] else { throw RDBError(offset: 0, reason: "KEYS answered \(replies)") }
            var keys: [[UInt8]: StoredKey] = [:]
            let named = names.compactMap { if case .bulk(let k) = $0 { k } else { nil } }
            for chunk in stride(from: 0, to: named.count, by: 200) {
                let part = Array(named[chunk..<min(chunk + 200, named.count)])
                let answers = try pipeline(part.flatMap { [[Array("DUMP".utf8), $0], [Array("PEXPIRETIME".utf8), $0]] })
                for (i, key) in part.enumerated() {
                    guard case .bulk(let payload) = answers[2 * i], case .integer(let at) = answers[2 * i + 1] else { continue }
                    keys[key] = StoredKey(try DumpPayload.value(of: payload), expiresAt: at >= 0 ? at : nil)
                }
            }
            if !keys.isEmpty { image[db] = keys }
        }
        return image
    }
}
