import LMDB
import NotifyRing
import StoreLayout
import Wire

/// The set commands that read: SMEMBERS, SISMEMBER, SMISMEMBER, SCARD, SRANDMEMBER, SINTER, SINTERCARD,
/// SUNION, SDIFF, SSCAN.
enum SetCommands {
    static func sismember(_ c: CommandCall) throws {
        try c.keys.withCollection(c.args[1], as: .set) { set in c.reply.integer(try set?.contains(c.args[2]) == true ? 1 : 0) }
    }

    static func smismember(_ c: CommandCall) throws {
        try c.keys.withCollection(c.args[1], as: .set) { set in
            c.reply.array(c.args.count - 2)
            for i in 2..<c.args.count { c.reply.integer(try set?.contains(c.args[i]) == true ? 1 : 0) }
        }
    }

    static func scard(_ c: CommandCall) throws {
        try c.keys.withCollection(c.args[1], as: .set) { c.reply.integer($0?.count ?? 0) }
    }

    static func smembers(_ c: CommandCall) throws {
        try c.keys.withCollection(c.args[1], as: .set) { set in
            c.reply.set(set?.count ?? 0)
            try set?.forEachMember { c.reply.bulk($0); return .proceed }
        }
    }

    /// SRANDMEMBER key [count]: a positive count picks distinct members, a negative one may repeat.
    static func srandmember(_ c: CommandCall) throws { try CollectionCommands.random(c, .set, word: nil) }

    static func sinter(_ c: CommandCall) throws { try reply(c, try combine(.intersection, c.keys, c.args, 1..<c.args.count, intsetLimit: c.intsetLimit)) }
    static func sunion(_ c: CommandCall) throws { try reply(c, try combine(.union, c.keys, c.args, 1..<c.args.count, intsetLimit: c.intsetLimit)) }
    static func sdiff(_ c: CommandCall) throws { try reply(c, try combine(.difference, c.keys, c.args, 1..<c.args.count, intsetLimit: c.intsetLimit)) }

    private static func reply(_ c: CommandCall, _ members: [[UInt8]]) throws {
        c.reply.set(members.count)
        for member in members { c.reply.bulk(member) }
    }

    /// SINTERCARD numkeys key [key …] [LIMIT limit].
    static func sintercard(_ c: CommandCall) throws {
        let args = c.args
        guard let numkeys = args.integer(1), numkeys >= 1 else { return c.reply.error("ERR numkeys should be greater than 0") }
        guard numkeys <= args.count - 2 else { return c.reply.error("ERR Number of keys can't be greater than number of args") }
        var limit = 0
        var i = 2 + Int(numkeys)
        while i < args.count {
            guard args.is(i, "LIMIT"), i + 1 < args.count else { return c.reply.error(RESPError.syntax.message) }
            guard let n = args.integer(i + 1), n >= 0 else { return c.reply.error("ERR LIMIT can't be negative") }
            limit = Int(n)
            i += 2
        }
        let members = try combine(.intersection, c.keys, args, 2..<(2 + Int(numkeys)), intsetLimit: 0, limit: limit)
        c.reply.integer(members.count)
    }

    static func sscan(_ c: CommandCall) throws { try CollectionCommands.scan(c, .set) }

    enum Operation { case union, intersection, difference }

    /// The members of the union, intersection or difference of the sets named by `args[keys]` (an absent
    /// key is an empty set; any other type throws WRONGTYPE, checked for every key before anything else).
    /// In Redis's order where Redis's is not random: an intersection in its smallest set's order, a
    /// union or difference that Redis would hold as an intset ascending. `limit` (> 0) stops an
    /// intersection after that many members (SINTERCARD).
    static func combine(_ operation: Operation, _ keys: Keyspace, _ args: RESPArguments, _ range: Range<Int>,
                        intsetLimit: Int, limit: Int = 0) throws -> [[UInt8]] {
        var sizes: [Int?] = []
        for i in range { sizes.append(try keys.withCollection(args[i], as: .set) { $0?.count }) }
        func members(_ i: Int) throws -> [[UInt8]] {
            try keys.withCollection(args[i], as: .set) { set in
                var all: [[UInt8]] = []
                try set?.forEachMember { all.append(Array($0)); return .proceed }
                return all
            }
        }
        func isMember(_ member: [UInt8], _ i: Int) throws -> Bool {
            try keys.withCollection(args[i], as: .set) { set in try member.withUnsafeBytes { try set?.contains($0) ?? false } }
        }
        switch operation {
        case .intersection:
            guard sizes.allSatisfy({ $0 != nil }) else { return [] }
            let order = range.indices.sorted { sizes[$0 - range.lowerBound]! < sizes[$1 - range.lowerBound]! }
            var result: [[UInt8]] = []
            outer: for member in try members(order[0]) {
                for i in order.dropFirst() where !args[i].elementsEqual(args[order[0]]) {
                    guard try isMember(member, i) else { continue outer }
                }
                result.append(member)
                if limit > 0 && result.count >= limit { break }
            }
            return result
        case .union:
            var seen = Set<[UInt8]>(), result: [[UInt8]] = []
            for i in range where sizes[i - range.lowerBound] != nil {
                for member in try members(i) where seen.insert(member).inserted { result.append(member) }
            }
            return asRedisOrder(result, intsetLimit)
        case .difference:
            guard sizes[0] != nil else { return [] }
            let first = range.lowerBound
            var result: [[UInt8]] = []
            outer: for member in try members(first) {
                for i in range.dropFirst() where sizes[i - first] != nil {
                    if args[i].elementsEqual(args[first]) { continue outer }
                    if try isMember(member, i) { continue outer }
                }
                result.append(member)
            }
            return asRedisOrder(result, intsetLimit)
        }
    }

