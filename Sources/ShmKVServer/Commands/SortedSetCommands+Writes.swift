import LMDB
import NotifyRing
import StoreLayout
import Wire

/// The sorted-set commands that write: ZADD, ZINCRBY, ZREM, ZREMRANGEBYRANK/SCORE/LEX, ZPOPMIN, ZPOPMAX,
/// ZMPOP, ZRANGESTORE. Handlers check the arguments in Redis's order; the writer applies the rest.
extension SortedSetCommands {
    /// ZADD's options, read from the arguments after the key.
    struct AddOptions {
        var nx = false, xx = false, gt = false, lt = false, ch = false, incr = false
        /// The argument of the first score.
        var first = 2

        init(_ args: RESPArguments) {
            while first < args.count {
                if args.is(first, "NX") { nx = true }
                else if args.is(first, "XX") { xx = true }
                else if args.is(first, "CH") { ch = true }
                else if args.is(first, "INCR") { incr = true }
                else if args.is(first, "GT") { gt = true }
                else if args.is(first, "LT") { lt = true }
                else { break }
                first += 1
            }
        }
    }

    /// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member …].
    static func zadd(_ c: WriteCall) -> WritePlan {
        let options = AddOptions(c.args)
        let elements = c.args.count - options.first
        guard elements > 0, elements % 2 == 0 else { return .error(.syntax) }
        if options.nx && options.xx { return .error("ERR XX and NX options at the same time are not compatible") }
        if (options.gt && options.nx) || (options.lt && options.nx) || (options.gt && options.lt) {
            return .error("ERR GT, LT, and/or NX options at the same time are not compatible")
        }
        if options.incr && elements > 2 { return .error("ERR INCR option supports a single increment-element pair") }
        for i in stride(from: options.first, to: c.args.count, by: 2) where RedisDouble.parse(c.args[i]) == nil {
            return .error("ERR value is not a valid float")
        }
        if let problem = c.keyProblem(1) ?? stride(from: options.first + 1, to: c.args.count, by: 2).lazy.compactMap(c.valueProblem).first {
            return .error(problem)
        }
        return .command(applyAdd, records: c.args.count)
    }

    /// ZINCRBY key increment member: ZADD key INCR increment member.
    static func zincrby(_ c: WriteCall) -> WritePlan {
        guard RedisDouble.parse(c.args[2]) != nil else { return .error("ERR value is not a valid float") }
        if let problem = c.keyProblem(1) ?? c.valueProblem(3) { return .error(problem) }
        return .command(applyAdd, records: 4)
    }

    private static func applyAdd(_ keys: inout KeyspaceWriter, _ args: RESPArguments) throws -> CommandResult {
        var options = AddOptions(args)
        // ZINCRBY key increment member: its increment is not an option, so the pair starts at 2.
        if args.is(0, "ZINCRBY") { options.incr = true }
        let existing = try keys.edit(args[1], as: .zset)
        if existing == nil && options.xx { return options.incr ? .null : .integer(0) }
        var zset = existing ?? keys.newCollection(args[1], .zset)
        var added = 0, updated = 0, processed = 0
        var last: Double = 0
        for i in stride(from: options.first, to: args.count, by: 2) {
            var score = RedisDouble.parse(args[i])!
            let member = args[i + 1]
            let current = try zset.withView { try $0.score(of: member) }
            if let current {
                if options.nx { continue }
                if options.incr {
                    score += current
                    if score.isNaN {
                        try keys.save(&zset, event: added + updated > 0 ? .zadd : nil)
                        return .error("ERR resulting score is not a number (NaN)")
                    }
                }
                if (options.lt && score >= current) || (options.gt && score <= current) { continue }
                if score != current {
                    try zset.setScore(member, score)
                    updated += 1
                }
            } else {
                if options.xx { continue }
                try zset.setScore(member, score)
                added += 1
            }
            processed += 1
            last = score
        }
        try keys.save(&zset, event: added + updated > 0 ? (options.incr ? .zincr : .zadd) : nil)
        if options.incr { return processed > 0 ? .double(last) : .null }
        return .integer(Int64(options.ch ? added + updated : added))
    }

    /// ZREM key member [member …].
    static func zrem(_ c: WriteCall) -> WritePlan { CollectionCommands.remove(c) }

    /// ZREMRANGEBYRANK key start stop, ZREMRANGEBYSCORE key min max, ZREMRANGEBYLEX key min max.
    static func zremrange(_ c: WriteCall) -> WritePlan {
        if case .failure(let error) = removalRange(c.args) { return .error(error) }
        if let problem = c.keyProblem(1) { return .error(problem) }
        return .command(applyRemoveRange, records: 64)
    }

    private static func removalRange(_ args: RESPArguments) -> Result<(SortedSetRange, KeyEvent), RESPError> {
        if args.is(0, "ZREMRANGEBYRANK") {
            guard let start = args.integer(2), let stop = args.integer(3) else { return .failure(.notInteger) }
            return .success((.rank(start, stop), .zrembyrank))
        }
        if args.is(0, "ZREMRANGEBYSCORE") {
            guard let range = SortedSetRange.score(args[2], args[3]) else { return .failure(RESPError(message: SortedSetRange.notFloat)) }
            return .success((range, .zrembyscore))
        }
        guard let range = SortedSetRange.lex(args[2], args[3]) else { return .failure(RESPError(message: SortedSetRange.notLex)) }
        return .success((range, .zrembylex))
    }

