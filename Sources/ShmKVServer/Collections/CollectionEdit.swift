import LMDB
import StoreLayout
import Wire

/// Two long members (or fields) with the same SHA-256 digest: never seen, refused rather than mixed up.
struct DigestCollision: Error, CustomStringConvertible {
    var description: String { "two members longer than \(ElementKey.maxInline) bytes share a SHA-256 digest; the write is refused" }
}

/// One collection being changed by one command on the writer: a packed one is changed in a copy of its
/// items and written back whole by `KeyspaceWriter.save`; a large one is changed record by record in
/// `__elements` at once, its header written by `save`. Redis's encoding (OBJECT ENCODING) follows Redis's
/// rules as elements come in.
struct CollectionEdit {
    /// The key (valid for the command's application).
    let key: UnsafeRawBufferPointer
    var header: CollectionHeader
    /// The packed items while `header.isPacked`.
    private(set) var items: [UInt8]
    /// Whether the key lived before the command.
    var existed: Bool
    let transaction: WriteTransaction
    let databases: StoreDatabases
    let limits: CollectionLimits
    let space: SpaceBudget?

    init(key: UnsafeRawBufferPointer, header: CollectionHeader, items: [UInt8], existed: Bool, transaction: WriteTransaction,
         databases: StoreDatabases, limits: CollectionLimits, space: SpaceBudget?) {
        self.key = key
        self.header = header
        self.items = items
        self.existed = existed
        self.transaction = transaction
        self.databases = databases
        self.limits = limits
        self.space = space
    }

    private var elements: Database { databases.elements! }
    var count: Int { header.count }

    /// The collection as it is now, to read (the changes made so far included).
    func withView<R>(_ body: (CollectionView) throws -> R) throws -> R {
        try items.withUnsafeBytes { try body(CollectionView(trusted: header, items: $0, transaction, elements)) }
    }

    // MARK: Hashes

    /// Redis's `hashTypeTryConversion`: a listpack hash becomes a hashtable when a command brings a field
    /// or value longer than `hash-max-listpack-value`, before anything is stored.
    mutating func noteHashArguments(_ args: RESPArguments, from first: Int) {
        guard header.encoding == .listpack else { return }
        for i in first..<args.count where args[i].count > limits.hashMaxListpackValue {
            header.encoding = .hashtable
            return
        }
    }

