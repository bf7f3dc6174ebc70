import LMDB
import NotifyRing
import StoreLayout

/// What a write does to its key's deadline.
enum DeadlineChange: Sendable, Equatable {
    /// The key has no deadline afterwards (SET, MSET, GETSET: a new value is a new key to Redis).
    case remove
    /// The key keeps the deadline it had (INCR, APPEND, SETRANGE, SET … KEEPTTL).
    case keep
    /// The key is due at this absolute time (wall-clock milliseconds).
    case at(Int64)
}

/// The writer's view of the keyspace inside one batch: keys as they live at `now`, deadlines kept beside
/// values, and the ring records the changes make. Made once per batch, on the batch's transaction.
///
/// The first touch of a key past its deadline deletes it and records an `expired` change, as Redis's
/// `expireIfNeeded` does before a write looks at a key; so every operation sees only live keys.
struct KeyspaceWriter {
    var transaction: WriteTransaction
    /// Every set of databases, and which holds each numbered database in this batch (nil: set n holds
    /// database n; SWAPDB changes it inside the batch).
    let catalog: StoreCatalog
    var map: [Int]?
    /// The selected numbered database (SELECT) and its databases.
    private(set) var database = 0
    private(set) var databases: StoreDatabases
    private var expires: Database
    private var index: Database
    /// `__types` of the selected database; `__elements` and `__reclaim`, shared.
    private(set) var types: Database
    let elements: Database
    let reclaim: Database
    /// Whether any key of the selected database may hold a collection: false spares every look-up in
    /// `__types`.
    var mayHaveCollections: Bool
    /// Redis's encoding thresholds (CONFIG SET hash-max-listpack-entries…), as the batch began.
    var limits = CollectionLimits()
    /// Blocks reserved for the batch's element records, in volatile mode (nil: nothing to reserve).
    var space: SpaceBudget?
    /// The moment keys are judged at (wall-clock milliseconds, read once per batch).
    let now: Int64
    /// Whether any key of the selected database may have a deadline: false spares every look-up in
    /// `__expires`.
    private var mayHaveDeadlines: Bool
    var changes = ChangeList()
    /// The writer's recent changes, for EXEC's WATCH check.
    var log: ChangeLog?
    /// Whether every stored key's record must say if it is new (Redis's `new` event is on): then a
    /// store that did not look its key up does so first.
    var reportsCreation = false
    /// SAVE asked for the batch to reach the disk before its replies go out.
    var syncRequested = false
    /// A record that is no key's changed (a function library in `__meta`): the batch commits even
    /// with no change to publish.
    var metaChanged = false
    /// The RESP client id of the connection whose operation runs now (0: native, or the daemon's own).
    var origin: UInt32 = 0
    /// Whether SWAPDB changed the database map in this batch (the writer then tells readers to resolve
    /// databases through `__meta` before it commits).
    var mapChanged = false
    /// How a blocking command runs now (the writer sets it per operation).
    var blocking = BlockingMode.never
    /// A replica expires nothing itself: keys past their deadline stay until the primary's DEL (reads
    /// on the reactors hide them, as Redis's replicas do).
    var expiryDisabled = false

    /// A writer on `transaction` with database 0 selected; `swapped`: SWAPDB has run on this store, so
    /// the map is read from `__meta`.
    init(_ transaction: WriteTransaction, _ catalog: StoreCatalog, swapped: Bool, now: Int64) throws {
        let first = catalog.first
        guard let elements = first.elements, let reclaim = first.reclaim else {
            preconditionFailure("the daemon opens every database of the layout at start")
        }
        self.transaction = transaction
        self.catalog = catalog
        map = swapped ? try catalog.map(in: transaction) : nil
        self.elements = elements
        self.reclaim = reclaim
        self.now = now
        let selected = try KeyspaceWriter.handles(catalog.databases(0, map: map)!, transaction)
        (databases, expires, index, types, mayHaveDeadlines, mayHaveCollections) = selected
    }

    private static func handles(_ databases: StoreDatabases, _ transaction: WriteTransaction) throws
        -> (StoreDatabases, Database, Database, Database, Bool, Bool) {
        guard let expires = databases.expires, let index = databases.expiryIndex, let types = databases.types else {
            preconditionFailure("the daemon opens every database of the layout at start")
        }
        return (databases, expires, index, types, try transaction.stat(expires).entries > 0, try transaction.stat(types).entries > 0)
    }

