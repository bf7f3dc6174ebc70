import Foundation
import ShmKV
import TestSupport
import Testing
import Wire

/// How a step's two replies are compared.
indirect enum Comparison {
    case exact
    /// Integers may differ by this much (times to live: the servers read their clocks apart).
    case within(Int64)
    /// An array compared as a set (KEYS).
    case unordered
    /// SCAN 0 COUNT 1000: the same cursor and the same keys in any order.
    case scan
    /// Only whether it is null (RANDOMKEY).
    case nullness
    /// Not compared (OBJECT ENCODING of a key whose encoding Redis decided by history).
    case skip
    /// A flat array of pairs (HGETALL, HSCAN's page) compared as a set of pairs.
    case unorderedPairs
    /// The same kind of reply, arrays of the same length (random picks).
    case shape
    /// A SCAN-style reply whose page is compared with `page`.
    case cursor(page: Comparison)
    /// OBJECT ENCODING: exact, but a list ShmKV calls `listpack` (Redis 7.2's rule) Redis 7.0 calls `quicklist`.
    case listEncoding
}

/// One command for one of the two connections (0 or 1) of each server.
struct Step {
    let connection: Int
    let words: [String]
    let comparison: Comparison
    /// For EXEC: how each queued command's reply in its array is compared.
    var queued: [Comparison] = []
}

/// Random command streams over every command both servers have, with Redis's arguments and some wrong
/// ones. Keys `k0…k7` keep long deadlines only; `t0…t2` get deadlines of a few milliseconds, and the
/// runner waits them out before the next command, so expiry is certain on both sides.
struct StreamGenerator {
    var rng: SeededGenerator
    let longKeys = (0..<8).map { "k\($0)" }
    let shortKeys = ["t0", "t1", "t2"]
    var allKeys: [String] { longKeys + shortKeys }
    /// Keys whose OBJECT ENCODING depends on how Redis made the value (APPEND, SETRANGE, INCRBYFLOAT).
    var uncertainEncoding = EncodingDoubts()
    /// Whether streams mix in hashes, sets and sorted sets (`collectionStep`).
    var collections = true
    let farFuture = Int(Date().timeIntervalSince1970) + 100_000

    init(seed: UInt64) { rng = SeededGenerator(seed: seed) }

