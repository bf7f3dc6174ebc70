import CLMDB

/// What a read-side closure returns to say whether an iteration goes on.
public enum IterationControl: Sendable {
    /// Go on to the next entry.
    case proceed
    /// End the iteration here.
    case stop
}

/// The read operations common to read and write transactions.
///
/// A transaction is used by one thread at a time. Buffers it hands out point into the map and are valid
/// only inside the closure that receives them.
public class Transaction {
    var txn: OpaquePointer?
    /// The environment this transaction belongs to (kept alive while the transaction lives).
    public let environment: Environment

    init(environment: Environment, flags: UInt32, parent: Transaction?) throws(LMDBError) {
        self.environment = environment
        var t: OpaquePointer?
        try check(mdb_txn_begin(environment.handle, parent?.txn, flags, &t))
        txn = t
    }

    /// Whether the transaction is still usable (not committed, aborted or reset).
    public var isActive: Bool { txn != nil }

    /// LMDB's id of this transaction (the snapshot a read transaction sees).
    public var id: Int { txn.map { mdb_txn_id($0) } ?? 0 }

    func handle() throws(LMDBError) -> OpaquePointer {
        guard let txn else { throw .badTransaction }
        return txn
    }

    /// Calls `body` with the value stored under `key`, in place in the map (zero copy), or `nil`.
    /// The buffer is valid only inside `body`.
    public func withValue<R>(_ db: Database, key: UnsafeRawBufferPointer,
                             _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val()
        let rc = mdb_get(try handle(), db.handle, &k, &v)
        if rc == MDB_NOTFOUND { return try body(nil) }
        try check(rc)
        return try body(UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size))
    }

    /// `withValue` for a key held in an array.
    public func withValue<R>(_ db: Database, key: [UInt8],
                             _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R {
        try key.withUnsafeBytes { k in try withValue(db, key: k, body) }
    }

    /// A copy of the value under `key`, or `nil` if there is none.
    public func get(_ db: Database, key: [UInt8]) throws -> [UInt8]? {
        try withValue(db, key: key) { $0.map { Array($0) } }
    }

    /// Whether `key` is present.
    public func contains(_ db: Database, key: [UInt8]) throws -> Bool {
        try withValue(db, key: key) { $0 != nil }
    }

    /// Statistics of a database as this transaction sees it.
    public func stat(_ db: Database) throws(LMDBError) -> Stat {
        var s = MDB_stat()
        try check(mdb_stat(try handle(), db.handle, &s))
        return Stat(s)
    }

    /// Opens a cursor on `db`; it closes when the value is released (or with `close()`), and must not
    /// outlive this transaction.
    public func cursor(_ db: Database) throws(LMDBError) -> Cursor {
        try Cursor(transaction: self, database: db)
    }

    /// Calls `body` for each entry whose key starts with `prefix`, in key order, starting after
    /// `after` when given. Buffers are valid only inside `body`.
    public func forEach(_ db: Database, prefix: [UInt8], after: [UInt8]? = nil,
                        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> IterationControl) throws {
        try walk(db, from: prefix, after: after, while: { $0.starts(with: prefix) }, body)
    }

    /// Calls `body` for each entry with `lower <= key < upper` (no upper bound when `upper` is nil),
    /// in key order, starting after `after` when given.
    public func forEach(_ db: Database, from lower: [UInt8], to upper: [UInt8]?, after: [UInt8]? = nil,
                        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> IterationControl) throws {
        try walk(db, from: lower, after: after, while: { key in upper.map { key.lexicographicallyPrecedes($0) } ?? true }, body)
    }

    /// Positions at the first key ≥ `lower` (and > `after`), then visits entries while `inBounds` holds
    /// and `body` says to proceed.
    private func walk(_ db: Database, from lower: [UInt8], after: [UInt8]?,
                      while inBounds: (UnsafeRawBufferPointer) -> Bool,
                      _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> IterationControl) throws {
        let cursor = try self.cursor(db)
        defer { cursor.close() }
        let start = (after.map { lower.lexicographicallyPrecedes($0) ? $0 : lower }) ?? lower
        var found = start.isEmpty ? try cursor.first() : try cursor.seek(atLeast: start)
        if found, let after, try cursor.keyEquals(after) { found = try cursor.next() }
        while found {
            let control = try cursor.withCurrent { key, value -> IterationControl? in
                guard inBounds(key) else { return nil }
                return try body(key, value)
            }
            guard control == .proceed else { return }
            found = try cursor.next()
        }
    }
}

