import LMDB
import NotifyRing
import Posix
import StoreLayout
import Wire

/// The list commands that pop: LPOP, RPOP, LMPOP, LMOVE, RPOPLPUSH, and their blocking forms BLPOP,
/// BRPOP, BLMPOP, BLMOVE, BRPOPLPUSH (the sorted sets' BZPOPMIN, BZPOPMAX and BZMPOP share `Blocking`).
extension ListCommands {
    /// LPOP key [count] and RPOP key [count].
    static func pop(_ c: WriteCall) -> WritePlan {
        guard c.args.count <= 3 else { return .error(.wrongArity(c.args.string(0).lowercased())) }
        // Redis's getPositiveLongFromObjectOrReply: anything but a count ≥ 0 is "out of range".
        if c.args.count == 3, (c.args.integer(2) ?? -1) < 0 { return .error(CollectionCommands.notPositive) }
        if let problem = c.keyProblem(1) { return .error(problem) }
        return .command(applyPop, records: 64)
    }

    private static func applyPop(_ keys: inout KeyspaceWriter, _ args: RESPArguments) throws -> CommandResult {
        let head = args.is(0, "LPOP")
        let count = args.count == 3 ? Int(clamping: args.integer(2)!) : -1
        guard var list = try keys.editList(args[1]) else { return count == -1 ? .null : .nullArray }
        if count == 0 { return .array([]) }
        let items = try take(&list, &keys, head: head, Swift.max(count, 1))
        return count == -1 ? .bulk(items[0]) : .array(items.map { .bulk($0) })
    }

    /// Pops `n` items and saves the list with Redis's event (and `del` when it empties).
    static func take(_ list: inout ListEdit, _ keys: inout KeyspaceWriter, head: Bool, _ n: Int) throws -> [[UInt8]] {
        let items = try list.pop(head: head, n)
        try list.noteShrinking()
        try keys.save(&list, event: head ? .lpop : .rpop)
        return items
    }

    /// LMPOP's and BLMPOP's numkeys, keys, side and count.
    static func mpopOptions(_ args: RESPArguments, at first: Int) -> Result<MultiPopOptions, RESPError> {
        MultiPopOptions.parse(args, at: first, sides: ("LEFT", "RIGHT"))
    }

    static func lmpop(_ c: WriteCall) -> WritePlan {
        switch mpopOptions(c.args, at: 1) {
        case .failure(let error): return .error(error)
        case .success(let options):
            if let problem = options.keys.lazy.compactMap(c.keyProblem).first { return .error(problem) }
            return .command({ keys, args in try applyMultiPop(&keys, args, at: 1, deadline: 0) }, records: 64)
        }
    }

    /// BLMPOP timeout numkeys key [key …] LEFT|RIGHT [COUNT count].
    static func blmpop(_ c: WriteCall) -> WritePlan {
        switch mpopOptions(c.args, at: 2) {
        case .failure(let error): return .error(error)
        case .success(let options):
            return Blocking.plan(c, timeoutAt: 1, keys: options.keys) { keys, args, deadline in try applyMultiPop(&keys, args, at: 2, deadline: deadline) }
        }
    }

    private static func applyMultiPop(_ keys: inout KeyspaceWriter, _ args: RESPArguments, at first: Int, deadline: Int) throws -> CommandResult {
        guard case .success(let options) = mpopOptions(args, at: first) else { return .error(RESPError.syntax.message) }
        return try Blocking.run(&keys, args, options.keys, deadline: first == 1 ? nil : deadline, nullArray: true) { keys, key in
            guard var list = try keys.editList(key) else { return nil }
            let items = try take(&list, &keys, head: !options.second, options.count)
            return .array([.bulk(Array(key)), .array(items.map { .bulk($0) })])
        }
    }

    /// BLPOP key [key …] timeout and BRPOP.
    static func blockingPop(_ c: WriteCall) -> WritePlan {
        Blocking.plan(c, timeoutAt: c.args.count - 1, keys: 1..<(c.args.count - 1)) { keys, args, deadline in
            let head = args.is(0, "BLPOP")
            return try Blocking.run(&keys, args, 1..<(args.count - 1), deadline: deadline, nullArray: true) { keys, key in
                guard var list = try keys.editList(key) else { return nil }
                let items = try take(&list, &keys, head: head, 1)
                return .array([.bulk(Array(key)), .bulk(items[0])])
            }
        }
    }

    /// LMOVE source destination LEFT|RIGHT LEFT|RIGHT, RPOPLPUSH source destination, and their blocking
    /// forms BLMOVE (… timeout) and BRPOPLPUSH source destination timeout.
    static func move(_ c: WriteCall) -> WritePlan {
        let name = c.args.string(0).lowercased()
        let sides = name.hasSuffix("lmove")
        if sides {
            for i in 3...4 where !(c.args.is(i, "LEFT") || c.args.is(i, "RIGHT")) { return .error(.syntax) }
        }
        var blockUntil: Int? = nil
        if name.hasPrefix("b") {
            switch Blocking.deadline(c.args, c.args.count - 1) {
            case .failure(let error): return .error(error)
            case .success(let d): blockUntil = d
            }
        }
        let deadline = blockUntil
        if let problem = c.keyProblem(1) ?? c.keyProblem(2) { return .error(problem) }
        return .command({ keys, args in
            let from = sides ? args.is(3, "LEFT") : false, to = sides ? args.is(4, "LEFT") : true
            return try Blocking.run(&keys, args, 1..<2, deadline: deadline, nullArray: false) { keys, key in
                try moveOne(&keys, key, args[2], fromHead: from, toHead: to)
            }
        }, records: 64)
    }