    /// A computed set as Redis would hold it: ascending when every member is an integer and they fit
    /// an intset (`set-max-intset-entries`), else as it came.
    private static func asRedisOrder(_ members: [[UInt8]], _ intsetLimit: Int) -> [[UInt8]] {
        guard members.count <= intsetLimit else { return members }
        let numbers = members.compactMap { RedisInteger.parse($0) }
        guard numbers.count == members.count else { return members }
        return numbers.sorted().map { Array(String($0).utf8) }
    }
}

/// The set commands that write: SADD, SREM, SPOP, SMOVE, SINTERSTORE, SUNIONSTORE, SDIFFSTORE.
extension SetCommands {
    static func sadd(_ c: WriteCall) -> WritePlan {
        if let problem = c.keyProblem(1) ?? (2..<c.args.count).lazy.compactMap(c.valueProblem).first { return .error(problem) }
        return .command(applyAdd, records: c.args.count)
    }

    private static func applyAdd(_ keys: inout KeyspaceWriter, _ args: RESPArguments) throws -> CommandResult {
        var set = try keys.editOrCreate(args[1], as: .set)
        var added = 0
        for i in 2..<args.count where try set.addMember(args[i]) { added += 1 }
        try keys.save(&set, event: added > 0 ? .sadd : nil)
        return .integer(Int64(added))
    }

    /// SREM key member [member …].
    static func srem(_ c: WriteCall) -> WritePlan { CollectionCommands.remove(c) }

    /// SPOP key [count].
    static func spop(_ c: WriteCall) -> WritePlan {
        guard c.args.count <= 3 else { return .error(.syntax) }
        if c.args.count == 3, (c.args.integer(2) ?? -1) < 0 { return .error(CollectionCommands.notPositive) }
        if let problem = c.keyProblem(1) { return .error(problem) }
        return .command(applyPop, records: Int(clamping: c.args.count == 3 ? c.args.integer(2)! : 1) + 2)
    }

    private static func applyPop(_ keys: inout KeyspaceWriter, _ args: RESPArguments) throws -> CommandResult {
        let withCount = args.count == 3
        guard var set = try keys.edit(args[1], as: .set) else { return withCount ? .set([]) : .null }
        let count = withCount ? Int(clamping: args.integer(2)!) : 1
        if count == 0 { return .set([]) }
        let picked: [[UInt8]]
        if count >= set.count {
            picked = try set.withView { try CollectionCommands.all($0).map(\.member) }
        } else {
            picked = try set.withView { try CollectionCommands.random($0, count: count, unique: true).map(\.member) }
        }
        try keys.space?.spend(picked.count)
        for member in picked { _ = try member.withUnsafeBytes { try set.remove($0) } }
        try keys.save(&set, event: .spop)
        return withCount ? .set(picked.map { .bulk($0) }) : .bulk(picked[0])
    }

    static func smove(_ c: WriteCall) -> WritePlan {
        if let problem = c.keyProblem(1) ?? c.keyProblem(2) ?? c.valueProblem(3) { return .error(problem) }
        return .command(applyMove, records: 4)
    }

    private static func applyMove(_ keys: inout KeyspaceWriter, _ args: RESPArguments) throws -> CommandResult {
        guard var source = try keys.edit(args[1], as: .set) else { return .integer(0) }
        var target = try keys.editOrCreate(args[2], as: .set)
        if args[1].elementsEqual(args[2]) { return .integer(try source.withView { try $0.contains(args[3]) } ? 1 : 0) }
        guard try source.remove(args[3]) else { return .integer(0) }
        try keys.save(&source, event: .srem)
        let added = try target.addMember(args[3])
        try keys.save(&target, event: added ? .sadd : nil)
        return .integer(1)
    }

    /// SINTERSTORE, SUNIONSTORE, SDIFFSTORE destination key [key …].
    static func store(_ c: WriteCall) -> WritePlan {
        if let problem = (1..<c.args.count).lazy.compactMap(c.keyProblem).first { return .error(problem) }
        return .command(applyStore, records: c.args.count)
    }

    private static func applyStore(_ keys: inout KeyspaceWriter, _ args: RESPArguments) throws -> CommandResult {
        let (operation, event): (Operation, KeyEvent) =
            args.is(0, "SINTERSTORE") ? (.intersection, .sinterstore) : args.is(0, "SUNIONSTORE") ? (.union, .sunionstore) : (.difference, .sdiffstore)
        let intsetLimit = keys.limits.setMaxIntsetEntries
        let members = try withUnsafeMutablePointer(to: &keys) { writer in
            try combine(operation, Keyspace(.writer(writer)), args, 2..<args.count, intsetLimit: intsetLimit)
        }
        var set = try keys.replace(args[1], with: .set)
        try keys.space?.spend(members.count)
        for member in members { _ = try member.withUnsafeBytes { try set.addMember($0) } }
        try keys.save(&set, event: members.isEmpty ? nil : event)
        return .integer(Int64(members.count))
    }
}
