import Foundation

/// The list, blocking-pop and SORT part of the differential streams, on the same keys as every other
/// type. Lists grow past ShmKV's packed record and its 4 KiB chunks (bulk pushes, long items); blocking
/// pops use short timeouts, so an empty key answers the same null on both servers. SORT weights come
/// from `w_*` strings and `wh_*` hashes. OBJECT ENCODING of a list may differ (`Comparison.listEncoding`).
extension StreamGenerator {
    mutating func item() -> String {
        switch Int.random(in: 0..<12, using: &rng) {
        case 0..<6: return String(Int.random(in: -5..<40, using: &rng))
        case 6..<10: return "i\(Int.random(in: 0..<30, using: &rng))"
        case 10: return pick(["", "1.5", "x y", "-0", "007"])
        default: return String(repeating: "I", count: pick([70, 700, 3000]))
        }
    }

    mutating func index() -> String { pick(["0", "1", "2", "-1", "-2", "5", "-5", "50", "-50", "130", "1000", "x"]) }
    mutating func side() -> String { pick(["LEFT", "RIGHT", "LEFT", "RIGHT", "UP"]) }

    mutating func listStep() -> [Step] {
        let k = key(), k2 = key(), k3 = key()
        func plain(_ words: [String], _ comparison: Comparison = .exact) -> [Step] { [Step(connection: 0, words: words, comparison: comparison)] }
        let n = chance(0.1) ? Int.random(in: 40...300, using: &rng) : Int.random(in: 1...4, using: &rng)
        switch Int.random(in: 0..<20, using: &rng) {
        case 0..<3: return plain([pick(["LPUSH", "RPUSH", "LPUSH", "RPUSH", "LPUSHX", "RPUSHX"]), k] + (0..<n).map { _ in item() })
        case 3: return plain([pick(["LPOP", "RPOP"]), k] + pick([[], ["1"], ["3"], ["0"], ["-1"], ["1000"], ["x"]]))
        case 4: return plain(["LRANGE", k, index(), index()])
        case 5: return plain([pick(["LINDEX", "LLEN"]), k] + (chance(0.5) ? [index()] : []))
        case 6: return plain(["LSET", k, index(), item()])
        case 7: return plain(["LINSERT", k, pick(["BEFORE", "AFTER", "BEFORE", "AFTER", "ON"]), item(), item()])
        case 8: return plain(["LREM", k, pick(["0", "1", "-1", "2", "-3", "x"]), item()])
        case 9: return plain(["LTRIM", k, index(), index()])
        case 10:
            var words = ["LPOS", k, item()]
            if chance(0.4) { words += ["RANK", pick(["1", "2", "-1", "-2", "0"])] }
            if chance(0.4) { words += ["COUNT", pick(["0", "1", "2", "-1"])] }
            if chance(0.3) { words += ["MAXLEN", pick(["0", "1", "5", "-1"])] }
            return plain(words)
        case 11: return plain(chance(0.7) ? ["LMOVE", k, chance(0.2) ? k : k2, side(), side()] : ["RPOPLPUSH", k, k2])
        case 12: return plain(["LMPOP", pick(["1", "2", "0", "3"]), k, k2, side()] + pick([[], ["COUNT", "2"], ["COUNT", "0"], ["COUNT", "100"]]))
        case 13: return plain([pick(["BLPOP", "BRPOP"]), k, k2, pick(["0.01", "0.01", "-1", "x"])])
        case 14: return plain(pick([["BLMOVE", k, k2, side(), side(), "0.01"], ["BRPOPLPUSH", k, k2, "0.01"],
                                   ["BLMPOP", "0.01", "2", k, k2, side()] + pick([[], ["COUNT", "3"]])]))
        case 15: return plain(pick([[pick(["BZPOPMIN", "BZPOPMAX"]), k, k2, "0.01"], ["BZMPOP", "0.01", "1", k, pick(["MIN", "MAX"])]]))
        case 16: return plain(["MSET"] + (0..<4).flatMap { _ in ["w_\(item().prefix(12))", pick(["1", "2", "3", "-1", "x", "0.5"])] })
        case 17: return plain(["HSET", "wh_\(item().prefix(12))", "f", pick(["1", "2", "3"])])
        case 18: return plain(["TYPE", k])
        default:
            var words = [pick(["SORT", "SORT", "SORT_RO"]), k]
            var ordered = true
            let alpha = chance(0.4)
            if chance(0.4) {
                let by = pick(["w_*", "wh_*->f", "nosort", "w_*->f"])
                words += ["BY", by]
                // Ties between equal weights are in no order Redis promises, nor a set's own order.
                if by == "nosort" || alpha { ordered = false }
            }
            if chance(0.3) { words += ["LIMIT", pick(["0", "1", "-1", "2"]), pick(["1", "2", "-1", "0", "x"])] }
            if chance(0.3) { words += ["GET", pick(["#", "w_*", "wh_*->f", "nosuch"])] }
            if chance(0.2) { words += ["GET", "#"] }
            if chance(0.5) { words.append(pick(["ASC", "DESC"])) }
            if alpha { words.append("ALPHA") }
            if words[0] == "SORT" && chance(0.3) { words += ["STORE", k3] }
            if words.contains("LIMIT") && !ordered { return plain(words, .shape) }
            return plain(words, ordered ? .exact : .unordered)
        }
    }
}