    /// Pops one item from `source` and pushes it onto `destination`; nil when `source` does not live.
    /// Events as Redis's: the push, then the pop (and `del` when the source empties).
    private static func moveOne(_ keys: inout KeyspaceWriter, _ source: UnsafeRawBufferPointer, _ destination: UnsafeRawBufferPointer,
                                fromHead: Bool, toHead: Bool) throws -> CommandResult? {
        guard var list = try keys.editList(source) else { return nil }
        if source.elementsEqual(destination) {
            let item = try list.pop(head: fromHead, 1)[0]
            try item.withUnsafeBytes { try list.push($0, head: toHead) }
            try keys.save(&list, event: toHead ? .lpush : .rpush)
            keys.changes.append(kind: .put, event: fromHead ? .lpop : .rpop, key: source, origin: keys.origin)
            return .bulk(item)
        }
        let target: ListEdit?
        do { target = try keys.editList(destination) } catch is WrongTypeError { return .error(WrongTypeError.message) }
        var destinationList = target ?? keys.newList(destination)
        let item = try list.pop(head: fromHead, 1)[0]
        try item.withUnsafeBytes { item in
            try destinationList.noteGrowth(adding: item.count, items: 1)
            try destinationList.push(item, head: toHead)
        }
        try keys.save(&destinationList, event: toHead ? .lpush : .rpush)
        try list.noteShrinking()
        try keys.save(&list, event: fromHead ? .lpop : .rpop)
        return .bulk(item)
    }
}

/// What the blocking commands share: the timeout argument, and one run that pops now, blocks, or —
/// for a blocked client being served — tries the one key that became ready.
enum Blocking {
    /// Redis's `getTimeoutFromObjectOrReply` in seconds (a float; 0 waits forever): the deadline on the
    /// monotonic clock in milliseconds, 0 for none.
    static func deadline(_ args: RESPArguments, _ i: Int) -> Result<Int, RESPError> {
        guard let seconds = RedisFloat.parse(args[i]) else { return .failure(RESPError(message: "ERR timeout is not a float or out of range")) }
        let milliseconds = (seconds * 1000).rounded(.up)
        guard milliseconds >= 0 else { return .failure(RESPError(message: "ERR timeout is negative")) }
        guard milliseconds.isFinite, milliseconds < Float80(Int64.max / 2) else { return .failure(RESPError(message: "ERR timeout is out of range")) }
        let ms = Int(milliseconds)
        return .success(ms == 0 ? 0 : MonotonicClock.milliseconds() + ms)
    }

    /// The plan of a blocking command: its timeout (argument `timeoutAt`) parsed into a deadline and its
    /// keys checked, in Redis's order, then `apply` on the writer with the deadline.
    static func plan(_ c: WriteCall, timeoutAt: Int, keys: Range<Int>,
                     _ apply: @escaping @Sendable (inout KeyspaceWriter, RESPArguments, Int) throws -> CommandResult) -> WritePlan {
        let deadline: Int
        switch Blocking.deadline(c.args, timeoutAt) {
        case .failure(let error): return .error(error)
        case .success(let d): deadline = d
        }
        if let problem = keys.lazy.compactMap(c.keyProblem).first { return .error(problem) }
        return .command({ keys, args in try apply(&keys, args, deadline) }, records: 64)
    }

    /// Runs a blocking command on the writer: `serve` pops from one key (nil: it does not live; a
    /// key of another type throws WRONGTYPE). The keys `indices` names are tried in order; with none to
    /// pop, the command blocks (`CommandResult.block`), or, where it may not block (MULTI), answers
    /// null (`nullArray`: a null array) at once. Serving a blocked client tries only the key that became ready, and leaves it blocked if
    /// that key holds nothing to pop or another type. `deadline` nil: a command that never blocks (LMPOP).
    static func run(_ keys: inout KeyspaceWriter, _ args: RESPArguments, _ indices: Range<Int>, deadline: Int?, nullArray: Bool,
                    _ serve: (inout KeyspaceWriter, UnsafeRawBufferPointer) throws -> CommandResult?) throws -> CommandResult {
        let timeout: CommandResult = nullArray ? .nullArray : .null
        if case .serving(let key) = keys.blocking {
            let request = BlockRequest(keys: [], deadline: 0)
            do {
                return try key.withUnsafeBytes { try serve(&keys, $0) } ?? .block(request)
            } catch is WrongTypeError {
                return .block(request)
            }
        }
        for i in indices { if let result = try serve(&keys, args[i]) { return result } }
        guard let deadline, keys.blocking == .may else { return timeout }
        return .block(BlockRequest(keys: indices.map { Array(args[$0]) }, deadline: deadline))
    }
}