    /// Sets `field` to `value`; true if the field is new.
    mutating func setField(_ field: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Bool {
        if header.encoding == .listpack && (field.count > limits.hashMaxListpackValue || value.count > limits.hashMaxListpackValue) {
            header.encoding = .hashtable
        }
        let added: Bool
        if header.isPacked {
            var element: [UInt8] = []
            PackedItems.append(field, to: &element)
            PackedItems.append(value, to: &element)
            if let range = packedRange(of: field) {
                items.replaceSubrange(range, with: element)
                added = false
            } else {
                items.append(contentsOf: element)
                added = true
            }
        } else {
            added = try ElementKey.withKey(header.id, short: ElementKey.field, long: ElementKey.longField, field) { key, isLong in
                let existed = try hasRecord(key, isLong: isLong, member: field)
                try space?.spend(1)
                if isLong {
                    var record: [UInt8] = []
                    PackedItems.append(field, to: &record)
                    record.append(contentsOf: value)
                    try record.withUnsafeBytes { try transaction.put(elements, key: key, value: $0) }
                } else {
                    try transaction.put(elements, key: key, value: value)
                }
                return !existed
            }
        }
        if added {
            header.count += 1
            if header.encoding == .listpack && header.count > limits.hashMaxListpackEntries { header.encoding = .hashtable }
        }
        try moveToElementsIfLarge()
        return added
    }

    // MARK: Sets

    /// Adds `member`; true if it is new.
    mutating func addMember(_ member: UnsafeRawBufferPointer) throws -> Bool {
        let integer = header.encoding == .intset ? RedisInteger.parse(member) : nil
        if header.encoding == .intset && integer == nil { header.encoding = .hashtable }
        if header.isPacked {
            guard packedRange(of: member) == nil else { return false }
            var element: [UInt8] = []
            PackedItems.append(member, to: &element)
            // An intset keeps its integers in ascending order, as Redis's does.
            let at = integer.map { n in packedIndex { m, _ in RedisInteger.parse(m).map { $0 > n } ?? true } } ?? items.count
            items.insert(contentsOf: element, at: at)
        } else {
            let added = try ElementKey.withKey(header.id, short: ElementKey.member, long: ElementKey.longMember, member) { key, isLong in
                guard try !hasRecord(key, isLong: isLong, member: member) else { return false }
                try space?.spend(1)
                try transaction.put(elements, key: key, value: isLong ? member : UnsafeRawBufferPointer(start: nil, count: 0))
                return true
            }
            guard added else { return false }
        }
        header.count += 1
        if header.encoding == .intset && header.count > limits.setMaxIntsetEntries { header.encoding = .hashtable }
        try moveToElementsIfLarge()
        return true
    }

    // MARK: Sorted sets

    /// Gives `member` `score` (adding it); the score it had, or nil if it is new.
    @discardableResult
    mutating func setScore(_ member: UnsafeRawBufferPointer, _ score: Double) throws -> Double? {
        let old = try withView { try $0.score(of: member) }
        if header.encoding == .listpack && member.count > limits.zsetMaxListpackValue { header.encoding = .skiplist }
        if header.encoding == .listpack && old == nil && header.count + 1 > limits.zsetMaxListpackEntries { header.encoding = .skiplist }
        // A listpack keeps a score as text, and reads "-0" back as the integer 0: Redis's -0 becomes 0
        // there (a skiplist keeps the double as it is).
        let score = header.encoding == .listpack && score == 0 ? 0 : score
        if old == score { return old }
        if header.isPacked {
            if let range = packedRange(of: member) { items.removeSubrange(range) }
            var element: [UInt8] = []
            PackedItems.append(member, to: &element)
            PackedItems.append(score: score, to: &element)
            let at = packedIndex { m, s in s! > score || (s! == score && !m.lexicographicallyPrecedes(member)) }
            items.insert(contentsOf: element, at: at)
        } else {
            try space?.spend(2)
            if let old { try ElementKey.withOrderKey(header.id, score: old, member) { key, _ in _ = try transaction.delete(elements, key: key) } }
            try ElementKey.withKey(header.id, short: ElementKey.member, long: ElementKey.longMember, member) { key, isLong in
                var record: [UInt8] = []
                PackedItems.append(score: score, to: &record)
                if isLong { record.append(contentsOf: member) }
                try record.withUnsafeBytes { try transaction.put(elements, key: key, value: $0) }
            }
            try ElementKey.withOrderKey(header.id, score: score, member) { key, isLong in
                try transaction.put(elements, key: key, value: isLong ? member : UnsafeRawBufferPointer(start: nil, count: 0))
            }
        }
        if old == nil { header.count += 1 }
        try moveToElementsIfLarge()
        return old
    }

    // MARK: Removing

    /// Removes a hash's field, a set's member or a sorted set's member; true if it was there.
    mutating func remove(_ member: UnsafeRawBufferPointer) throws -> Bool {
        if header.isPacked {
            guard let range = packedRange(of: member) else { return false }
            items.removeSubrange(range)
        } else {
            let score = header.type == .zset ? try withView { try $0.score(of: member) } : nil
            let (short, long) = header.type == .hash ? (ElementKey.field, ElementKey.longField) : (ElementKey.member, ElementKey.longMember)
            let removed = try ElementKey.withKey(header.id, short: short, long: long, member) { key, isLong in
                guard try hasRecord(key, isLong: isLong, member: member) else { return false }
                return try transaction.delete(elements, key: key)
            }
            guard removed else { return false }
            if let score { try ElementKey.withOrderKey(header.id, score: score, member) { key, _ in _ = try transaction.delete(elements, key: key) } }
        }
        header.count -= 1
        return true
    }

    // MARK: Layout

    /// Moves a packed collection that has outgrown its record (`PackedItems.maxElements`,
    /// `maxRecordBytes`) to a record per element under a new id: as soon as an element makes it outgrow
    /// it, so that a command adding thousands of elements scans a packed record of 128 at most.
    private mutating func moveToElementsIfLarge() throws {
        guard header.isPacked, header.count > PackedItems.maxElements || CollectionHeader.size + items.count > PackedItems.maxRecordBytes else { return }
        var copies: [([UInt8], Double?, [UInt8]?)] = []
        try withView { view in
            switch header.type {
            case .hash: try view.forEachField { copies.append((Array($0), nil, Array($1))); return .proceed }
            case .set: try view.forEachMember { copies.append((Array($0), nil, nil)); return .proceed }
            case .zset: try view.forEachInOrder { copies.append((Array($0), $1, nil)); return .proceed }
            default: break
            }
        }
        header = CollectionHeader(type: header.type, isPacked: false, encoding: header.encoding, count: 0,
                                  id: try CollectionEdit.nextID(transaction, databases.meta))
        items = []
        for (member, score, value) in copies {
            try member.withUnsafeBytes { m in
                switch header.type {
                case .hash: _ = try value!.withUnsafeBytes { try setField(m, $0) }
                case .set: _ = try addMember(m)
                default: try setScore(m, score!)
                }
            }
        }
    }

    /// A new collection id from `__meta` (ids are never reused).
    static func nextID(_ transaction: WriteTransaction, _ meta: Database) throws -> UInt64 {
        let id = try transaction.get(meta, key: StoreLayout.MetaKey.nextCollectionID).flatMap(MetaValue.decimal) ?? 1
        try transaction.put(meta, key: StoreLayout.MetaKey.nextCollectionID, value: MetaValue.decimal(id + 1))
        return id
    }

    // MARK: Packed items

    /// The byte range of the packed element whose first item is `member`.
    private func packedRange(of member: UnsafeRawBufferPointer) -> Range<Int>? {
        var found: Range<Int>? = nil
        forEachPacked { first, _, range in
            guard first.elementsEqual(member) else { return true }
            found = range
            return false
        }
        return found
    }

    /// The offset of the first packed element for which `isAfter(member, score)` holds (the end if none).
    private func packedIndex(_ isAfter: (UnsafeRawBufferPointer, Double?) -> Bool) -> Int {
        var at = items.count
        forEachPacked { first, score, range in
            guard isAfter(first, score) else { return true }
            at = range.lowerBound
            return false
        }
        return at
    }

    /// Each packed element: its first item, its score (sorted sets), its byte range; while `body` says true.
    private func forEachPacked(_ body: (UnsafeRawBufferPointer, Double?, Range<Int>) -> Bool) {
        items.withUnsafeBytes { bytes in
            var reader = PackedItems.Reader(bytes)
            while !reader.atEnd {
                let start = reader.offset
                guard let first = reader.item() else { return }
                var score: Double? = nil
                switch header.type {
                case .hash: _ = reader.item()
                case .zset: score = reader.score()
                default: break
                }
                guard body(first, score, start..<reader.offset) else { return }
            }
        }
    }

    /// Whether the record `key` exists; for a long member's key, also that it holds `member` (another
    /// member with the same digest throws `DigestCollision`).
    private func hasRecord(_ key: UnsafeRawBufferPointer, isLong: Bool, member: UnsafeRawBufferPointer) throws -> Bool {
        try transaction.withValue(elements, key: key) { value in
            guard let value else { return false }
            guard isLong else { return true }
            let stored: UnsafeRawBufferPointer
            switch header.type {
            case .hash: stored = try CollectionView.splitLong(value).0
            case .zset: stored = value.count >= 8 ? UnsafeRawBufferPointer(rebasing: value[8...]) : value
            default: stored = value
            }
            guard stored.elementsEqual(member) else { throw DigestCollision() }
            return true
        }
    }
}
