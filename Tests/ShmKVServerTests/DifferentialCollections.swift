import Foundation

/// The hash, set and sorted-set half of the differential streams: the same keys as the string commands
/// (so WRONGTYPE, overwrites and deletions across types come up), small collections and large ones (bulk
/// adds cross Redis's listpack and intset thresholds and ShmKV's packed record), long values (over 64
/// bytes) and long members (over ShmKV's 502-byte key room). Random picks are compared by shape only;
/// SPOP pops everything (which members a smaller SPOP takes is random). Lex ranges go to `lex`, whose
/// members all score 0 (Redis's lex order with mixed scores is unspecified).
extension StreamGenerator {
    mutating func field() -> String {
        chance(0.9) ? "f\(Int.random(in: 0..<180, using: &rng))" : pick(["", "x y", String(repeating: "F", count: 70), String(repeating: "L", count: 600)])
    }

    mutating func member() -> String {
        switch Int.random(in: 0..<10, using: &rng) {
        case 0..<5: return String(Int.random(in: -20..<600, using: &rng))
        case 5..<8: return "m\(Int.random(in: 0..<150, using: &rng))"
        case 8: return pick(["", "007", "-0", "1.5", "9223372036854775808", String(repeating: "M", count: 65)])
        default: return String(repeating: "z", count: 500 + Int.random(in: 0..<20, using: &rng))
        }
    }

    mutating func collectionValue() -> String { chance(0.1) ? String(repeating: "v", count: 65) : value() }

    mutating func score() -> String {
        pick(["0", "1", "-1", "1.5", "2", "3", "-2.5", "0.1", "1e3", "-inf", "+inf", "inf", "100", "7", "x", "nan", "(1", "-0"])
    }

    mutating func bound() -> String { pick(["-inf", "+inf", "0", "1", "(1", "1.5", "(0.1", "2", "(3", "100", "x", "", "(", "-1"]) }
    mutating func lexBound() -> String { pick(["-", "+", "[m1", "(m1", "[m5", "(m9", "[", "(", "m1", "[z", "+x"]) }
    mutating func count() -> String { pick(["0", "1", "2", "3", "5", "-2", "-5", "1000", "x"]) }

    mutating func fields(_ n: Int) -> [String] { (0..<n).flatMap { _ in [field(), collectionValue()] } }
    mutating func members(_ n: Int) -> [String] { (0..<n).map { _ in member() } }
    mutating func scored(_ n: Int) -> [String] { (0..<n).flatMap { _ in [score(), member()] } }