    /// Selects numbered database `database` for what follows (its changes are recorded as its).
    mutating func select(_ database: Int) throws {
        changes.database = UInt8(database)
        guard database != self.database else { return }
        guard let set = catalog.databases(database, map: map) else { preconditionFailure("database \(database) was checked at SELECT") }
        (databases, expires, index, types, mayHaveDeadlines, mayHaveCollections) = try KeyspaceWriter.handles(set, transaction)
        self.database = database
    }

    var keyspace: Database { databases.keyspace }

    // MARK: Reading

    // Keys and values come as raw bytes (a slice of a reactor's `WriteArena`, or of a write's own
    // array); the array forms below are for MULTI's reads and the native TXN's checks, which hold
    // their keys in arrays.

    /// The key's deadline, past or not; nil for none.
    func deadline(_ key: UnsafeRawBufferPointer) throws -> Int64? {
        guard mayHaveDeadlines else { return nil }
        return try transaction.withValue(expires, key: key) { $0.flatMap(Deadline.decode) }
    }

    func deadline(_ key: [UInt8]) throws -> Int64? { try key.withUnsafeBytes { try deadline($0) } }

    /// Deletes `key` if its deadline has passed; true if it did.
    @discardableResult
    mutating func expireIfDue(_ key: UnsafeRawBufferPointer) throws -> Bool {
        guard !expiryDisabled, let deadline = try deadline(key), Deadline.hasPassed(deadline, now: now) else { return false }
        if try !transaction.delete(keyspace, key: key) { _ = try dropCollection(key) }
        try dropDeadline(key, deadline)
        changes.append(kind: .delete, event: .expired, key: key, origin: origin)
        return true
    }

    /// A copy of the live value of the string `key`, or nil; throws `WrongTypeError` for a collection.
    mutating func value(_ key: UnsafeRawBufferPointer) throws -> [UInt8]? {
        try withLiveValue(key) { $0.map { Array($0) } }
    }

    mutating func value(_ key: [UInt8]) throws -> [UInt8]? { try key.withUnsafeBytes { try value($0) } }

