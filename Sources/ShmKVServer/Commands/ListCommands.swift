import LMDB
import NotifyRing
import StoreLayout
import Wire

/// The list commands that read: LLEN, LINDEX, LRANGE, LPOS (Redis 7.0's t_list.c, reply for reply).
enum ListCommands {
    static func llen(_ c: CommandCall) throws {
        try c.keys.withCollection(c.args[1], as: .list) { c.reply.integer($0?.count ?? 0) }
    }

    static func lindex(_ c: CommandCall) throws {
        try c.keys.withCollection(c.args[1], as: .list) { list in
            guard let list else { return c.reply.null() }
            guard let index = c.args.integer(2) else { return c.reply.error(RESPError.notInteger.message) }
            try list.withListItem(at: Int(index)) { item in if let item { c.reply.bulk(item) } else { c.reply.null() } }
        }
    }

    static func lrange(_ c: CommandCall) throws {
        guard let start = c.args.integer(2), let stop = c.args.integer(3) else { return c.reply.error(RESPError.notInteger.message) }
        try c.keys.withCollection(c.args[1], as: .list) { list in
            guard let list, let range = range(start, stop, count: list.count) else { return c.reply.array(0) }
            try reply(list, range, reverse: false, c.reply)
        }
    }

    /// Redis's index range `start…stop` (negative from the tail, clamped) over `count` items; nil when empty.
    static func range(_ start: Int64, _ stop: Int64, count: Int) -> ClosedRange<Int>? {
        let n = Int64(count)
        var s = start < 0 ? n + start : start
        var e = stop < 0 ? n + stop : stop
        if s < 0 { s = 0 }
        guard s <= e, s < n else { return nil }
        if e >= n { e = n - 1 }
        return Int(s)...Int(e)
    }

    /// The items in `range` as an array, from the head (or, `reverse`, the range walked from its end).
    static func reply(_ list: CollectionView, _ range: ClosedRange<Int>, reverse: Bool, _ reply: ReplySink) throws {
        reply.array(range.count)
        var left = range.count
        let skip = reverse ? list.count - 1 - range.upperBound : range.lowerBound
        try list.forEachListItem(reverse: reverse, skip: skip) { item in
            reply.bulk(item)
            left -= 1
            return left > 0 ? .proceed : .stop
        }
    }

    /// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len].
    static func lpos(_ c: CommandCall) throws {
        let args = c.args
        var rank: Int64 = 1, count: Int64 = -1, maxlen: Int64 = 0
        var j = 3
        while j < args.count {
            let more = j + 1 < args.count
            if args.is(j, "RANK") && more {
                guard let n = args.integer(j + 1) else { return c.reply.error(RESPError.notInteger.message) }
                guard n != 0 else {
                    return c.reply.error("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list")
                }
                guard n != Int64.min else { return c.reply.error("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807") }
                rank = n
            } else if args.is(j, "COUNT") && more {
                guard let n = args.integer(j + 1) else { return c.reply.error(RESPError.notInteger.message) }
                guard n >= 0 else { return c.reply.error("ERR COUNT can't be negative") }
                count = n
            } else if args.is(j, "MAXLEN") && more {
                guard let n = args.integer(j + 1) else { return c.reply.error(RESPError.notInteger.message) }
                guard n >= 0 else { return c.reply.error("ERR MAXLEN can't be negative") }
                maxlen = n
            } else {
                return c.reply.error(RESPError.syntax.message)
            }
            j += 2
        }
        let reverse = rank < 0
        let wanted = rank.magnitude
        try c.keys.withCollection(args[1], as: .list) { list in
            guard let list else { return count != -1 ? c.reply.array(0) : c.reply.null() }
            var index = 0, matches: UInt64 = 0
            var found: [Int] = []
            let element = args[2]
            try list.forEachListItem(reverse: reverse) { item in
                if maxlen != 0 && index >= maxlen { return .stop }
                defer { index += 1 }
                guard item.elementsEqual(element) else { return .proceed }
                matches += 1
                guard matches >= wanted else { return .proceed }
                found.append(reverse ? list.count - 1 - index : index)
                if count == -1 { return .stop }
                return count != 0 && Int64(found.count) >= count ? .stop : .proceed
            }
            if count != -1 {
                c.reply.array(found.count)
                for i in found { c.reply.integer(i) }
            } else if let first = found.first {
                c.reply.integer(first)
            } else {
                c.reply.null()
            }
        }
    }
}

/// The list commands that write without popping: LPUSH, RPUSH, LPUSHX, RPUSHX, LINSERT, LSET, LREM, LTRIM.
extension ListCommands {
    static func push(_ c: WriteCall) -> WritePlan {
        if let problem = c.keyProblem(1) ?? (2..<c.args.count).lazy.compactMap(c.valueProblem).first { return .error(problem) }
        return .command(applyPush, records: c.args.count)
    }