    private static func applyRemoveRange(_ keys: inout KeyspaceWriter, _ args: RESPArguments) throws -> CommandResult {
        guard case .success(let (range, event)) = removalRange(args) else { return .error(RESPError.syntax.message) }
        guard var zset = try keys.edit(args[1], as: .zset) else { return .integer(0) }
        let doomed = try zset.withView { try range.elements(in: $0, reverse: false) }
        try keys.space?.spend(doomed.count * 2)
        for element in doomed { _ = try element.member.withUnsafeBytes { try zset.remove($0) } }
        try keys.save(&zset, event: doomed.isEmpty ? nil : event)
        return .integer(Int64(doomed.count))
    }

    /// ZPOPMIN and ZPOPMAX key [count].
    static func zpop(_ c: WriteCall) -> WritePlan {
        guard c.args.count <= 3 else { return .error(.syntax) }
        if c.args.count == 3, (c.args.integer(2) ?? -1) < 0 { return .error(CollectionCommands.notPositive) }
        if let problem = c.keyProblem(1) { return .error(problem) }
        return .command(applyPop, records: 64)
    }

    private static func applyPop(_ keys: inout KeyspaceWriter, _ args: RESPArguments) throws -> CommandResult {
        let max = args.is(0, "ZPOPMAX")
        let count = args.count == 3 ? Int(clamping: args.integer(2)!) : -1
        guard var zset = try keys.edit(args[1], as: .zset) else { return .array([]) }
        if count == 0 { return .array([]) }
        let popped = try pop(&zset, &keys, max: max, count: Swift.max(count, 1))
        let items = popped.flatMap { [CommandResult.bulk($0.member), .double($0.score)] }
        // With a count, RESP3 answers a pair per member.
        return count == -1 ? .array(items) : .pairs(items)
    }

    /// Removes the `count` lowest (or highest) members, saved with Redis's event.
    static func pop(_ zset: inout CollectionEdit, _ keys: inout KeyspaceWriter, max: Bool, count: Int) throws -> [CollectionCommands.Element] {
        var popped: [CollectionCommands.Element] = []
        try zset.withView { view in
            try view.forEachInOrder(reverse: max) { member, score in
                popped.append(CollectionCommands.Element(member: Array(member), score: score))
                return popped.count < count ? .proceed : .stop
            }
        }
        try keys.space?.spend(popped.count * 2)
        for element in popped { _ = try element.member.withUnsafeBytes { try zset.remove($0) } }
        try keys.save(&zset, event: max ? .zpopmax : .zpopmin)
        return popped
    }

    /// ZMPOP numkeys key [key …] MIN|MAX [COUNT count].
    static func zmpop(_ c: WriteCall) -> WritePlan {
        switch mpopOptions(c.args) {
        case .failure(let error): return .error(error)
        case .success(let options):
            if let problem = options.keys.lazy.compactMap(c.keyProblem).first { return .error(problem) }
            return .command(applyMultiPop, records: 64)
        }
    }

    /// ZMPOP's and BZMPOP's numkeys, keys, side and count.
    static func mpopOptions(_ args: RESPArguments, at first: Int = 1) -> Result<MultiPopOptions, RESPError> {
        MultiPopOptions.parse(args, at: first, sides: ("MIN", "MAX"))
    }

    private static func applyMultiPop(_ keys: inout KeyspaceWriter, _ args: RESPArguments) throws -> CommandResult {
        guard case .success(let options) = mpopOptions(args) else { return .error(RESPError.syntax.message) }
        for i in options.keys {
            guard var zset = try keys.edit(args[i], as: .zset) else { continue }
            let popped = try pop(&zset, &keys, max: options.second, count: options.count)
            return .array([.bulk(Array(args[i])), .array(popped.map { .array([.bulk($0.member), .double($0.score)]) })])
        }
        return .nullArray
    }

    /// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count].
    static func zrangestore(_ c: WriteCall) -> WritePlan {
        if case .failure(let error) = parseRange(c.args, first: 2, form: .auto, reverse: nil, store: true) { return .error(error) }
        if let problem = c.keyProblem(1) ?? c.keyProblem(2) { return .error(problem) }
        return .command(applyRangeStore, records: 64)
    }

    private static func applyRangeStore(_ keys: inout KeyspaceWriter, _ args: RESPArguments) throws -> CommandResult {
        guard case .success(let request) = parseRange(args, first: 2, form: .auto, reverse: nil, store: true) else {
            return .error(RESPError.syntax.message)
        }
        let found = try keys.withCollection(args[2], as: .zset) { zset in
            try zset.map { try request.range.elements(in: $0, reverse: request.reverse, offset: request.offset, limit: request.limit) } ?? []
        }
        return try store(found, at: args[1], event: .zrangestore, &keys)
    }

    /// Stores `elements` as the sorted set `key` (replacing whatever it held, its deadline gone); an
    /// empty result deletes the key. Answers the new size.
    static func store(_ elements: [CollectionCommands.Element], at key: UnsafeRawBufferPointer, event: KeyEvent,
                      _ keys: inout KeyspaceWriter) throws -> CommandResult {
        var zset = try keys.replace(key, with: .zset)
        try keys.space?.spend(elements.count * 2)
        for element in elements { try element.member.withUnsafeBytes { _ = try zset.setScore($0, element.score) } }
        try keys.save(&zset, event: elements.isEmpty ? nil : event)
        return .integer(Int64(elements.count))
    }
}