    /// Calls `body` with the live value of the string `key` in place in the map (nil: none); valid only
    /// inside it. Throws `WrongTypeError` when the key holds a collection (string commands' WRONGTYPE).
    mutating func withLiveValue<R>(_ key: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R {
        try expireIfDue(key)
        return try transaction.withValue(keyspace, key: key) { value in
            if value == nil, let type = try storedCollectionType(key) { throw WrongTypeError(found: type) }
            return try body(value)
        }
    }

    /// Calls `body` with the live value of `key` copied to the front of a temporary buffer `extra(n)`
    /// bytes longer than the value's `n` (the tail not initialized), and `n` (nil: no value, the
    /// buffer `extra(0)` bytes), so that `body` may build a new value there and store it while LMDB's
    /// own bytes are no longer read. On the stack when small, else one allocation (no array).
    mutating func withValueCopy<R>(_ key: UnsafeRawBufferPointer, extra: (Int) -> Int,
                                   _ body: (inout KeyspaceWriter, UnsafeMutableRawBufferPointer, Int?) throws -> R) throws -> R {
        try expireIfDue(key)
        let transaction = self.transaction, keyspace = self.keyspace, types = mayHaveCollections ? self.types : nil
        return try transaction.withValue(keyspace, key: key) { old in
            if old == nil, let type = try KeyspaceWriter.storedCollectionType(key, transaction, types) { throw WrongTypeError(found: type) }
            let count = old?.count ?? 0
            return try withUnsafeTemporaryAllocation(byteCount: count + extra(count), alignment: 1) { buffer in
                if let old, let source = old.baseAddress, count > 0 { buffer.baseAddress!.copyMemory(from: source, byteCount: count) }
                return try body(&self, buffer, old.map { _ in count })
            }
        }
    }

    /// Whether `key` lives, whatever its type.
    mutating func exists(_ key: UnsafeRawBufferPointer) throws -> Bool {
        try expireIfDue(key)
        if try transaction.withValue(keyspace, key: key, { $0 != nil }) { return true }
        return mayHaveCollections ? try transaction.withValue(types, key: key) { $0 != nil } : false
    }

    mutating func exists(_ key: [UInt8]) throws -> Bool { try key.withUnsafeBytes { try exists($0) } }

    // MARK: Writing

    /// Stores `value` under `key` and applies `deadline`, recording one change with `event`. `existed`
    /// says whether the key lived, when the caller looked it up (nil: not looked up, no `created` flag
    /// unless `reportsCreation`). A new deadline is announced (`deadlineSet`: Redis's `expire` after the
    /// command's event) unless `announceDeadline` is false (RENAME and COPY carry a deadline silently).
    mutating func store(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, existed: Bool?,
                        deadline: DeadlineChange, event: KeyEvent, announceDeadline: Bool = true) throws {
        var existed = existed
        // A string replaces whatever the key held (SET over a hash).
        if existed != false, mayHaveCollections, try dropCollection(key) { existed = true }
        if existed == nil && reportsCreation { existed = try transaction.withValue(keyspace, key: key) { $0 != nil } }
        try transaction.put(keyspace, key: key, value: value)
        var flags: ChangeFlags = existed == false ? .created : []
        switch deadline {
        case .keep: break
        case .remove: _ = try removeDeadline(key)
        case .at(let at):
            try setDeadline(key, at)
            if announceDeadline { flags.insert(.deadlineSet) }
        }
        changes.append(kind: .put, event: event, flags: flags, key: key, origin: origin)
    }

    /// Deletes `key` (of any type) with its deadline; true if it lived. Records `event` when it did.
    mutating func delete(_ key: UnsafeRawBufferPointer, event: KeyEvent = .del) throws -> Bool {
        if try expireIfDue(key) { return false }
        guard try transaction.delete(keyspace, key: key) || dropCollection(key) else { return false }
        _ = try removeDeadline(key)
        changes.append(kind: .delete, event: event, key: key, origin: origin)
        return true
    }

    /// Gives a live `key` the deadline `at` (replacing any), recording an `expire` change.
    mutating func expire(_ key: UnsafeRawBufferPointer, at: Int64) throws {
        try setDeadline(key, at)
        changes.append(kind: .expiry, event: .expire, key: key, origin: origin)
    }

    /// Takes a live `key`'s deadline away; true if it had one (then a `persist` change is recorded).
    mutating func persist(_ key: UnsafeRawBufferPointer) throws -> Bool {
        guard try removeDeadline(key) else { return false }
        changes.append(kind: .expiry, event: .persist, key: key, origin: origin)
        return true
    }

    /// Deletes every key and deadline of the selected database (FLUSHDB); its large collections'
    /// elements are left to reclaim.
    mutating func clear(flags: ChangeFlags = [], announce: Bool = true) throws {
        if mayHaveCollections {
            var ids: [UInt64] = []
            try transaction.forEach(types, prefix: []) { _, record in
                if let header = CollectionHeader(record), !header.isPacked { ids.append(header.id) }
                return .proceed
            }
            for id in ids { try scheduleReclaim(id) }
        }
        try clearSelected()
        if announce { changes.append(kind: .clear, event: .none, flags: flags, key: [], origin: origin) }
    }

    /// Deletes every key of every database (FLUSHALL), elements and all: one `clear` record, with
    /// database `RingLayout.allDatabases` (Redis's FLUSHALL invalidates tracked keys once).
    mutating func clearAll() throws {
        let selected = database
        for database in 0..<catalog.sets.count {
            try select(database)
            try clearSelected()
        }
        try transaction.clear(elements)
        try transaction.clear(reclaim)
        changes.database = RingLayout.allDatabases
        changes.append(kind: .clear, event: .none, key: [], origin: origin)
        try select(selected)
    }

    /// Empties the selected database's four LMDB databases.
    private mutating func clearSelected() throws {
        for db in [keyspace, expires, index, types] { try transaction.clear(db) }
        mayHaveDeadlines = false
        mayHaveCollections = false
    }

    // MARK: Deadlines

    mutating func setDeadline(_ key: UnsafeRawBufferPointer, _ at: Int64) throws {
        if let old = try deadline(key) {
            if old == at { return }
            _ = try Deadline.withIndexKey(old, key) { try transaction.delete(index, key: $0) }
        }
        try Deadline.withEncoded(at) { try transaction.put(expires, key: key, value: $0) }
        try Deadline.withIndexKey(at, key) { try transaction.put(index, key: $0, value: UnsafeRawBufferPointer(rebasing: $0[0..<0])) }
        mayHaveDeadlines = true
    }

    /// Removes `key`'s deadline (no event); true if it had one.
    mutating func removeDeadline(_ key: UnsafeRawBufferPointer) throws -> Bool {
        guard let old = try deadline(key) else { return false }
        try dropDeadline(key, old)
        return true
    }

    private func dropDeadline(_ key: UnsafeRawBufferPointer, _ deadline: Int64) throws {
        _ = try transaction.delete(expires, key: key)
        _ = try Deadline.withIndexKey(deadline, key) { try transaction.delete(index, key: $0) }
    }

    private func dropDeadline(_ key: [UInt8], _ deadline: Int64) throws { try key.withUnsafeBytes { try dropDeadline($0, deadline) } }

    // MARK: Active expiry

    /// Deletes up to `limit` keys whose deadline has passed, oldest deadline first, each recorded as
    /// `expired`; returns how many. The writer calls it several times a second while keys have deadlines.
    mutating func expireDue(limit: Int) throws -> Int {
        var expired = 0
        for database in 0..<catalog.sets.count where expired < limit {
            try select(database)
            expired += try expireDueInSelected(limit: limit - expired)
        }
        return expired
    }

    /// `expireDue` in the selected database.
    private mutating func expireDueInSelected(limit: Int) throws -> Int {
        guard mayHaveDeadlines else { return 0 }
        var due: [(Int64, [UInt8])] = []
        try transaction.forEach(index, prefix: []) { entry, _ in
            guard due.count < limit, let deadline = Deadline.decode(entry), Deadline.hasPassed(deadline, now: now) else {
                return .stop
            }
            due.append((deadline, Array(entry[Deadline.size...])))
            return .proceed
        }
        for (deadline, key) in due {
            if try !transaction.delete(keyspace, key: key) { _ = try key.withUnsafeBytes { try dropCollection($0) } }
            try dropDeadline(key, deadline)
            changes.append(kind: .delete, event: .expired, key: key, origin: origin)
        }
        return due.count
    }
}

extension KeyspaceWriter {
    /// SWAPDB: numbered databases `a` and `b` trade sets, in `__meta`'s map (one record: readers see
    /// both swapped or neither). Each gets a `clear` record flagged `swapped`, so that WATCH fails on
    /// keys that lived there and local readers reread them; no keyspace event (Redis sends none).
    mutating func swapDatabases(_ a: Int, _ b: Int) throws {
        var sets = map ?? Array(0..<catalog.sets.count)
        sets.swapAt(a, b)
        map = sets
        mapChanged = true
        try transaction.put(catalog.first.meta, key: StoreLayout.MetaKey.databaseMap, value: Array(sets.map(String.init).joined(separator: " ").utf8))
        let selected = database
        // The selected set's handles are stale now: select again through the new map.
        database = -1
        for db in Set([a, b]) {
            try select(db)
            changes.append(kind: .clear, event: .none, flags: .swapped, key: [], origin: origin)
        }
        try select(selected)
    }
}

extension KeyspaceWriter {
    /// Works on `set` (a full sync's staging set) as if it were the selected database, until the next
    /// `select`.
    mutating func selectStaging(_ set: StoreDatabases) throws {
        (databases, expires, index, types, mayHaveDeadlines, mayHaveCollections) = try KeyspaceWriter.handles(set, transaction)
        database = -1
    }

