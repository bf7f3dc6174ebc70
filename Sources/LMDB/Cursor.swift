import CLMDB

/// A position in a database, valid within its transaction. Buffers it hands out point into the map
/// and are valid only inside the closure that receives them.
public final class Cursor {
    private var cursor: OpaquePointer?
    private let transaction: Transaction
    private var key = MDB_val()
    private var value = MDB_val()

    init(transaction: Transaction, database: Database) throws(LMDBError) {
        self.transaction = transaction
        var c: OpaquePointer?
        try check(mdb_cursor_open(try transaction.handle(), database.handle, &c))
        cursor = c
    }

    deinit { close() }

    /// Closes the cursor. Safe to call more than once; must happen before a write transaction ends.
    public func close() {
        if let c = cursor, transaction.isActive { mdb_cursor_close(c) }
        cursor = nil
    }

    private func move(_ op: MDB_cursor_op) throws(LMDBError) -> Bool {
        guard let cursor else { throw .badTransaction }
        let rc = mdb_cursor_get(cursor, &key, &value, op)
        if rc == MDB_NOTFOUND { return false }
        try check(rc)
        return true
    }

    /// Moves to the first entry; `false` if the database is empty.
    public func first() throws(LMDBError) -> Bool { try move(MDB_FIRST) }

    /// Moves to the last entry; `false` if the database is empty.
    public func last() throws(LMDBError) -> Bool { try move(MDB_LAST) }

    /// Moves to the next entry; `false` past the end.
    public func next() throws(LMDBError) -> Bool { try move(MDB_NEXT) }

    /// Moves to the previous entry; `false` before the start.
    public func previous() throws(LMDBError) -> Bool { try move(MDB_PREV) }

    /// Moves to the first key not less than `target`; `false` if there is none.
    public func seek(atLeast target: [UInt8]) throws(LMDBError) -> Bool {
        let result = target.withUnsafeBytes { t in Result { () throws(LMDBError) in try seek(atLeast: t) } }
        return try result.get()
    }

    /// `seek(atLeast:)` for a key in a buffer (valid for the call only).
    public func seek(atLeast target: UnsafeRawBufferPointer) throws(LMDBError) -> Bool {
        guard let cursor else { throw .badTransaction }
        key = MDB_val(mv_size: target.count, mv_data: UnsafeMutableRawPointer(mutating: target.baseAddress))
        let rc = mdb_cursor_get(cursor, &key, &value, MDB_SET_RANGE)
        if rc == MDB_NOTFOUND { return false }
        try check(rc)
        return true
    }

    /// Calls `body` with the current key and value, in place in the map.
    public func withCurrent<R>(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: key.mv_data, count: key.mv_size),
                 UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size))
    }

    /// Whether the current key equals `other`.
    public func keyEquals(_ other: [UInt8]) throws(LMDBError) -> Bool {
        withCurrent { k, _ in k.elementsEqual(other) }
    }
}
