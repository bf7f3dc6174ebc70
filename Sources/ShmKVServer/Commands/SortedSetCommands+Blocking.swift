import StoreLayout
import Wire

/// BZPOPMIN, BZPOPMAX and BZMPOP: ZPOPMIN, ZPOPMAX and ZMPOP that block while every key is empty (see
/// `Blocking`).
extension SortedSetCommands {
    /// BZPOPMIN key [key …] timeout and BZPOPMAX: key, member, score.
    static func bzpop(_ c: WriteCall) -> WritePlan {
        Blocking.plan(c, timeoutAt: c.args.count - 1, keys: 1..<(c.args.count - 1)) { keys, args, deadline in
            let max = args.is(0, "BZPOPMAX")
            return try Blocking.run(&keys, args, 1..<(args.count - 1), deadline: deadline, nullArray: true) { keys, key in
                guard var zset = try keys.edit(key, as: .zset) else { return nil }
                let popped = try pop(&zset, &keys, max: max, count: 1)
                return .array([.bulk(Array(key)), .bulk(popped[0].member), .double(popped[0].score)])
            }
        }
    }

    /// BZMPOP timeout numkeys key [key …] MIN|MAX [COUNT count].
    static func bzmpop(_ c: WriteCall) -> WritePlan {
        switch mpopOptions(c.args, at: 2) {
        case .failure(let error): return .error(error)
        case .success(let options):
            return Blocking.plan(c, timeoutAt: 1, keys: options.keys) { keys, args, deadline in
                try Blocking.run(&keys, args, options.keys, deadline: deadline, nullArray: true) { keys, key in
                    guard var zset = try keys.edit(key, as: .zset) else { return nil }
                    let popped = try pop(&zset, &keys, max: options.second, count: options.count)
                    return .array([.bulk(Array(key)), .array(popped.map { .array([.bulk($0.member), .double($0.score)]) })])
                }
            }
        }
    }
}
