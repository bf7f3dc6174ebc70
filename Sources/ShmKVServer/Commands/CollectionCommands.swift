import LMDB
import NotifyRing
import StoreLayout
import Wire

/// What the collection command families share: HSCAN/SSCAN/ZSCAN's paging, random picks
/// (HRANDFIELD, SRANDMEMBER, SPOP, ZRANDMEMBER), and the element of a collection as a copy.
enum CollectionCommands {
    /// Redis's `getRangeLongFromObjectOrReply` error for a count of -2^63.
    /// Redis's `getPositiveLongFromObjectOrReply` error, for a count that is negative or not a number.
    static let notPositive = "ERR value is out of range, must be positive"
    static let countOutOfRange = "ERR value is out of range, must be between -9223372036854775807 and 9223372036854775807"

    /// One element copied out of the map: a field and its value, a member (value empty), or a member and
    /// its score.
    struct Element: Hashable {
        var member: [UInt8]
        var value: [UInt8] = []
        var score: Double = 0
    }

    /// Every element, in the collection's order (sorted sets: by score).
    static func all(_ view: CollectionView) throws -> [Element] {
        var elements: [Element] = []
        elements.reserveCapacity(view.count)
        switch view.type {
        case .hash: try view.forEachField { elements.append(Element(member: Array($0), value: Array($1))); return .proceed }
        case .zset: try view.forEachInOrder { elements.append(Element(member: Array($0), score: $1)); return .proceed }
        default: try view.forEachMember { elements.append(Element(member: Array($0))); return .proceed }
        }
        return elements
    }

    /// An element from a record `forEachRecord` handed out.
    static func element(_ type: KeyType, _ member: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) -> Element {
        switch type {
        case .hash: Element(member: Array(member), value: Array(value))
        case .zset: Element(member: Array(member), score: value.count == 8 ? Double(bitPattern: UInt64(littleEndian: value.loadUnaligned(as: UInt64.self))) : 0)
        default: Element(member: Array(member))
        }
    }

    /// `count` elements picked at random: distinct when `unique` (then at most every element, all of
    /// them in the collection's order when `count` covers it, as Redis answers), else with repeats.
    static func random(_ view: CollectionView, count: Int, unique: Bool) throws -> [Element] {
        guard count > 0, view.count > 0 else { return [] }
        var rng = SystemRandomNumberGenerator()
        if unique && count >= view.count { return try all(view) }
        // A small collection, or a large share of a large one: pick from all of it.
        if view.header.isPacked || (unique && count * 3 > view.count) {
            var elements = try all(view)
            if unique {
                elements.shuffle(using: &rng)
                return Array(elements.prefix(count))
            }
            return (0..<count).map { _ in elements[Int.random(in: 0..<elements.count, using: &rng)] }
        }
        var picked: [Element] = []
        var seen = Set<Element>()
        picked.reserveCapacity(count)
        var attempts = 0
        while picked.count < count {
            guard let element = try view.withRandomRecord(rng.next(), { _, member, value in element(view.type, member, value) }) else { break }
            attempts += 1
            if unique {
                // Seeks land on the same records more often than chance: give up on them after a while
                // and take the rest from a walk.
                if attempts > count * 8 { return try fill(view, picked, seen, count) }
                guard seen.insert(element).inserted else { continue }
            }
            picked.append(element)
        }
        return picked
    }

    /// `picked` completed to `count` distinct elements from a walk.
    private static func fill(_ view: CollectionView, _ picked: [Element], _ seen: Set<Element>, _ count: Int) throws -> [Element] {
        var picked = picked
        for element in try all(view) where picked.count < count && !seen.contains(element) { picked.append(element) }
        return picked
    }

    /// HDEL, SREM, ZREM key element [element …]: the elements removed; the key goes with the last one.
    static func remove(_ c: WriteCall) -> WritePlan {
        if let problem = c.keyProblem(1) { return .error(problem) }
        return .command(applyRemove, records: c.args.count * 2)
    }

    private static func applyRemove(_ keys: inout KeyspaceWriter, _ args: RESPArguments) throws -> CommandResult {
        let (type, event): (KeyType, KeyEvent) = args.is(0, "HDEL") ? (.hash, .hdel) : args.is(0, "SREM") ? (.set, .srem) : (.zset, .zrem)
        guard var collection = try keys.edit(args[1], as: type) else { return .integer(0) }
        var removed = 0
        for i in 2..<args.count where try collection.remove(args[i]) { removed += 1 }
        try keys.save(&collection, event: removed > 0 ? event : nil)
        return .integer(Int64(removed))
    }

    /// HRANDFIELD, ZRANDMEMBER and SRANDMEMBER key [count [WITHVALUES|WITHSCORES]]: a member (or nil)
    /// without a count; with one, distinct members for a positive count and repeats allowed for a
    /// negative one, each with its value or score when `word` follows (SRANDMEMBER has none: `word` nil,
    /// and a fourth argument is a syntax error before the count is read, as Redis checks it).
    static func random(_ c: CommandCall, _ type: KeyType, word: StaticString?, value: @escaping (Element) -> Void = { _ in }) throws {
        let args = c.args
        if word == nil && args.count > 3 { return c.reply.error(RESPError.syntax.message) }
        guard args.count >= 3 else {
            return try c.keys.withCollection(args[1], as: type) { collection in
                guard let collection, let picked = try random(collection, count: 1, unique: false).first else { return c.reply.null() }
                c.reply.bulk(picked.member)
            }
        }
        guard let n = args.integer(2) else { return c.reply.error(RESPError.notInteger.message) }
        guard n >= -Int64.max else { return c.reply.error(countOutOfRange) }
        guard args.count == 3 || (args.count == 4 && word.map { args.is(3, $0) } == true) else { return c.reply.error(RESPError.syntax.message) }
        let withValues = args.count == 4
        if withValues && (n < -Int64.max / 2 || n > Int64.max / 2) { return c.reply.error("ERR value is out of range") }
        try c.keys.withCollection(args[1], as: type) { collection in
            guard let collection, n != 0 else { return c.reply.array(0) }
            HashCommands.replyPairs(c, try random(collection, count: Int(n.magnitude), unique: n > 0), withValues: withValues, value: value)
        }
    }