    mutating func pick<T>(_ items: [T]) -> T { items.randomElement(using: &rng)! }
    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &rng) < p }

    mutating func key() -> String { chance(0.12) ? pick(shortKeys) : pick(longKeys) }
    mutating func longKey() -> String { pick(longKeys) }
    mutating func value() -> String {
        pick(["", "0", "1", "-5", "42", "007", "9223372036854775807", "-9223372036854775808", "3.5", "1e3", "-0", "abc",
              "hello world", " 7", "inf", String(repeating: "x", count: 50), "12345678901234567890123", "0.1"])
    }
    mutating func integer() -> String {
        pick(["0", "1", "-1", "2", "5", "-3", "100", "9223372036854775807", "-9223372036854775808", "x", "1.5", "", "99999999999999999999"])
    }
    mutating func seconds() -> String { pick(["-1", "0", "100", "1000", "abc", "9223372036854775807", "99999999999999"]) }
    mutating func milliseconds() -> String { pick(["-1", "0", "100000", "x", "9223372036854775807"]) }
    mutating func absolute() -> (String, String) {
        let s = pick([1, farFuture, farFuture + 500])
        return (String(s), String(s * 1000 + 1))
    }
    mutating func expiryFlags() -> [String] { chance(0.5) ? [] : [pick(["NX", "XX", "GT", "LT", "nx", "XX", "FOO"])] + (chance(0.15) ? [pick(["GT", "NX"])] : []) }

    /// A SET with random options, some in conflict.
    mutating func set(_ k: String) -> [String] {
        var words = ["SET", k, value()]
        if chance(0.3) { words.append(pick(["NX", "XX"])) }
        if chance(0.2) { words.append("GET") }
        if chance(0.4) {
            let (s, ms) = absolute()
            words += pick([["EX", pick(["100", "0", "-1", "x"])], ["PX", "200000"], ["EXAT", s], ["PXAT", ms], ["KEEPTTL"]])
        }
        if chance(0.05) { words.append(pick(["NX", "EX", "KEEPTTL", "BOGUS"])) }
        return words
    }

    /// One step (or a few, for a transaction episode).
    /// `transactions` false: never a transaction episode (the commands inside one, and those another
    /// connection sends before it), so that episodes do not nest without bound.
    mutating func next(transactions: Bool = true) -> [Step] {
        let k = key(), k2 = key()
        func plain(_ words: [String], _ comparison: Comparison = .exact, on connection: Int = 0) -> [Step] {
            [Step(connection: connection, words: words, comparison: comparison)]
        }
        if transactions && chance(0.04) { return scriptStep() }
        if collections && chance(0.5) { return collectionStep() }
        switch Int.random(in: 0..<(transactions ? 100 : 75), using: &rng) {
        case 0..<8:
            let words = set(k)
            // Only a SET that surely stores gives the key a fresh encoding: no NX/XX, no invalid time,
            // no second expiry option or unknown word (each an error that leaves the key as it was).
            let options = words.dropFirst(3)
            let invalid = options.contains { ["NX", "XX", "BOGUS", "0", "-1", "x"].contains($0) }
                || options.count { ["EX", "PX", "EXAT", "PXAT", "KEEPTTL"].contains($0) } > 1
            if !invalid { uncertainEncoding.remove(k) }
            return plain(words)
        case 8..<10:
            let which = pick(["SETNX", "SETEX", "PSETEX", "GETSET"])
            switch which {
            // Only a valid time stores the value (and its fresh encoding); an invalid one leaves the key.
            case "SETEX":
                let seconds = pick(["100", "0", "x", "1000"])
                if seconds.hasPrefix("1") { uncertainEncoding.remove(k) }
                return plain(["SETEX", k, seconds, value()])
            case "PSETEX":
                let milliseconds = pick(["100000", "0", "-5"])
                if milliseconds.hasPrefix("1") { uncertainEncoding.remove(k) }
                return plain(["PSETEX", k, milliseconds, value()])
            case "GETSET": uncertainEncoding.remove(k); return plain(["GETSET", k, value()])
            default: return plain(["SETNX", k, value()])
            }
        case 10..<12:
            uncertainEncoding.remove(k)
            return plain(["GETDEL", k])
        case 12..<15:
            var words = ["GETEX", k]
            if chance(0.6) {
                let (s, ms) = absolute()
                words += pick([["EX", pick(["100", "0", "x"])], ["PX", "300000"], ["EXAT", s], ["PXAT", ms], ["PERSIST"], ["EX"], ["FOO"]])
            }
            return plain(words)
        case 15..<22:
            return plain(chance(0.6) ? ["GET", k] : ["MGET", k, k2, key()])
        case 22..<25:
            let pairs = (0..<Int.random(in: 1...3, using: &rng)).flatMap { _ in [key(), value()] }
            let nx = chance(0.3), odd = chance(0.05)
            if !nx && !odd { for i in stride(from: 0, to: pairs.count, by: 2) { uncertainEncoding.remove(pairs[i]) } }
            return plain([nx ? "MSETNX" : "MSET"] + pairs + (odd ? ["odd"] : []))
        case 25..<31:
            let which = pick(["INCR", "DECR", "INCRBY", "DECRBY", "INCRBYFLOAT"])
            if which == "INCRBYFLOAT" {
                uncertainEncoding.insert(k)
                return plain(["INCRBYFLOAT", k, pick(["1", "-2.5", "0.1", "1e3", "x", "inf", "3.0e-2", " 1"])])
            }
            return plain(which.hasSuffix("BY") ? [which, k, integer()] : [which, k])
        case 31..<37:
            switch pick(["STRLEN", "APPEND", "GETRANGE", "SUBSTR", "SETRANGE"]) {
            case "STRLEN": return plain(["STRLEN", k])
            case "APPEND": uncertainEncoding.insert(k); return plain(["APPEND", k, value()])
            case "SETRANGE": uncertainEncoding.insert(k); return plain(["SETRANGE", k, pick(["0", "3", "-1", "x", "10"]), value()])
            case let range: return plain([range, k, integer(), integer()])
            }
        case 37..<38:
            return plain(["LCS", k, k2] + pick([[], ["LEN"], ["IDX"], ["IDX", "WITHMATCHLEN", "MINMATCHLEN", "2"], ["LEN", "IDX"], ["FOO"]]))
        case 38..<44:
            let which = pick(["DEL", "UNLINK", "EXISTS", "TOUCH", "TYPE"])
            if which == "TYPE" { return plain(["TYPE", k]) }
            if which == "DEL" || which == "UNLINK" { uncertainEncoding.remove(k); uncertainEncoding.remove(k2) }
            return plain([which, k, k2])
        case 44..<49:
            let which = pick(["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"])
            let (s, ms) = absolute()
            let time = which == "EXPIRE" ? seconds() : which == "PEXPIRE" ? milliseconds() : which == "EXPIREAT" ? s : ms
            let flags = expiryFlags()
            // A relative time under GT/LT is compared with a deadline set a few ms before: whether a
            // millisecond passed in between differs between the servers. EXPIREAT/PEXPIREAT check them exactly.
            let clockDependent = !which.hasSuffix("AT") && flags.contains { ["GT", "LT"].contains($0.uppercased()) }
            return plain([which, longKey(), time] + flags, clockDependent ? .skip : .exact)
        case 49..<53:
            let which = pick(["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"])
            return plain([which, k], .within(which.hasPrefix("P") ? 250 : 1))
        case 53..<55:
            return plain(["PERSIST", k])
        case 55..<58:
            let which = pick(["RENAME", "RENAMENX", "COPY"])
            let (a, b) = (longKey(), longKey())
            // The target keeps its own value when the command does nothing: uncertain if either was.
            if uncertainEncoding.contains(a) { uncertainEncoding.insert(b) }
            if which == "COPY" { return plain(["COPY", a, b] + pick([[], ["REPLACE"], ["DB", "0"], ["DB", "x"], ["FOO"]])) }
            return plain([which, a, b])
        case 58..<59:
            return plain(["KEYS", pick(["*", "k*", "?0", "[kt]1"])], .unordered)
        case 59..<60:
            return existsAll() + plain(["SCAN", "0", "COUNT", "1000"], .scan)
        case 60..<61:
            return existsAll() + plain(["DBSIZE"])
        case 61..<62:
            return existsAll() + plain(["RANDOMKEY"], .nullness)
        case 62..<64:
            let sub = pick(["ENCODING", "REFCOUNT"])
            return plain(["OBJECT", sub, k], uncertainEncoding.contains(k) ? .skip : .exact)
        case 64..<66:
            return plain(pick([["PING"], ["PING", "hi"], ["ECHO", "x"], ["SELECT", "0"], ["WAIT", "0", "0"], ["PUBLISH", "ch", "m"],
                               ["FUNCTION", "FLUSH"], ["NOSUCH", "a"], ["GET"], ["SET", "k0"], ["INCRBY", "k0"], ["EXPIRE", "k0"]]))
        case 66..<67:
            return plain(chance(0.5) ? ["CONFIG", "SET", "notify-keyspace-events", pick(["KEA", "", "Kx", "Q", "AKEn"])]
                                     : ["CONFIG", "GET", "notify-keyspace-events"])
        case 67..<68:
            let flush = pick(["FLUSHDB", "FLUSHALL"])
            if flush == "FLUSHALL" { uncertainEncoding.flushAll() } else { uncertainEncoding.removeAll() }
            return plain([flush])
        case 68..<75:
            // A deadline of a few milliseconds: the runner waits it out before the next command.
            let t = pick(shortKeys)
            uncertainEncoding.remove(t)
            return plain(pick([["SET", t, value(), "PX", "2"], ["PSETEX", t, "3", value()], ["PEXPIRE", t, "2"]]))
        default:
            return transaction()
        }
    }

    /// Whether a generated command may be sent inside MULTI: not the transaction commands themselves,
    /// nor the few-millisecond deadlines (whether one has passed inside EXEC depends on when each server
    /// reads its clock).
    static func queueable(_ words: [String]) -> Bool {
        if ["MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH"].contains(words[0]) { return false }
        return !(words.contains { $0.hasPrefix("t") } && words.contains { ["PX", "PSETEX", "PEXPIRE"].contains($0) })
    }

    /// EXISTS over every key on both connections' servers, so that Redis's lazy expiry has removed what
    /// is due before a command that counts keys.
    func existsAll() -> [Step] { [Step(connection: 0, words: ["EXISTS"] + allKeys, comparison: .exact)] }

    /// WATCH on connection 0, a few commands on connection 1, MULTI … EXEC (or DISCARD) on 0.
    private mutating func transaction() -> [Step] {
        var steps: [Step] = []
        let watched = (0..<Int.random(in: 0...2, using: &rng)).map { _ in key() }
        if !watched.isEmpty { steps.append(Step(connection: 0, words: ["WATCH"] + watched, comparison: .exact)) }
        for _ in 0..<Int.random(in: 0...2, using: &rng) {
            steps += next(transactions: false).filter { $0.connection == 0 && !$0.words.contains("WATCH") }.map { Step(connection: 1, words: $0.words, comparison: $0.comparison) }
        }
        if chance(0.1) { steps.append(Step(connection: 0, words: ["UNWATCH"], comparison: .exact)) }
        steps.append(Step(connection: 0, words: ["MULTI"], comparison: .exact))
        // Inside MULTI, any command of the streams (every read and write both servers have): each is
        // queued, and EXEC's array is compared reply by reply as the command would be outside.
        var queued: [Comparison] = []
        let count = Int.random(in: 1...5, using: &rng)
        while queued.count < count {
            for step in next(transactions: false) where step.connection == 0 && StreamGenerator.queueable(step.words) {
                steps.append(Step(connection: 0, words: step.words, comparison: .exact))
                // Redis's reference counts and encodings inside EXEC also count the queued commands'
                // arguments (a value just stored by MSET has REFCOUNT 2 until EXEC ends): not compared.
                queued.append(step.words[0] == "OBJECT" ? .skip : step.comparison)
            }
        }
        // Which writes ran (a queue-time error aborts them all) is not tracked: encodings become uncertain.
        uncertainEncoding.formUnion(allKeys)
        var exec = Step(connection: 0, words: [chance(0.85) ? "EXEC" : "DISCARD"], comparison: .exact)
        exec.queued = queued
        steps.append(exec)
        return steps
    }
}