/// A read-only snapshot. Reuse one across requests with `reset()` and `renew()`: that keeps its reader
/// slot and costs no allocation.
public final class ReadTransaction: Transaction {
    private var resetHandle: OpaquePointer?

    init(environment: Environment) throws(LMDBError) {
        try super.init(environment: environment, flags: UInt32(MDB_RDONLY), parent: nil)
    }

    deinit { abort() }

    /// Releases the snapshot but keeps the reader slot for `renew()`.
    public func reset() {
        guard let t = txn else { return }
        mdb_txn_reset(t)
        resetHandle = t
        txn = nil
    }

    /// Takes a fresh snapshot after `reset()`. Does nothing if the transaction is active.
    public func renew() throws(LMDBError) {
        guard txn == nil, let t = resetHandle else { return }
        try check(mdb_txn_renew(t))
        txn = t
        resetHandle = nil
    }

    /// Ends the transaction and frees its reader slot. Safe to call more than once.
    public func abort() {
        if let t = txn ?? resetHandle { mdb_txn_abort(t) }
        txn = nil
        resetHandle = nil
    }
}

/// The environment's single write transaction, or a nested child of it.
public final class WriteTransaction: Transaction {
    /// Conditions for `put`.
    public struct PutFlags: OptionSet, Sendable {
        /// The `MDB_*` put bits, passed to `mdb_put` as they are.
        public let rawValue: UInt32
        /// Flags from their bits.
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// Fail with `.keyExists` if the key is present (`MDB_NOOVERWRITE`).
        public static let noOverwrite = PutFlags(rawValue: UInt32(MDB_NOOVERWRITE))
        /// Append at the end of the database: keys must arrive in order (`MDB_APPEND`).
        public static let append = PutFlags(rawValue: UInt32(MDB_APPEND))
    }

    init(environment: Environment, parent: WriteTransaction?) throws(LMDBError) {
        try super.init(environment: environment, flags: 0, parent: parent)
    }

    deinit { abort() }

    /// Begins a new top-level write transaction in this object after the last one ended (committed or
    /// aborted), so that a writer committing batch after batch allocates no transaction object per batch.
    public func restart() throws(LMDBError) {
        precondition(txn == nil, "restart() of a write transaction that is still active")
        var t: OpaquePointer?
        try check(mdb_txn_begin(environment.handle, nil, 0, &t))
        txn = t
    }

    /// Begins a nested transaction: its changes join this one on `commit()` and vanish on `abort()`.
    /// This transaction must not be used until the child ends.
    public func child() throws(LMDBError) -> WriteTransaction {
        _ = try handle()
        return try WriteTransaction(environment: environment, parent: self)
    }

    /// Stores `value` under `key`. Keys are 1…`maxKeySize` bytes (`.badValueSize` otherwise).
    public func put(_ db: Database, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer,
                    flags: PutFlags = []) throws(LMDBError) {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
        try check(mdb_put(try handle(), db.handle, &k, &v, flags.rawValue))
    }

    /// `put` for keys and values held in arrays.
    public func put(_ db: Database, key: [UInt8], value: [UInt8], flags: PutFlags = []) throws {
        try key.withUnsafeBytes { k in
            try value.withUnsafeBytes { v in try put(db, key: k, value: v, flags: flags) }
        }
    }

    /// Removes `key`; returns whether it was there.
    @discardableResult
    public func delete(_ db: Database, key: UnsafeRawBufferPointer) throws(LMDBError) -> Bool {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        let rc = mdb_del(try handle(), db.handle, &k, nil)
        if rc == MDB_NOTFOUND { return false }
        try check(rc)
        return true
    }

    /// `delete` for a key held in an array.
    @discardableResult
    public func delete(_ db: Database, key: [UInt8]) throws -> Bool {
        try key.withUnsafeBytes { k in try delete(db, key: k) }
    }

    /// Removes every entry of `db` (the database itself stays).
    public func clear(_ db: Database) throws(LMDBError) {
        try check(mdb_drop(try handle(), db.handle, 0))
    }

    /// Commits. The transaction is over whether or not this throws.
    public func commit() throws(LMDBError) {
        let t = try handle()
        txn = nil
        try check(mdb_txn_commit(t))
    }

    /// Discards every change. Safe to call more than once.
    public func abort() {
        if let t = txn { mdb_txn_abort(t) }
        txn = nil
    }
}
