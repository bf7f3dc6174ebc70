import LMDB

/// One collection as a snapshot holds it, read in place (no copy): a hash's fields, a set's members, a
/// sorted set's members in score order. Buffers handed to closures point into the map and are valid only
/// inside them; the view itself is valid only inside the `withCollection` call that lent it.
public struct CollectionView {
    public let header: CollectionHeader
    /// The packed items (empty for a large collection).
    public let items: UnsafeRawBufferPointer
    let transaction: Transaction
    let elements: Database

    /// A view of a collection whose header and items the caller built itself (the writer's edit).
    public init(trusted header: CollectionHeader, items: UnsafeRawBufferPointer, _ transaction: Transaction, _ elements: Database) {
        self.header = header
        self.items = items
        self.transaction = transaction
        self.elements = elements
    }

    /// A view of `record` (a `__types` value); throws `DamagedRecord` for one that does not decode.
    public init(_ record: UnsafeRawBufferPointer, _ transaction: Transaction, _ elements: Database) throws {
        guard let header = CollectionHeader(record) else { throw DamagedRecord("a __types record has no valid header") }
        let items = UnsafeRawBufferPointer(rebasing: record[CollectionHeader.size...])
        if header.isPacked {
            guard PackedItems.isValid(items, type: header.type, elements: header.count) else {
                throw DamagedRecord("a packed \(header.type.name) does not hold the \(header.count) elements its header counts")
            }
        }
        self.header = header
        self.items = items
        self.transaction = transaction
        self.elements = elements
    }

    public var type: KeyType { header.type }
    /// Elements: a hash's fields, a set's or sorted set's members.
    public var count: Int { header.count }

    // MARK: Hashes