@Suite("Differential: random command streams sent to shmkvd and to redis-server get the same replies")
struct DifferentialTests {
    @Test("4,000 random commands over every string, key, expiry, transaction, hash, set, sorted-set, list, blocking-pop and SORT command, some inside EVAL, two connections, WATCH across them")
    func randomStreams() throws {
        let seed = ProcessInfo.processInfo.environment["SHMKV_DIFF_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 1...UInt64.max)
        let daemon = try Daemon()
        defer { _ = daemon.stop() }
        let redis = try RedisServer()
        let mine = try (0..<2).map { _ in try RESPClient(address: .unix(path: daemon.socketPath), timeoutSeconds: 10) }
        let theirs = try (0..<2).map { _ in try RESPClient(address: .unix(path: redis.socketPath), timeoutSeconds: 10) }
        for client in [mine[0], theirs[0]] { _ = try client.command(["CONFIG", "SET", "notify-keyspace-events", "KEA"].map { Array($0.utf8) }) }
        var generator = StreamGenerator(seed: seed)
        var history: [String] = []
        var mismatches = 0
        var lastShortDeadline = Date.distantPast
        var sent = 0
        while sent < 4000 && mismatches < 5 {
            for step in generator.next() {
                // Deadlines of a few ms set before: both servers have passed them before this command.
                let wait = lastShortDeadline.timeIntervalSinceNow
                if wait > 0 { Thread.sleep(forTimeInterval: wait) }
                let args = step.words.map { Array($0.utf8) }
                let a = try mine[step.connection].command(args), b = try theirs[step.connection].command(args)
                if step.words.contains(where: { $0.hasPrefix("t") }) && step.words.contains(where: { ["PX", "PSETEX", "PEXPIRE"].contains($0) }) {
                    lastShortDeadline = Date().addingTimeInterval(0.012)
                }
                sent += 1
                history.append("\(step.connection): \(step.words.joined(separator: " "))")
                if !(step.queued.isEmpty ? same(a, b, step.comparison) : sameEach(a, b, step.queued)) {
                    mismatches += 1
                    Issue.record("""
                        seed \(seed) (SHMKV_DIFF_SEED=\(seed) to replay), command \(sent): \(step.words)
                        shmkvd:       \(a)
                        redis-server: \(b)
                        last commands:
                        \(history.suffix(step.queued.isEmpty ? 12 : 12 + step.queued.count).joined(separator: "\n"))
                        """)
                }
            }
        }
        #expect(mismatches == 0, "seed \(seed)")
    }

    /// EXEC's arrays, element by element as each queued command's reply is compared (anything else:
    /// exactly).
    private func sameEach(_ a: RESPReply, _ b: RESPReply, _ comparisons: [Comparison]) -> Bool {
        guard case .array(let x) = a, case .array(let y) = b, x.count == comparisons.count, y.count == comparisons.count else {
            return a == b
        }
        return zip(zip(x, y), comparisons).allSatisfy { same($0.0, $0.1, $1) }
    }

    private func same(_ a: RESPReply, _ b: RESPReply, _ comparison: Comparison) -> Bool {
        switch comparison {
        case .exact:
            return a == b
        case .within(let tolerance):
            if case .integer(let x) = a, case .integer(let y) = b { return (x - y).magnitude <= UInt64(tolerance) && (x < 0) == (y < 0) }
            return a == b
        case .unordered:
            guard case .array(let x) = a, case .array(let y) = b else { return a == b }
            return x.map { "\($0)" }.sorted() == y.map { "\($0)" }.sorted()
        case .scan:
            guard case .array(let x) = a, case .array(let y) = b, x.count == 2, y.count == 2 else { return a == b }
            return x[0] == y[0] && same(x[1], y[1], .unordered)
        case .nullness:
            return (a == .null) == (b == .null)
        case .skip:
            return true
        case .unorderedPairs:
            guard case .array(let x) = a, case .array(let y) = b, x.count % 2 == 0 else { return a == b }
            func pairs(_ items: [RESPReply]) -> [String] { stride(from: 0, to: items.count, by: 2).map { "\(items[$0]) \(items[$0 + 1])" }.sorted() }
            return pairs(x) == pairs(y)
        case .shape:
            switch (a, b) {
            case (.array(let x), .array(let y)): return x.count == y.count
            case (.error(let x), .error(let y)): return x == y
            default: return "\(a)".prefix(4) == "\(b)".prefix(4)
            }
        case .listEncoding:
            return a == b || (a == .bulk(Array("listpack".utf8)) && b == .bulk(Array("quicklist".utf8)))
        case .cursor(let page):
            guard case .array(let x) = a, case .array(let y) = b, x.count == 2, y.count == 2 else { return a == b }
            return x[0] == y[0] && same(x[1], y[1], page)
        }
    }
}

/// The keys whose OBJECT ENCODING is not compared. Once the stream has left database 0 (SELECT,
/// SWAPDB, MOVE, COPY … DB), a key name no longer says which value a command meets, so a doubt is
/// cleared only by FLUSHALL.
struct EncodingDoubts {
    private var keys = Set<String>()
    /// Whether some command may have run in another database than 0.
    var databasesMixed = false

    func contains(_ key: String) -> Bool { keys.contains(key) }
    mutating func insert(_ key: String) { keys.insert(key) }
    mutating func formUnion(_ other: [String]) { keys.formUnion(other) }
    /// The key got a fresh encoding in the database it was written in.
    mutating func remove(_ key: String) { if !databasesMixed { keys.remove(key) } }
    /// FLUSHDB: one database's keys are gone.
    mutating func removeAll() { if !databasesMixed { keys.removeAll() } }
    /// FLUSHALL: every database's keys are gone.
    mutating func flushAll() { keys.removeAll() }
}
