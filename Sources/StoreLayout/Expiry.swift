import LMDB

/// A key's deadline: absolute wall-clock milliseconds since the Unix epoch, stored as 8 bytes
/// big-endian (so that the expiry index sorts by time). A key is gone once the clock has passed its
/// deadline (`now > deadline`, as Redis decides), whether or not the daemon has deleted it yet.
public enum Deadline {
    /// Bytes of an encoded deadline.
    public static let size = 8

    /// Lends `deadline` as stored in `__expires` (and at the front of an index key), from the stack.
    public static func withEncoded<R>(_ deadline: Int64, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeBytes(of: UInt64(bitPattern: deadline).bigEndian, body)
    }

    /// A stored deadline back; nil for bytes that are not one.
    public static func decode(_ bytes: UnsafeRawBufferPointer) -> Int64? {
        guard bytes.count >= size else { return nil }
        return Int64(bitPattern: UInt64(bigEndian: bytes.loadUnaligned(as: UInt64.self)))
    }

    /// Lends the `__expiry_index` key of `key` due at `deadline` — the deadline, then the key — from
    /// a temporary buffer (on the stack for any key LMDB can hold).
    public static func withIndexKey<R>(_ deadline: Int64, _ key: UnsafeRawBufferPointer,
                                       _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeTemporaryAllocation(byteCount: size + key.count, alignment: 8) { buffer in
            buffer.storeBytes(of: UInt64(bitPattern: deadline).bigEndian, as: UInt64.self)
            if let source = key.baseAddress, !key.isEmpty { (buffer.baseAddress! + size).copyMemory(from: source, byteCount: key.count) }
            return try body(UnsafeRawBufferPointer(buffer))
        }
    }

    /// Milliseconds as Redis's TTL and EXPIRETIME give seconds: rounded to the nearest, half up —
    /// `(ms + 500) / 1000` without its overflow (Redis answers 9223372036854776 for a deadline of
    /// Int64.max ms). `milliseconds` is not negative.
    public static func roundedSeconds(_ milliseconds: Int64) -> Int64 {
        milliseconds / 1000 + (milliseconds % 1000 + 500) / 1000
    }

    /// Whether a key due at `deadline` is gone at `now`.
    @inline(__always)
    public static func hasPassed(_ deadline: Int64, now: Int64) -> Bool { now > deadline }
}

/// Reads user keys as they live at one moment: a key whose deadline has passed reads as absent, on
/// every path (lazy expiry). Made per snapshot use by the daemon's reads and by `LocalStore`.
///
/// Cost: a store where no key has a deadline pays one `mdb_stat` per reader (no clock reading, no
/// second look-up); otherwise each key read looks up its deadline too.
public struct KeyspaceReader {
    /// The snapshot.
    public let transaction: Transaction
    /// The store's databases.
    public let databases: StoreDatabases
    /// Whether any key has a deadline in this snapshot.
    public let hasDeadlines: Bool
    /// The moment keys are judged at (0 when no key has a deadline).
    public let now: Int64
    /// Whether any key holds a collection in this snapshot: false spares every look-up in `__types`.
    public let hasCollections: Bool

    /// A reader on `transaction`; `clock` is read only if some key has a deadline.
    public init(_ transaction: Transaction, _ databases: StoreDatabases, clock: () -> Int64) throws(LMDBError) {
        self.transaction = transaction
        self.databases = databases
        if let expires = databases.expires, try transaction.stat(expires).entries > 0 {
            hasDeadlines = true
            now = clock()
        } else {
            hasDeadlines = false
            now = 0
        }
        if let types = databases.types { hasCollections = try transaction.stat(types).entries > 0 } else { hasCollections = false }
    }

    /// The deadline of `key`, whether or not it has passed; nil for none.
    public func deadline(of key: UnsafeRawBufferPointer) throws -> Int64? {
        guard hasDeadlines, let expires = databases.expires else { return nil }
        return try transaction.withValue(expires, key: key) { $0.flatMap(Deadline.decode) }
    }

    /// Whether `key` has a deadline that has passed (it reads as absent).
    @inline(__always)
    public func isExpired(_ key: UnsafeRawBufferPointer) throws -> Bool {
        guard hasDeadlines, let deadline = try deadline(of: key) else { return false }
        return Deadline.hasPassed(deadline, now: now)
    }

    /// Calls `body` with the live value of the string `key` in place in the map, or nil (none, or a key
    /// that holds a collection: see `type(of:)`). Valid only inside `body`.
    @inline(__always)
    public func withValue<R>(_ key: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R {
        try transaction.withValue(databases.keyspace, key: key) { value in
            guard let value, hasDeadlines else { return try body(value) }
            return try body(try isExpired(key) ? nil : value)
        }
    }

    /// `withValue` for a key held in an array.
    public func withValue<R>(_ key: [UInt8], _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R {
        try key.withUnsafeBytes { try withValue($0, body) }
    }

    /// Whether `key` lives, whatever its type.
    public func contains(_ key: UnsafeRawBufferPointer) throws -> Bool {
        if try withValue(key, { $0 != nil }) { return true }
        return try collectionType(of: key) != nil
    }

    /// Each live string entry whose key starts with `prefix`, in key order, after `after` when given.
    public func forEach(prefix: [UInt8], after: [UInt8]? = nil,
                        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> IterationControl) throws {
        try transaction.forEach(databases.keyspace, prefix: prefix, after: after) { key, value in
            try isExpired(key) ? .proceed : body(key, value)
        }
    }

    /// Each live string entry with `lower <= key < upper` (no bound when nil), in key order, after `after`.
    public func forEach(from lower: [UInt8], to upper: [UInt8]?, after: [UInt8]? = nil,
                        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> IterationControl) throws {
        try transaction.forEach(databases.keyspace, from: lower, to: upper, after: after) { key, value in
            try isExpired(key) ? .proceed : body(key, value)
        }
    }

    /// Keys stored whose deadline has passed (not yet deleted by the daemon): the first entries of the
    /// expiry index. Active expiry keeps this short.
    public func expiredCount() throws -> Int {
        guard hasDeadlines, let index = databases.expiryIndex else { return 0 }
        var n = 0
        try transaction.forEach(index, prefix: []) { key, _ in
            guard let deadline = Deadline.decode(key), Deadline.hasPassed(deadline, now: now) else { return .stop }
            n += 1
            return .proceed
        }
        return n
    }

    /// Live keys, of every type.
    public func count() throws -> Int {
        let collections = hasCollections ? try databases.types.map { try transaction.stat($0).entries } ?? 0 : 0
        return try transaction.stat(databases.keyspace).entries + collections - expiredCount()
    }

    /// Live keys with a deadline (INFO keyspace's `expires=`).
    public func countWithDeadlines() throws -> Int {
        guard hasDeadlines, let expires = databases.expires else { return 0 }
        return try transaction.stat(expires).entries - expiredCount()
    }
}
