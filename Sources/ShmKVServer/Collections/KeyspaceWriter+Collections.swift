import LMDB
import NotifyRing
import StoreLayout
import Wire

/// Redis's encoding thresholds, which CONFIG SET changes (OBJECT ENCODING follows them; ShmKV's own
/// layout does not). Defaults are redis-server 7.0's own (its code's, not redis.conf's).
struct CollectionLimits: Sendable, Equatable {
    var hashMaxListpackEntries = 512
    var hashMaxListpackValue = 64
    var setMaxIntsetEntries = 512
    var zsetMaxListpackEntries = 128
    var zsetMaxListpackValue = 64
    /// A list's listpack limit: negative, a size (-1 4 KiB … -5 64 KiB); positive, entries.
    var listMaxListpackSize = -2
    /// Accepted and reported; ShmKV compresses nothing.
    var listCompressDepth = 0

    /// CONFIG's names (and Redis's older aliases), with the threshold each sets and whether its value is a
    /// memory size (`1kb`) or may be negative.
    static let parameters: [(name: String, alias: String?, memory: Bool, signed: Bool)] = [
        ("hash-max-listpack-entries", "hash-max-ziplist-entries", false, false), ("hash-max-listpack-value", "hash-max-ziplist-value", true, false),
        ("set-max-intset-entries", nil, false, false), ("zset-max-listpack-entries", "zset-max-ziplist-entries", false, false),
        ("zset-max-listpack-value", "zset-max-ziplist-value", true, false), ("list-max-listpack-size", "list-max-ziplist-size", false, true),
        ("list-compress-depth", nil, false, false),
    ]

    /// The threshold `parameters[index]` names.
    subscript(index: Int) -> Int {
        get {
            [hashMaxListpackEntries, hashMaxListpackValue, setMaxIntsetEntries, zsetMaxListpackEntries, zsetMaxListpackValue,
             listMaxListpackSize, listCompressDepth][index]
        }
        set {
            switch index {
            case 0: hashMaxListpackEntries = newValue
            case 1: hashMaxListpackValue = newValue
            case 2: setMaxIntsetEntries = newValue
            case 3: zsetMaxListpackEntries = newValue
            case 4: zsetMaxListpackValue = newValue
            case 5: listMaxListpackSize = newValue
            default: listCompressDepth = newValue
            }
        }
    }

    /// Why CONFIG SET refuses a value, in Redis's words.
    struct Refusal: Error { let why: String }

    /// Redis's parsing of such a value: a decimal integer, for a memory size also with a unit (`k` is
    /// 1000, `kb` 1024, up to `gb`); the error text Redis gives otherwise.
    static func parse(_ text: String, memory: Bool, signed: Bool = false) -> Result<Int, Refusal> {
        if let n = Int64(text), RedisInteger.parse(Array(text.utf8)) != nil {
            if signed {
                return n < Int64(Int32.min) || n > Int64(Int32.max)
                    ? .failure(Refusal(why: "argument must be between -2147483648 and 2147483647 inclusive")) : .success(Int(n))
            }
            return n < 0 ? .failure(Refusal(why: "argument must be between 0 and 9223372036854775807 inclusive")) : .success(Int(n))
        }
        guard memory else { return .failure(Refusal(why: "argument couldn't be parsed into an integer")) }
        let lower = text.lowercased()
        let units: [(String, Int)] = [("gb", 1 << 30), ("mb", 1 << 20), ("kb", 1 << 10), ("g", 1_000_000_000), ("m", 1_000_000), ("k", 1000), ("b", 1)]
        for (suffix, scale) in units where lower.hasSuffix(suffix) {
            guard let n = Int(lower.dropLast(suffix.count)), n >= 0 else { break }
            let (value, overflow) = n.multipliedReportingOverflow(by: scale)
            return overflow ? .failure(Refusal(why: "argument must be a memory value")) : .success(value)
        }
        return .failure(Refusal(why: "argument must be a memory value"))
    }
}

/// The blocks reserved for a batch's records in volatile mode (`MDB_WRITEMAP`, where a page without a
/// block behind it faults): a command that writes more element records than its arguments announced
/// (SUNIONSTORE, COPY, a collection outgrowing its packed record) reserves more before it writes them.
final class SpaceBudget {
    private var spent = 0
    private var reserved = 0
    /// Reserves room for `n` records beyond what the batch announced; throws (ENOSPC, or a full map that
    /// the writer grows before it runs the batch again) when it cannot.
    private let reserve: (Int) throws -> Void

    init(reserve: @escaping (Int) throws -> Void) { self.reserve = reserve }

    /// Makes sure `records` more records may be written, before they are.
    func spend(_ records: Int) throws {
        spent += records
        guard spent > reserved else { return }
        let ahead = spent + max(records, 4096)
        try reserve(ahead)
        reserved = ahead
    }
}

/// A collection changed by one command, as `KeyspaceWriter.save` stores it.
protocol EditedCollection {
    var key: UnsafeRawBufferPointer { get }
    var header: CollectionHeader { get }
    var existed: Bool { get }
    /// The packed items while `header.isPacked` (else empty).
    var packedItems: [UInt8] { get }
}