    private static func applyPush(_ keys: inout KeyspaceWriter, _ args: RESPArguments) throws -> CommandResult {
        // LPUSH, RPUSH, LPUSHX or RPUSHX: the name's first byte and length tell them apart.
        let head = args[0].first.map { $0 | 0x20 } == UInt8(ascii: "l")
        var list: ListEdit
        if let existing = try keys.editList(args[1]) {
            list = existing
        } else {
            if args[0].count == 6 { return .integer(0) }
            list = keys.newList(args[1])
        }
        try list.noteGrowth(args, 2..<args.count)
        for i in 2..<args.count { try list.push(args[i], head: head) }
        try keys.save(&list, event: head ? .lpush : .rpush)
        return .integer(Int64(list.count))
    }

    /// LINSERT key BEFORE|AFTER pivot element.
    static func linsert(_ c: WriteCall) -> WritePlan {
        guard c.args.is(2, "BEFORE") || c.args.is(2, "AFTER") else { return .error(.syntax) }
        if let problem = c.keyProblem(1) ?? c.valueProblem(4) { return .error(problem) }
        return .command(applyInsert, records: 4)
    }

    private static func applyInsert(_ keys: inout KeyspaceWriter, _ args: RESPArguments) throws -> CommandResult {
        guard var list = try keys.editList(args[1]) else { return .integer(0) }
        var at: Int? = nil
        var index = 0
        try list.withView { view in
            try view.forEachListItem { item in
                if item.elementsEqual(args[3]) { at = index; return .stop }
                index += 1
                return .proceed
            }
        }
        guard let at else { return .integer(-1) }
        try list.noteGrowth(args, 4..<5)
        try list.insert(args[4], at: args.is(2, "AFTER") ? at + 1 : at)
        try keys.save(&list, event: .linsert)
        return .integer(Int64(list.count))
    }

    /// LSET key index element.
    static func lset(_ c: WriteCall) -> WritePlan {
        if let problem = c.keyProblem(1) ?? c.valueProblem(3) { return .error(problem) }
        return .command(applySet, records: 4)
    }

    private static func applySet(_ keys: inout KeyspaceWriter, _ args: RESPArguments) throws -> CommandResult {
        guard var list = try keys.editList(args[1]) else { return .error("ERR no such key") }
        guard let index = args.integer(2) else { return .error(RESPError.notInteger.message) }
        let i = index < 0 ? Int64(list.count) + index : index
        guard i >= 0, i < list.count else { return .error("ERR index out of range") }
        try list.noteGrowth(args, 3..<4)
        try list.set(at: Int(i), args[3])
        try list.noteShrinking()
        try keys.save(&list, event: .lset)
        return .status("OK")
    }

    /// LREM key count element.
    static func lrem(_ c: WriteCall) -> WritePlan {
        guard c.args.integer(2) != nil else { return .error(.notInteger) }
        if let problem = c.keyProblem(1) { return .error(problem) }
        return .command(applyRemove, records: 64)
    }

    private static func applyRemove(_ keys: inout KeyspaceWriter, _ args: RESPArguments) throws -> CommandResult {
        guard var list = try keys.editList(args[1]) else { return .integer(0) }
        let count = args.integer(2)!
        let removed = try list.remove(args[3], fromHead: count >= 0, limit: Int(clamping: count.magnitude))
        try list.noteShrinking()
        try keys.save(&list, event: removed > 0 ? .lrem : nil)
        return .integer(Int64(removed))
    }

    /// LTRIM key start stop.
    static func ltrim(_ c: WriteCall) -> WritePlan {
        guard c.args.integer(2) != nil, c.args.integer(3) != nil else { return .error(.notInteger) }
        if let problem = c.keyProblem(1) { return .error(problem) }
        return .command(applyTrim, records: 64)
    }

    private static func applyTrim(_ keys: inout KeyspaceWriter, _ args: RESPArguments) throws -> CommandResult {
        guard var list = try keys.editList(args[1]) else { return .status("OK") }
        let n = list.count
        let kept = range(args.integer(2)!, args.integer(3)!, count: n)
        let (left, right) = kept.map { ($0.lowerBound, n - 1 - $0.upperBound) } ?? (n, 0)
        try list.pop(head: true, left, collect: false)
        try list.pop(head: false, right, collect: false)
        try list.noteShrinking()
        // Redis announces `ltrim` even when nothing went.
        try keys.save(&list, event: .ltrim)
        return .status("OK")
    }
}