    /// Calls `body` with the value of `field`, or nil.
    public func withField<R>(_ field: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R {
        if header.isPacked {
            var reader = PackedItems.Reader(items)
            while let f = reader.item(), let v = reader.item() { if f.elementsEqual(field) { return try body(v) } }
            return try body(nil)
        }
        return try ElementKey.withKey(header.id, short: ElementKey.field, long: ElementKey.longField, field) { key, isLong in
            try transaction.withValue(elements, key: key) { value in
                guard let value, isLong else { return try body(value) }
                let (stored, rest) = try CollectionView.splitLong(value)
                return try body(stored.elementsEqual(field) ? rest : nil)
            }
        }
    }

    /// Each field and value, in the hash's order (packed: as added; large: long fields first, each kind in
    /// byte order).
    public func forEachField(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> IterationControl) throws {
        if header.isPacked {
            var reader = PackedItems.Reader(items)
            while let f = reader.item(), let v = reader.item() { if try body(f, v) == .stop { return } }
            return
        }
        try walkMembers(short: ElementKey.field, long: ElementKey.longField) { key, value, isLong in
            guard isLong else { return try body(key, value) }
            let (field, rest) = try CollectionView.splitLong(value)
            return try body(field, rest)
        }
    }

    // MARK: Sets

    /// Whether `member` is in the set.
    public func contains(_ member: UnsafeRawBufferPointer) throws -> Bool {
        if header.isPacked {
            var reader = PackedItems.Reader(items)
            while let m = reader.item() { if m.elementsEqual(member) { return true } }
            return false
        }
        return try ElementKey.withKey(header.id, short: ElementKey.member, long: ElementKey.longMember, member) { key, isLong in
            try transaction.withValue(elements, key: key) { value in
                guard let value else { return false }
                return !isLong || value.elementsEqual(member)
            }
        }
    }

    /// Each member (packed: as stored; large: long members first, each kind in byte order).
    public func forEachMember(_ body: (UnsafeRawBufferPointer) throws -> IterationControl) throws {
        if header.isPacked {
            var reader = PackedItems.Reader(items)
            while let m = reader.item() { if try body(m) == .stop { return } }
            return
        }
        try walkMembers(short: ElementKey.member, long: ElementKey.longMember) { key, value, isLong in
            try body(isLong ? value : key)
        }
    }

    // MARK: Sorted sets

    /// The score of `member`, or nil.
    public func score(of member: UnsafeRawBufferPointer) throws -> Double? {
        if header.isPacked {
            var reader = PackedItems.Reader(items)
            while let m = reader.item(), let score = reader.score() { if m.elementsEqual(member) { return score } }
            return nil
        }
        return try ElementKey.withKey(header.id, short: ElementKey.member, long: ElementKey.longMember, member) { key, isLong in
            try transaction.withValue(elements, key: key) { value -> Double? in
                guard let value else { return nil }
                guard value.count >= 8 else { throw DamagedRecord("a sorted set's member record holds no score") }
                if isLong && !UnsafeRawBufferPointer(rebasing: value[8...]).elementsEqual(member) { return nil }
                return Double(bitPattern: UInt64(littleEndian: value.loadUnaligned(as: UInt64.self)))
            }
        }
    }

    /// Where a walk in order starts: the first element (last, in reverse) at or past the point. Only a
    /// large sorted set seeks; a caller checks the bounds of each element it is given anyway.
    public enum OrderStart {
        /// From the first (reverse: the last) element.
        case edge
        /// From score `score` (`exclusive`: past it).
        case score(Double, exclusive: Bool)
        /// From member `member` among elements that all share the first (reverse: last) one's score.
        case member(UnsafeRawBufferPointer)
    }

    /// Each member and score in order (score, then member bytes), or in reverse, from `start`.
    public func forEachInOrder(reverse: Bool = false, from start: OrderStart = .edge,
                               _ body: (UnsafeRawBufferPointer, Double) throws -> IterationControl) throws {
        if header.isPacked {
            return try withUnsafeTemporaryAllocation(of: Int.self, capacity: max(header.count, 1)) { offsets in
                var reader = PackedItems.Reader(items)
                var n = 0
                while n < header.count {
                    offsets[n] = reader.offset
                    guard reader.item() != nil, reader.score() != nil else { break }
                    n += 1
                }
                for i in 0..<n {
                    var at = PackedItems.Reader(UnsafeRawBufferPointer(rebasing: items[offsets[reverse ? n - 1 - i : i]...]))
                    guard let member = at.item(), let score = at.score() else { return }
                    if try body(member, score) == .stop { return }
                }
            }
        }
        let prefix = ElementKey.prefix(header.id, ElementKey.order)
        var bound: [UInt8]? = nil
        switch start {
        case .edge: break
        case .score(let score, let exclusive):
            let order = ScoreOrder.encode(score)
            bound = ElementKey.orderPrefix(header.id, score: exclusive != reverse ? order &+ 1 : order)
        case .member(let member):
            var first: UInt64? = nil
            try walk(prefix, reverse: reverse, from: nil) { key, _ in
                guard key.count >= ElementKey.prefixSize + 8 else { throw DamagedRecord("a sorted set's order key is too short") }
                first = UInt64(bigEndian: key.loadUnaligned(fromByteOffset: ElementKey.prefixSize, as: UInt64.self))
                return .stop
            }
            if let first {
                bound = ElementKey.orderPrefix(header.id, score: first)
                bound!.append(contentsOf: member.prefix(ElementKey.maxOrderInline))
                if reverse { bound!.append(0) }
            }
        }
        try walk(prefix, reverse: reverse, from: bound) { key, value in
            guard key.count >= ElementKey.prefixSize + 8 else { throw DamagedRecord("a sorted set's order key is too short") }
            let score = ScoreOrder.decode(UInt64(bigEndian: key.loadUnaligned(fromByteOffset: ElementKey.prefixSize, as: UInt64.self)))
            let member = value.isEmpty ? UnsafeRawBufferPointer(rebasing: key[(ElementKey.prefixSize + 8)...]) : value
            return try body(member, score)
        }
    }

    // MARK: Walking `__elements`

    /// Each element of a large collection in `__elements` order, from the first record after `after`
    /// (a key it handed out) — what HSCAN, SSCAN and ZSCAN page through: the record's key, the field or
    /// member, and the value (a hash's value, a sorted set's score as 8 bytes, empty for a set).
    public func forEachRecord(after: [UInt8]?, _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer,
                                                         UnsafeRawBufferPointer) throws -> IterationControl) throws {
        let (short, long) = type == .hash ? (ElementKey.field, ElementKey.longField) : (ElementKey.member, ElementKey.longMember)
        let prefix = ElementKey.prefix(header.id)
        var from = after ?? prefix
        if after != nil { from.append(0) }
        let cursor = try transaction.cursor(elements)
        defer { cursor.close() }
        var found = try cursor.seek(atLeast: from)
        while found {
            let control = try cursor.withCurrent { key, value -> IterationControl in
                guard key.starts(with: prefix), key.count >= ElementKey.prefixSize else { return .stop }
                let tag = key[8]
                guard tag == short || tag == long else { return tag < long ? .proceed : .stop }
                if tag == short {
                    return try body(key, UnsafeRawBufferPointer(rebasing: key[ElementKey.prefixSize...]), value)
                }
                switch type {
                case .hash:
                    let (field, rest) = try CollectionView.splitLong(value)
                    return try body(key, field, rest)
                case .zset:
                    guard value.count >= 8 else { throw DamagedRecord("a sorted set's member record holds no score") }
                    return try body(key, UnsafeRawBufferPointer(rebasing: value[8...]), UnsafeRawBufferPointer(rebasing: value[0..<8]))
                default:
                    return try body(key, value, UnsafeRawBufferPointer(start: nil, count: 0))
                }
            }
            guard control == .proceed else { return }
            found = try cursor.next()
        }
    }