    /// A full sync's end: every numbered database is emptied (its large collections left to reclaim)
    /// and takes the records of its staging set in `sets`, which is emptied; one `clear` record flagged
    /// `swapped` per database (its whole content changed: WATCH fails, local readers read it again).
    mutating func adopt(_ sets: [Int: StoreDatabases]) throws {
        let selected = database
        for number in 0..<catalog.sets.count {
            try select(number)
            try clear(flags: .swapped)
            if let staged = sets[number] { try moveStaged(staged) }
        }
        try select(max(selected, 0))
    }

    /// Moves every record of a staging set into the selected database (over any record of the same
    /// key: the caller removed those keys first), and empties it.
    mutating func moveStaged(_ staged: StoreDatabases) throws {
        guard let stagedTypes = staged.types, let stagedExpires = staged.expires, let stagedIndex = staged.expiryIndex else { return }
        for (from, to) in [(staged.keyspace, keyspace), (stagedTypes, types), (stagedExpires, expires), (stagedIndex, index)] {
            try transaction.forEach(from, prefix: []) { key, value in
                try transaction.put(to, key: key, value: value)
                return .proceed
            }
            try transaction.clear(from)
        }
        mayHaveDeadlines = try transaction.stat(expires).entries > 0
        mayHaveCollections = try transaction.stat(types).entries > 0
    }

    /// Empties a staging set, its large collections' elements left to reclaim.
    mutating func discardStaging(_ set: StoreDatabases) throws {
        try selectStaging(set)
        try clear(flags: [], announce: false)
        try select(0)
    }
}