    /// SCAN's, HSCAN's, SSCAN's and ZSCAN's options after the cursor, as Redis parses them: MATCH and
    /// COUNT (and HSCAN's NOVALUES, SCAN's TYPE when `extra` names it); the error line otherwise.
    struct ScanOptions {
        var pattern: GlobPattern? = nil
        var count = 10
        var noValues = false
        var type: String? = nil

        /// The option a command has beyond MATCH and COUNT.
        enum Extra { case none, noValues, type }

        static func parse(_ args: RESPArguments, from first: Int, extra: Extra = .none) -> Result<ScanOptions, RESPError> {
            var options = ScanOptions()
            var i = first
            while i < args.count {
                if extra == .noValues, args.is(i, "NOVALUES") {
                    options.noValues = true
                    i += 1
                    continue
                }
                guard i + 1 < args.count else { return .failure(.syntax) }
                if args.is(i, "MATCH") {
                    options.pattern = GlobPattern(args.bytes(i + 1))
                } else if args.is(i, "COUNT") {
                    guard let n = args.integer(i + 1) else { return .failure(.notInteger) }
                    guard n >= 1 else { return .failure(.syntax) }
                    options.count = Int(min(n, 100_000))
                } else if extra == .type, args.is(i, "TYPE") {
                    options.type = args.string(i + 1).lowercased()
                } else {
                    return .failure(.syntax)
                }
                i += 2
            }
            return .success(options)
        }
    }

    /// HSCAN, SSCAN, ZSCAN: `key cursor [MATCH pattern] [COUNT count]` (HSCAN also NOVALUES). A packed
    /// collection answers whole with cursor 0 (Redis does so for a listpack or intset); a large one pages
    /// by COUNT records, its cursor a saved position.
    static func scan(_ c: CommandCall, _ type: KeyType) throws {
        let args = c.args
        guard let cursor = RedisInteger.parseCursor(args[2]) else { return c.reply.error("ERR invalid cursor") }
        let options: ScanOptions
        switch ScanOptions.parse(args, from: 3, extra: type == .hash ? .noValues : .none) {
        case .failure(let error): return c.reply.error(error.message)
        case .success(let parsed): options = parsed
        }
        let (pattern, count, values) = (options.pattern, options.count, type != .set && !options.noValues)
        var after: [UInt8]? = nil
        if cursor != 0 {
            guard let position = c.context.resp.cursor(cursor) else {
                return c.reply.error("ERR invalid or expired SCAN cursor \(cursor) (cursors are kept for the last \(RESPRegistry.maxCursors) scans)")
            }
            after = position
        }
        try c.keys.withCollection(args[1], as: type) { view in
            var found: [Element] = []
            var next: UInt64 = 0
            if let view, view.header.isPacked {
                found = try all(view)
            } else if let view {
                var last: [UInt8]? = nil
                var examined = 0
                try view.forEachRecord(after: after) { key, member, value in
                    if examined == count {
                        next = c.context.resp.saveCursor(after: last!)
                        return .stop
                    }
                    examined += 1
                    last = Array(key)
                    found.append(element(type, member, value))
                    return .proceed
                }
            }
            if let pattern { found.removeAll { !pattern.matches($0.member) } }
            c.reply.array(2)
            c.reply.bulk(String(next))
            c.reply.array(found.count * (values ? 2 : 1))
            for element in found {
                c.reply.bulk(element.member)
                guard values else { continue }
                if type == .zset { c.reply.bulk(RedisDouble.d2string(element.score)) } else { c.reply.bulk(element.value) }
            }
        }
    }
}

/// What LMPOP, BLMPOP, ZMPOP and BZMPOP share after their name (and timeout): numkeys key [key …] then a
/// side (`LEFT|RIGHT`, `MIN|MAX`) and an optional COUNT, checked as Redis checks them.
struct MultiPopOptions {
    /// The keys' argument indices.
    let keys: Range<Int>
    /// Whether the side is the second word (RIGHT, MAX).
    let second: Bool
    let count: Int

    static func parse(_ args: RESPArguments, at first: Int, sides: (StaticString, StaticString)) -> Result<MultiPopOptions, RESPError> {
        guard let numkeys = args.integer(first), numkeys >= 1 else { return .failure(RESPError(message: "ERR numkeys should be greater than 0")) }
        guard numkeys < Int64(args.count - first - 1) else { return .failure(.syntax) }
        let sideAt = first + 1 + Int(numkeys)
        guard args.is(sideAt, sides.0) || args.is(sideAt, sides.1) else { return .failure(.syntax) }
        var count = -1
        var j = sideAt + 1
        while j < args.count {
            guard count == -1, args.is(j, "COUNT"), j + 1 < args.count else { return .failure(.syntax) }
            guard let n = args.integer(j + 1), n >= 1 else { return .failure(RESPError(message: "ERR count should be greater than 0")) }
            count = Int(clamping: n)
            j += 2
        }
        return .success(MultiPopOptions(keys: (first + 1)..<sideAt, second: args.is(sideAt, sides.1), count: max(count, 1)))
    }
}