    /// The element record at or after a random point of a large collection (wrapping to the first):
    /// `forEachRecord`'s arguments. Not uniform — records after a gap in the key space come up more
    /// often — as Redis's own random picks from a hashtable are not.
    public func withRandomRecord<R>(_ random: UInt64, _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer,
                                                                UnsafeRawBufferPointer) throws -> R) throws -> R? {
        let short = type == .hash ? ElementKey.field : ElementKey.member
        var point = ElementKey.prefix(header.id, short)
        withUnsafeBytes(of: random.bigEndian) { point.append(contentsOf: $0) }
        var result: R? = nil
        for start in [point, nil] as [[UInt8]?] {
            var seen = false
            try forEachRecord(after: start) { key, member, value in
                seen = true
                result = try body(key, member, value)
                return .stop
            }
            if seen { break }
        }
        return result
    }

    /// The records under `id short`, then under `id long`, in key order: the key with the prefix cut,
    /// the value, and whether it is a long one.
    private func walkMembers(short: UInt8, long: UInt8,
                             _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer, Bool) throws -> IterationControl) throws {
        var stopped = false
        for tag in [long, short] where !stopped {
            try walk(ElementKey.prefix(header.id, tag), reverse: false, from: nil) { key, value in
                let control = try body(UnsafeRawBufferPointer(rebasing: key[ElementKey.prefixSize...]), value, tag == long)
                stopped = control == .stop
                return control
            }
        }
    }

    /// The records whose key starts with `prefix`: forward from the first key ≥ `from` (or the prefix),
    /// or in reverse from the last key < `from` (or the prefix's end).
    public func walk(_ prefix: [UInt8], reverse: Bool, from: [UInt8]?,
              _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> IterationControl) throws {
        let cursor = try transaction.cursor(elements)
        defer { cursor.close() }
        var found: Bool
        if reverse {
            var end = prefix
            end[end.count - 1] &+= 1
            found = try cursor.seek(atLeast: from ?? end) ? try cursor.previous() : try cursor.last()
        } else {
            found = try cursor.seek(atLeast: from ?? prefix)
        }
        while found {
            let control = try cursor.withCurrent { key, value -> IterationControl in
                guard key.starts(with: prefix) else { return .stop }
                return try body(key, value)
            }
            guard control == .proceed else { return }
            found = reverse ? try cursor.previous() : try cursor.next()
        }
    }

    /// A long field's or member's record: u32 length, the field, then the rest.
    public static func splitLong(_ value: UnsafeRawBufferPointer) throws -> (UnsafeRawBufferPointer, UnsafeRawBufferPointer) {
        var reader = PackedItems.Reader(value)
        guard let field = reader.item() else { throw DamagedRecord("a long field's record") }
        return (field, UnsafeRawBufferPointer(rebasing: value[reader.offset...]))
    }
}