extension EditedCollection {
    /// Calls `body` with the collection's `__types` record: the header, then the packed items.
    func withRecord<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let items = packedItems
        return try withUnsafeTemporaryAllocation(byteCount: CollectionHeader.size + items.count, alignment: 8) { buffer in
            header.write(to: buffer)
            if !items.isEmpty { UnsafeMutableRawBufferPointer(rebasing: buffer[CollectionHeader.size...]).copyBytes(from: items) }
            return try body(UnsafeRawBufferPointer(buffer))
        }
    }
}

extension CollectionEdit: EditedCollection {
    var packedItems: [UInt8] { items }
}

/// The writer's side of collections: reading one inside the batch, editing it (`CollectionEdit`), and
/// deleting it (its elements left to `reclaimElements`).
extension KeyspaceWriter {
    /// Calls `body` with the live collection `key` holds (nil: none, or a string), as this transaction sees it.
    mutating func withCollection<R>(_ key: UnsafeRawBufferPointer, _ body: (CollectionView?) throws -> R) throws -> R {
        try expireIfDue(key)
        guard mayHaveCollections else { return try body(nil) }
        let transaction = self.transaction, elements = self.elements
        return try transaction.withValue(types, key: key) { record in
            try body(try record.map { try CollectionView($0, transaction, elements) })
        }
    }

    /// As `withCollection`, for a key that must hold `type` or nothing (else `WrongTypeError`).
    mutating func withCollection<R>(_ key: UnsafeRawBufferPointer, as type: KeyType, _ body: (CollectionView?) throws -> R) throws -> R {
        let keyspace = self.keyspace, transaction = self.transaction
        return try withCollection(key) { view in
            if let view {
                guard view.type == type else { throw WrongTypeError(found: view.type) }
                return try body(view)
            }
            if try transaction.withValue(keyspace, key: key, { $0 != nil }) { throw WrongTypeError(found: .string) }
            return try body(nil)
        }
    }

    /// The type of the live `key`, or nil.
    mutating func type(of key: UnsafeRawBufferPointer) throws -> KeyType? {
        try expireIfDue(key)
        if try transaction.withValue(keyspace, key: key, { $0 != nil }) { return .string }
        return try storedCollectionType(key)
    }

    /// The type of the collection `key` holds, from its header alone (nil: none); a key past its deadline
    /// has been expired by then (`expireIfDue`).
    func storedCollectionType(_ key: UnsafeRawBufferPointer) throws -> KeyType? {
        try KeyspaceWriter.storedCollectionType(key, transaction, mayHaveCollections ? types : nil)
    }

    /// `storedCollectionType` from the handles alone (`types` nil: the database holds no collection),
    /// for a caller inside a closure over the transaction.
    static func storedCollectionType(_ key: UnsafeRawBufferPointer, _ transaction: WriteTransaction, _ types: Database?) throws -> KeyType? {
        guard let types else { return nil }
        return try transaction.withValue(types, key: key) { record in
            guard let record else { return nil }
            guard let header = CollectionHeader(record) else { throw DamagedRecord("the __types record of a key") }
            return header.type
        }
    }

    /// The collection `key` holds, loaded for a change; nil when the key does not live. Throws
    /// `WrongTypeError` when it holds another type.
    mutating func edit(_ key: UnsafeRawBufferPointer, as type: KeyType) throws -> CollectionEdit? {
        let limits = self.limits, space = self.space, transaction = self.transaction, databases = self.databases
        return try withCollection(key, as: type) { view in
            view.map { CollectionEdit(key: key, header: $0.header, items: Array($0.items), existed: true,
                                      transaction: transaction, databases: databases, limits: limits, space: space) }
        }
    }

    /// The list `key` holds, loaded for a change; nil when the key does not live (WRONGTYPE for another type).
    mutating func editList(_ key: UnsafeRawBufferPointer, as type: KeyType = .list) throws -> ListEdit? {
        let limits = self.limits, space = self.space, transaction = self.transaction, databases = self.databases
        return try withCollection(key, as: type) { view in
            view.map { ListEdit(key: key, header: $0.header, items: Array($0.items), existed: true,
                                transaction: transaction, databases: databases, limits: limits, space: space) }
        }
    }

    /// A new empty list for `key` (stored by `save` once it has items).
    func newList(_ key: UnsafeRawBufferPointer, as type: KeyType = .list) -> ListEdit {
        ListEdit(key: key, header: CollectionHeader(type: type, isPacked: true, encoding: type == .stream ? .stream : .listpack, count: 0, id: 0), items: [],
                 existed: false, transaction: transaction, databases: databases, limits: limits, space: space)
    }

    /// `edit`, or a new empty collection of `type` when the key does not live.
    mutating func editOrCreate(_ key: UnsafeRawBufferPointer, as type: KeyType) throws -> CollectionEdit {
        if let edit = try edit(key, as: type) { return edit }
        return newCollection(key, type)
    }