    mutating func collectionStep() -> [Step] {
        let k = key(), k2 = key(), k3 = key()
        func plain(_ words: [String], _ comparison: Comparison = .exact) -> [Step] { [Step(connection: 0, words: words, comparison: comparison)] }
        // An element count: mostly a few, sometimes enough to cross every threshold at once.
        let n = chance(0.1) ? Int.random(in: 40...140, using: &rng) : Int.random(in: 1...4, using: &rng)
        switch Int.random(in: 0..<75, using: &rng) {
        case 55..<75: return listStep()
        // Numbered databases: the stream wanders between 0, 1 and 2.
        case 52:
            let database = pick(["0", "0", "1", "2", "16", "x"])
            if database == "1" || database == "2" { uncertainEncoding.databasesMixed = true }
            return plain(["SELECT", database])
        case 53:
            uncertainEncoding.databasesMixed = true
            return plain(pick([["MOVE", k, pick(["0", "1", "2", "99"])], ["SWAPDB", pick(["0", "1"]), pick(["1", "2"])],
                                    ["COPY", k, k2, "DB", pick(["0", "1", "2"])] + (chance(0.5) ? ["REPLACE"] : [])]))
        case 54: return existsAll() + plain(["DBSIZE"])
        // Hashes
        case 0..<3: return plain([pick(["HSET", "HMSET"]), k] + fields(n) + (chance(0.03) ? ["odd"] : []))
        case 3: return plain(["HSETNX", k, field(), collectionValue()])
        case 4..<6: return plain([pick(["HGET", "HEXISTS", "HSTRLEN"]), k, field()])
        case 6: return plain(["HMGET", k, field(), field(), field()])
        case 7: return plain([pick(["HLEN", "HGETALL", "HKEYS", "HVALS"]), k], .unordered)
        case 8: return plain(["HDEL", k] + (0..<n).map { _ in field() })
        case 9: return plain(["HINCRBY", k, field(), integer()])
        case 10: return plain(["HINCRBYFLOAT", k, field(), pick(["1", "-2.5", "0.1", "1e3", "x", "inf", "3.0e-2"])])
        case 11: return plain(["HRANDFIELD", k] + pick([[], [count()], [count(), "WITHVALUES"], ["3", "FOO"]]), .shape)
        case 12: return plain(["HSCAN", k, "0", "COUNT", "1000"] + (chance(0.3) ? ["MATCH", "f1*"] : []), .cursor(page: .unorderedPairs))
        // Sets
        case 13..<16: return plain(["SADD", k] + members(n))
        case 16: return plain(["SREM", k] + members(n))
        case 17..<19: return plain([pick(["SISMEMBER", "SMISMEMBER"]), k, member()] + (chance(0.5) ? [member()] : []))
        case 19: return plain([pick(["SCARD", "SMEMBERS"]), k], .unordered)
        case 20: return plain(["SPOP", k] + pick([["1000"], ["0"], ["-1"], ["x"]]), .unordered)
        case 21: return plain(["SRANDMEMBER", k] + pick([[], [count()]]), .shape)
        case 22: return plain(["SMOVE", k, k2, member()])
        case 23..<25: return plain([pick(["SINTER", "SUNION", "SDIFF"]), k, k2] + (chance(0.5) ? [k3] : []), .unordered)
        case 25: return plain([pick(["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]), k, k2, k3])
        case 26: return plain(["SINTERCARD", pick(["2", "0", "3", "x"]), k, k2] + pick([[], ["LIMIT", "1"], ["LIMIT", "-1"]]))
        case 27: return plain(["SSCAN", k, "0", "COUNT", "1000"], .cursor(page: .unordered))
        // Sorted sets
        case 28..<31:
            let flags = chance(0.4) ? [pick(["NX", "XX", "GT", "LT", "CH", "INCR", "GT CH", "XX LT", "NX GT"])] : []
            let options = flags.flatMap { $0.split(separator: " ").map(String.init) }
            return plain(["ZADD", k] + options + scored(options.contains("INCR") ? 1 : n))
        case 31: return plain(["ZINCRBY", k, score(), member()])
        case 32: return plain(["ZREM", k] + members(n))
        case 33..<35: return plain([pick(["ZSCORE", "ZRANK", "ZREVRANK"]), k, member()])
        case 35: return plain(["ZMSCORE", k, member(), member()])
        case 36: return plain([pick(["ZCARD"]), k])
        case 37: return plain(["ZCOUNT", k, bound(), bound()])
        case 38..<40:
            let form = pick(["ZRANGE", "ZREVRANGE", "ZRANGEBYSCORE", "ZREVRANGEBYSCORE"])
            var words = [form, k]
            if form.hasSuffix("SCORE") { words += [bound(), bound()] } else { words += [integer(), integer()] }
            if form == "ZRANGE" && chance(0.5) { words = ["ZRANGE", k, bound(), bound(), "BYSCORE"] }
            if form == "ZRANGE" && chance(0.3) { words.append("REV") }
            if chance(0.5) { words.append("WITHSCORES") }
            if chance(0.3) { words += ["LIMIT", pick(["0", "1", "-1", "2"]), pick(["1", "2", "-1", "0"])] }
            return plain(words)
        case 40:
            let form = pick(["ZRANGEBYLEX", "ZREVRANGEBYLEX", "ZLEXCOUNT", "ZREMRANGEBYLEX", "ZRANGE"])
            if form == "ZRANGE" { return plain(["ZRANGE", "lex", lexBound(), lexBound(), "BYLEX"] + (chance(0.5) ? ["REV"] : [])) }
            return plain([form, "lex", lexBound(), lexBound()] + (form.hasSuffix("LEX") && chance(0.3) ? ["LIMIT", "1", "2"] : []))
        case 41: return plain(["ZADD", "lex", "0", "m\(Int.random(in: 0..<12, using: &rng))", "0", "m\(Int.random(in: 0..<12, using: &rng))"])
        case 42: return plain([pick(["ZPOPMIN", "ZPOPMAX"]), k] + pick([[], ["1"], ["3"], ["-1"], ["0"]]))
        case 43: return plain(["ZMPOP", "2", k, k2, pick(["MIN", "MAX", "BOTH"])] + pick([[], ["COUNT", "2"], ["COUNT", "0"]]))
        case 44: return plain([pick(["ZREMRANGEBYRANK", "ZREMRANGEBYSCORE"]), k] + (chance(0.5) ? [integer(), integer()] : [bound(), bound()]))
        case 45:
            let op = pick(["ZUNION", "ZINTER", "ZDIFF", "ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE", "ZINTERCARD"])
            var words = [op] + (op.hasSuffix("STORE") ? [k3] : []) + [pick(["2", "2", "0", "3"]), k, k2]
            if !op.hasPrefix("ZDIFF") && op != "ZINTERCARD" && chance(0.4) { words += ["WEIGHTS", pick(["2", "0.5", "x", "-1"]), "3"] }
            if !op.hasPrefix("ZDIFF") && op != "ZINTERCARD" && chance(0.4) { words += ["AGGREGATE", pick(["SUM", "MIN", "MAX", "AVG"])] }
            if !op.hasSuffix("STORE") && op != "ZINTERCARD" && chance(0.5) { words.append("WITHSCORES") }
            if op == "ZINTERCARD" && chance(0.5) { words += ["LIMIT", pick(["1", "0", "-1"])] }
            return plain(words)
        case 46: return plain(["ZRANGESTORE", k3, k, pick(["0", "1", "-inf", "(1"]), pick(["-1", "2", "+inf"])] + pick([[], ["BYSCORE"], ["REV"], ["BYSCORE", "LIMIT", "0", "2"]]))
        case 47: return plain(["TYPE", k])
        case 48: return plain(["OBJECT", "ENCODING", k], uncertainEncoding.contains(k) ? .skip : .listEncoding)
        case 49: return plain(["ZRANDMEMBER", k] + pick([[], [count()], [count(), "WITHSCORES"]]), .shape)
        case 50: return plain(["ZSCAN", k, "0", "COUNT", "1000"], .cursor(page: .unorderedPairs))
        default: return existsAll() + plain(["SCAN", "0", "COUNT", "1000", "TYPE", pick(["hash", "set", "zset", "string", "list"])], .cursor(page: .unordered))
        }
    }
}
