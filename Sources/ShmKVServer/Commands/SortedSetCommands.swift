import LMDB
import StoreLayout
import Wire

/// The sorted-set commands that read: ZSCORE, ZMSCORE, ZCARD, ZCOUNT, ZLEXCOUNT, ZRANK, ZREVRANK, ZRANGE
/// and its older forms, ZRANDMEMBER, ZSCAN (ZUNION, ZINTER, ZDIFF, ZINTERCARD: `SortedSetAlgebra`).
/// Scores are answered as Redis answers them (`%.17g`; a double in RESP3).
enum SortedSetCommands {
    static func zscore(_ c: CommandCall) throws {
        try c.keys.withCollection(c.args[1], as: .zset) { zset in
            if let score = try zset?.score(of: c.args[2]) { c.reply.double(score) } else { c.reply.null() }
        }
    }

    static func zmscore(_ c: CommandCall) throws {
        try c.keys.withCollection(c.args[1], as: .zset) { zset in
            c.reply.array(c.args.count - 2)
            for i in 2..<c.args.count {
                if let score = try zset?.score(of: c.args[i]) { c.reply.double(score) } else { c.reply.null() }
            }
        }
    }

    static func zcard(_ c: CommandCall) throws {
        try c.keys.withCollection(c.args[1], as: .zset) { c.reply.integer($0?.count ?? 0) }
    }

    /// ZCOUNT key min max, ZLEXCOUNT key min max.
    static func zcount(_ c: CommandCall) throws {
        let lex = c.args.is(0, "ZLEXCOUNT")
        guard let range = lex ? SortedSetRange.lex(c.args[2], c.args[3]) : SortedSetRange.score(c.args[2], c.args[3]) else {
            return c.reply.error(lex ? SortedSetRange.notLex : SortedSetRange.notFloat)
        }
        try c.keys.withCollection(c.args[1], as: .zset) { zset in c.reply.integer(try zset.map { try range.count(in: $0) } ?? 0) }
    }

    /// ZRANK and ZREVRANK key member [WITHSCORE].
    static func zrank(_ c: CommandCall) throws {
        let reverse = c.args.is(0, "ZREVRANK")
        guard c.args.count == 3 || (c.args.count == 4 && c.args.is(3, "WITHSCORE")) else { return c.reply.error(RESPError.syntax.message) }
        let withScore = c.args.count == 4
        try c.keys.withCollection(c.args[1], as: .zset) { zset in
            var rank = 0
            var found: Double? = nil
            if let zset, let score = try zset.score(of: c.args[2]) {
                try zset.forEachInOrder(reverse: reverse) { member, _ in
                    if member.elementsEqual(c.args[2]) { return .stop }
                    rank += 1
                    return .proceed
                }
                found = score
            }
            guard let found else { return withScore ? c.reply.nullArray() : c.reply.null() }
            guard withScore else { return c.reply.integer(rank) }
            c.reply.array(2)
            c.reply.integer(rank)
            c.reply.double(found)
        }
    }

    /// What ZRANGE and its older forms ask for, parsed with Redis's `zrangeGenericCommand` rules.
    struct RangeRequest {
        var key = 1
        var range: SortedSetRange
        var reverse = false
        var withScores = false
        var offset = 0
        var limit = -1
    }

    /// The form a command has: ZRANGE's own options, or fixed by an older command's name.
    enum RangeForm { case auto, rank, score, lex }

    /// Parses `args[first] min max [options]`; the error line, or the request.
    static func parseRange(_ args: RESPArguments, first: Int, form: RangeForm, reverse fixedReverse: Bool?, store: Bool) -> Result<RangeRequest, RESPError> {
        var form = form
        var reverse = fixedReverse ?? false
        var withScores = false, offset: Int64 = 0, limit: Int64 = -1
        var j = first + 3
        while j < args.count {
            let left = args.count - j - 1
            if !store && args.is(j, "WITHSCORES") {
                withScores = true
            } else if args.is(j, "LIMIT") && left >= 2 {
                guard let o = args.integer(j + 1), let l = args.integer(j + 2) else { return .failure(.notInteger) }
                (offset, limit) = (o, l)
                j += 2
            } else if fixedReverse == nil && args.is(j, "REV") {
                reverse = true
            } else if form == .auto && args.is(j, "BYLEX") {
                form = .lex
            } else if form == .auto && args.is(j, "BYSCORE") {
                form = .score
            } else {
                return .failure(.syntax)
            }
            j += 1
        }
        if form == .auto { form = .rank }
        // Redis's `opt_limit != -1`: LIMIT o -1 is no limit at all.
        if limit != -1 && form == .rank {
            return .failure(RESPError(message: "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"))
        }
        if withScores && form == .lex {
            return .failure(RESPError(message: "ERR syntax error, WITHSCORES not supported in combination with BYLEX"))
        }
        var (lo, hi) = (first + 1, first + 2)
        if reverse && form != .rank { swap(&lo, &hi) }
        let range: SortedSetRange
        switch form {
        case .rank, .auto:
            guard let start = args.integer(lo), let stop = args.integer(hi) else { return .failure(.notInteger) }
            range = .rank(start, stop)
        case .score:
            guard let parsed = SortedSetRange.score(args[lo], args[hi]) else { return .failure(RESPError(message: SortedSetRange.notFloat)) }
            range = parsed
        case .lex:
            guard let parsed = SortedSetRange.lex(args[lo], args[hi]) else { return .failure(RESPError(message: SortedSetRange.notLex)) }
            range = parsed
        }
        return .success(RangeRequest(key: first, range: range, reverse: reverse, withScores: withScores,
                                     offset: Int(clamping: offset), limit: Int(clamping: limit)))
    }

    /// ZRANGE, ZREVRANGE, ZRANGEBYSCORE, ZREVRANGEBYSCORE, ZRANGEBYLEX, ZREVRANGEBYLEX.
    static func zrange(form: RangeForm, reverse: Bool?) -> KeyspaceHandler {
        { c in
            let request: RangeRequest
            switch parseRange(c.args, first: 1, form: form, reverse: reverse, store: false) {
            case .failure(let error): return c.reply.error(error.message)
            case .success(let parsed): request = parsed
            }
            try c.keys.withCollection(c.args[1], as: .zset) { zset in
                guard let zset else { return c.reply.array(0) }
                let found = try request.range.elements(in: zset, reverse: request.reverse, offset: request.offset, limit: request.limit)
                replyScored(c, found, withScores: request.withScores)
            }
        }
    }

    /// Members, with their scores when asked: flat in RESP2, a pair per member in RESP3.
    static func replyScored(_ c: CommandCall, _ elements: [CollectionCommands.Element], withScores: Bool) {
        HashCommands.replyPairs(c, elements, withValues: withScores) { c.reply.double($0.score) }
    }

    /// ZRANDMEMBER key [count [WITHSCORES]].
    static func zrandmember(_ c: CommandCall) throws {
        try CollectionCommands.random(c, .zset, word: "WITHSCORES") { c.reply.double($0.score) }
    }

    static func zscan(_ c: CommandCall) throws { try CollectionCommands.scan(c, .zset) }
}