    /// A new empty collection of `type` for `key` (stored by `save` once it has elements), in the
    /// encoding Redis starts it with.
    func newCollection(_ key: UnsafeRawBufferPointer, _ type: KeyType) -> CollectionEdit {
        let encoding: RedisEncoding = switch type {
        case .set: .intset
        case .zset: limits.zsetMaxListpackEntries == 0 ? .skiplist : .listpack
        default: .listpack
        }
        return CollectionEdit(key: key, header: CollectionHeader(type: type, isPacked: true, encoding: encoding, count: 0, id: 0),
                              items: [], existed: false, transaction: transaction, databases: databases, limits: limits, space: space)
    }

    /// An empty collection of `type` that replaces whatever `key` holds (the STORE commands, as Redis's
    /// `setKey`: no WRONGTYPE for a destination, and its deadline goes). The old value is removed now,
    /// without an event; the edit's `existed` says whether there was one, so that `save` announces `del`
    /// for an empty result and `new` for a new key.
    mutating func replace(_ key: UnsafeRawBufferPointer, with type: KeyType) throws -> CollectionEdit {
        let existed = try removeForReplacement(key)
        var edit = newCollection(key, type)
        edit.existed = existed
        return edit
    }

    /// Removes whatever `key` holds, and its deadline, with no event; whether there was anything.
    mutating func removeForReplacement(_ key: UnsafeRawBufferPointer) throws -> Bool {
        try expireIfDue(key)
        let existed = try transaction.delete(keyspace, key: key) || dropCollection(key)
        if existed { _ = try removeDeadline(key) }
        return existed
    }

    /// `replace` for a list (SORT … STORE).
    mutating func replaceList(_ key: UnsafeRawBufferPointer) throws -> ListEdit {
        let existed = try removeForReplacement(key)
        var edit = newList(key)
        edit.existed = existed
        return edit
    }

    /// Stores an edited collection: its record, or — once it has no element — no key at all (with its
    /// deadline). Records `event` for the key (a new key flagged `created`), and Redis's `del` after it
    /// when the collection emptied. `event` nil records nothing (the command changed nothing).
    mutating func save(_ edit: inout some EditedCollection, event: KeyEvent?) throws {
        let key = edit.key
        if edit.header.count == 0 {
            guard edit.existed else { return }
            _ = try transaction.delete(types, key: key)
            if !edit.header.isPacked { try scheduleReclaim(edit.header.id) }
            if let event { changes.append(kind: .put, event: event, key: key, origin: origin) }
            _ = try removeDeadline(key)
            changes.append(kind: .delete, event: .del, key: key, origin: origin)
            return
        }
        try edit.withRecord { try transaction.put(types, key: key, value: $0) }
        mayHaveCollections = true
        if let event { changes.append(kind: .put, event: event, flags: edit.existed ? [] : .created, key: key, origin: origin) }
    }

    /// Deletes the collection `key` holds, if any (no event: the caller records its own); true if there was one.
    mutating func dropCollection(_ key: UnsafeRawBufferPointer) throws -> Bool {
        guard mayHaveCollections else { return false }
        let id = try transaction.withValue(types, key: key) { record -> UInt64?? in
            guard let record else { return nil }
            return .some(CollectionHeader(record).flatMap { $0.isPacked ? nil : $0.id })
        }
        guard let id else { return false }
        _ = try transaction.delete(types, key: key)
        if let id { try scheduleReclaim(id) }
        return true
    }

    /// Leaves the elements of collection `id` to `reclaimElements`.
    func scheduleReclaim(_ id: UInt64) throws {
        try withUnsafeBytes(of: id.bigEndian) { key in
            try transaction.put(reclaim, key: key, value: UnsafeRawBufferPointer(start: nil, count: 0))
        }
    }

    /// Removes up to `limit` element records of collections deleted earlier (the oldest first); returns
    /// how many. A deleted collection of millions of elements goes in steps of this size, each its own
    /// batch, so the writer never holds the transaction for long.
    mutating func reclaimElements(limit: Int) throws -> Int {
        var removed = 0
        while removed < limit, let id = try firstReclaimed() {
            let budget = limit - removed
            var keys: [[UInt8]] = []
            try transaction.forEach(elements, prefix: ElementKey.prefix(id)) { key, _ in
                keys.append(Array(key))
                return keys.count < budget ? .proceed : .stop
            }
            for key in keys { _ = try transaction.delete(elements, key: key) }
            removed += keys.count
            // Fewer than it could take: the collection's elements are all gone.
            if keys.count < budget { try withUnsafeBytes(of: id.bigEndian) { _ = try transaction.delete(reclaim, key: $0) } }
        }
        return removed
    }

    private func firstReclaimed() throws -> UInt64? {
        let cursor = try transaction.cursor(reclaim)
        defer { cursor.close() }
        guard try cursor.first() else { return nil }
        return cursor.withCurrent { key, _ in key.count == 8 ? UInt64(bigEndian: key.loadUnaligned(as: UInt64.self)) : nil }
    }
}
