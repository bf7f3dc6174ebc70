import LMDB
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

    /// HSCAN, SSCAN, ZSCAN: `key cursor [MATCH pattern] [COUNT count]` (HSCAN also NOVALUES). A packed
    /// collection answers whole with cursor 0 (Redis does so for a listpack or intset); a large one pages
    /// by COUNT records, its cursor a saved position.
    static func scan(_ c: CommandCall, _ type: KeyType) throws {
        let args = c.args
        guard let cursor = RedisInteger.parseCursor(args[2]) else { return c.reply.error("ERR invalid cursor") }
        var pattern: GlobPattern? = nil
        var count = 10
        var values = type != .set
        var i = 3
        while i < args.count {
            if type == .hash, args.is(i, "NOVALUES") {
                values = false
                i += 1
                continue
            }
            guard i + 1 < args.count else { return c.reply.error("ERR syntax error") }
            if args.is(i, "MATCH") {
                pattern = GlobPattern(args.bytes(i + 1))
            } else if args.is(i, "COUNT") {
                guard let n = args.integer(i + 1) else { return c.reply.error("ERR value is not an integer or out of range") }
                guard n >= 1 else { return c.reply.error("ERR syntax error") }
                count = Int(min(n, 100_000))
            } else {
                return c.reply.error("ERR syntax error")
            }
            i += 2
        }
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
