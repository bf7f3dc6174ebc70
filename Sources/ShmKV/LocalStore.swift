import LMDB
import Locks
import NotifyRing
import Posix
import StoreLayout
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// Direct, read-only access to a ShmKV data directory from any process on the host: no socket, no
/// daemon round trip, no copy unless you ask for one.
///
/// The environment is opened `MDB_RDONLY | MDB_NOTLS`, so reads come straight from the shared memory
/// map that `shmkvd` writes. Writes still go through `Client` (the daemon is the only writer). Reads
/// go on working while the daemon is stopped or restarting.
///
/// Thread-safe: any number of threads may read at once. Each read uses a read transaction from a small
/// pool (reset between uses, so it keeps its reader slot but pins no snapshot). Two LMDB conditions are
/// handled here: `MDB_MAP_RESIZED` (the daemon grew the map: wait for this process's reads to end,
/// adopt the new size, retry) and `MDB_READERS_FULL` (clear dead processes' slots, retry once).
public final class LocalStore: @unchecked Sendable {
    // Invariant: `environment` and `databases` are immutable after init; transactions move
    // between threads only through `state`, and one is used by one thread at a time (MDB_NOTLS).
    /// The data directory.
    public let directory: String
    /// The numbered database (Redis's SELECT) this store reads.
    public let database: Int
    let environment: Environment
    /// Every set of databases; `databases`: set 0's, with the shared ones (`__meta`).
    let catalog: StoreCatalog
    var databases: StoreDatabases { catalog.first }
    var keyspace: Database { databases.keyspace }
    var meta: Database { databases.meta }

    /// A reset transaction waiting in the pool.
    private struct Pooled: @unchecked Sendable {
        // Invariant: a pooled transaction is reset and owned by the pool; the environment is MDB_NOTLS,
        // so it may be renewed on whichever thread takes it next.
        let txn: ReadTransaction
    }

    private struct State {
        var idle: [Pooled] = []
        /// Transactions handed out and not yet returned.
        var active = 0
        /// A thread is adopting a new map size: no new transaction may start.
        var resizing = false
    }
    private let state = Locked(State())

    /// Opens the data directory of a running (or stopped) daemon, read-only.
    /// - Throws: `.notADataDirectory` if it holds no ShmKV store; `.storage` for LMDB's errors (a
    ///   missing directory is `.storage(.system(ENOENT))`).
    /// - Parameter database: the numbered database to read (SELECT's number; 0 by default).
    public init(directory: String, database: Int = 0) throws(ShmKVError) {
        self.directory = directory
        self.database = database
        do {
            environment = try Environment(path: directory, options: .init(flags: [.readOnly], maxDatabases: StoreLayout.maxDatabases))
        } catch {
            throw .storage(error)
        }
        do {
            catalog = try environment.openStoreCatalog(create: false)
        } catch {
            environment.close()
            if error == .notFound { throw .notADataDirectory("\(directory) has no kv database: start shmkvd on it first") }
            throw .storage(error)
        }
        guard database >= 0 && database < catalog.sets.count else {
            environment.close()
            throw .notADataDirectory("\(directory) has databases 0 to \(catalog.sets.count - 1), not \(database)")
        }
    }

    deinit {
        for pooled in state.withLock({ $0.idle }) { pooled.txn.abort() }
        environment.close()
    }

    // MARK: Reads

    /// Calls `body` with the value of `key` in place in the shared map (zero copy), or `nil` if absent
    /// or past its deadline. The buffer is valid only inside `body`; copy what you keep. Costs one
    /// pooled read transaction (renew, look-up, reset): no allocation, no system call; in a store where
    /// some key has a deadline, a second look-up and a clock reading.
    public func withValue<R>(_ key: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R {
        try withTransaction { txn in try reader(txn).withValue(key, body) }
    }

    /// `withValue` for a key in an array.
    public func withValue<R>(_ key: [UInt8], _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R {
        try key.withUnsafeBytes { k in try withValue(k, body) }
    }

    /// A copy of the value of `key`, or `nil`.
    public func get(_ key: [UInt8]) throws -> [UInt8]? {
        try withValue(key) { $0.map { Array($0) } }
    }

    /// `get` for a UTF-8 key.
    public func get(_ key: String) throws -> [UInt8]? { try get(Array(key.utf8)) }

    /// Whether `key` is present.
    public func contains(_ key: [UInt8]) throws -> Bool {
        try withValue(key) { $0 != nil }
    }

    /// How long `key` has left: `.missing`, `.persistent` or `.expires(deadline:remaining:)`.
    public func ttl(_ key: [UInt8]) throws -> TimeToLive {
        try read { try $0.ttl(key) }
    }

    /// Copies of the entries whose key starts with `prefix`, in key order, at most `limit` (0: all),
    /// from one snapshot.
    public func scan(prefix: [UInt8], limit: Int = 0) throws -> [KeyValue] {
        try read { try $0.scan(prefix: prefix, limit: limit) }
    }

    /// Copies of the entries with `lower <= key < upper` (`nil`: no upper bound), in key order.
    public func scan(from lower: [UInt8], to upper: [UInt8]?, limit: Int = 0) throws -> [KeyValue] {
        try read { try $0.scan(from: lower, to: upper, limit: limit) }
    }

    /// Runs `body` with one consistent snapshot: every read inside sees the store as of one commit.
    /// The snapshot (and every buffer it hands out) is valid only inside `body`. Keep it short: a
    /// snapshot held open keeps the daemon from reusing the pages it can see.
    public func read<R>(_ body: (Snapshot) throws -> R) throws -> R {
        try withTransaction { txn in try body(Snapshot(keys: try reader(txn))) }
    }

    /// `read` of numbered database `database` rather than this store's own (one process opens a data
    /// directory once, so this is how it reads several databases).
    /// - Throws: `.notADataDirectory` for a number the store does not have.
    public func read<R>(database: Int, _ body: (Snapshot) throws -> R) throws -> R {
        guard database >= 0 && database < catalog.sets.count else {
            throw ShmKVError.notADataDirectory("\(directory) has databases 0 to \(catalog.sets.count - 1), not \(database)")
        }
        return try withTransaction { txn in try body(Snapshot(keys: try reader(txn, database: database))) }
    }

    /// The keyspace as it lives now, on `txn`.
    func reader(_ txn: ReadTransaction, database: Int? = nil) throws -> KeyspaceReader {
        // After a SWAPDB the snapshot's `__meta` says which set holds the database.
        let set = catalog.databases(database ?? self.database, map: try catalog.map(in: txn)) ?? databases
        return try KeyspaceReader(txn, set, clock: WallClock.milliseconds)
    }

    /// One consistent view of the store, valid only inside `LocalStore.read`. Keys are judged live or
    /// past their deadline at one moment too: the time the snapshot was taken.
    public struct Snapshot {
        let keys: KeyspaceReader

        /// LMDB's id of the commit this snapshot sees (compare with `Change.transactionID`).
        public var transactionID: UInt64 { UInt64(keys.transaction.id) }

        /// The value of `key` in place (zero copy), valid only inside `body`.
        public func withValue<R>(_ key: [UInt8], _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R {
            try keys.withValue(key, body)
        }

        /// A copy of the value of `key` from this snapshot, or nil.
        public func get(_ key: [UInt8]) throws -> [UInt8]? { try withValue(key) { $0.map { Array($0) } } }

        /// Whether `key` exists in this snapshot (no copy).
        public func contains(_ key: [UInt8]) throws -> Bool { try key.withUnsafeBytes { try keys.contains($0) } }

        /// How long `key` has left, as of this snapshot.
        public func ttl(_ key: [UInt8]) throws -> TimeToLive {
            try key.withUnsafeBytes { k in
                guard try keys.contains(k) else { return .missing }
                guard let deadline = try keys.deadline(of: k) else { return .persistent }
                return .expires(deadline: deadline, remaining: max(0, deadline - keys.now))
            }
        }

        /// The deadline of `key` (Unix time in milliseconds), or nil when it has none.
        public func deadline(of key: UnsafeRawBufferPointer) throws -> Int64? { try keys.deadline(of: key) }

        /// Calls `body` with each entry whose key starts with `prefix`, in place, in key order, until it
        /// returns `.stop`. Buffers are valid only inside `body`.
        public func forEach(prefix: [UInt8],
                            _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> IterationControl) throws {
            try keys.forEach(prefix: prefix, body)
        }

        /// Calls `body` with each entry with `lower <= key < upper`, in place, in key order.
        public func forEach(from lower: [UInt8], to upper: [UInt8]?,
                            _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> IterationControl) throws {
            try keys.forEach(from: lower, to: upper, body)
        }

        /// Copies of the entries whose key starts with `prefix` (at most `limit`; 0: all).
        public func scan(prefix: [UInt8], limit: Int = 0) throws -> [KeyValue] {
            var out: [KeyValue] = []
            try forEach(prefix: prefix) { k, v in Snapshot.collect(k, v, into: &out, limit: limit) }
            return out
        }

        /// Copies of the entries with `lower <= key < upper` (at most `limit`; 0: all).
        public func scan(from lower: [UInt8], to upper: [UInt8]?, limit: Int = 0) throws -> [KeyValue] {
            var out: [KeyValue] = []
            try forEach(from: lower, to: upper) { k, v in Snapshot.collect(k, v, into: &out, limit: limit) }
            return out
        }

        private static func collect(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer,
                                    into out: inout [KeyValue], limit: Int) -> IterationControl {
            out.append(KeyValue(key: Array(key), value: Array(value)))
            return limit > 0 && out.count >= limit ? .stop : .proceed
        }

        /// Number of live keys in the store as this snapshot sees it.
        public func count() throws -> Int { try keys.count() }
    }

    // MARK: Statistics

    /// What a local reader can learn about the store without the daemon.
    public struct Statistics: Sendable, Equatable {
        /// Keys of database 0 (strings and collections) as of one snapshot, deleted or not yet expired included.
        public var keys: Int
        /// The map size in bytes (the file may be smaller; it grows as the daemon writes).
        public var mapSize: Int
        /// Bytes of the map in use (last page + 1, times the page size).
        public var mapUsedBytes: Int
        /// LMDB's id of the last committed write transaction.
        public var lastTransactionID: Int
        /// Reader slots in the lock file (set by the daemon).
        public var maxReaders: Int
        /// Reader slots taken, by any process (stale ones included until a reader check).
        public var readersUsed: Int
        /// The sequence of the last change committed (0 before the first).
        public var lastSequence: UInt64
        /// The ring the daemon last published to, and its epoch (nil before a daemon ran).
        public var ringPath: String?
        /// That ring's epoch.
        public var ringEpoch: UInt64?
    }

    /// Counts and sizes from one snapshot.
    public func statistics() throws -> Statistics {
        let info = try environment.info()
        return try withTransaction { txn in
            let kv = try txn.stat(keyspace)
            let collections = try databases.types.map { try txn.stat($0).entries } ?? 0
            let value = { (key: [UInt8]) throws -> [UInt8]? in try txn.get(self.meta, key: key) }
            return Statistics(
                keys: kv.entries + collections, mapSize: info.mapSize, mapUsedBytes: (info.lastPage + 1) * kv.pageSize,
                lastTransactionID: info.lastTransactionID, maxReaders: info.maxReaders, readersUsed: info.readersUsed,
                lastSequence: try value(StoreLayout.MetaKey.lastSequence).flatMap(MetaValue.decimal) ?? 0,
                ringPath: try value(StoreLayout.MetaKey.ringPath).map(MetaValue.text), ringEpoch: try value(StoreLayout.MetaKey.ringEpoch).flatMap(MetaValue.hex16))
        }
    }

    // MARK: Transactions

    /// Runs `body` with a renewed pooled read transaction and returns it to the pool afterwards.
    func withTransaction<R>(_ body: (ReadTransaction) throws -> R) throws -> R {
        let txn = try acquire()
        defer { release(txn) }
        return try body(txn)
    }

    private func acquire() throws(ShmKVError) -> ReadTransaction {
        var checkedReaders = false
        var adoptedSize = false
        while true {
            let pooled: ReadTransaction?? = state.withLock { s in
                if s.resizing { return .none }
                s.active += 1
                return .some(s.idle.popLast()?.txn)
            }
            guard let pooled else {
                sched_yield()
                continue
            }
            do throws(LMDBError) {
                if let txn = pooled {
                    try txn.renew()
                    return txn
                }
                return try environment.beginRead()
            } catch {
                state.withLock { $0.active -= 1 }
                if let txn = pooled { txn.abort() }
                switch error {
                case .mapResized where !adoptedSize:
                    adoptedSize = true
                    try adoptNewMapSize()
                case .readersFull where !checkedReaders:
                    checkedReaders = true
                    _ = try? environment.readerCheck()
                default:
                    throw .storage(error)
                }
            }
        }
    }

    private func release(_ txn: ReadTransaction) {
        txn.reset()
        state.withLock { s in
            s.active -= 1
            s.idle.append(Pooled(txn: txn))
        }
    }

    /// `MDB_MAP_RESIZED`: another process grew the map. Stop new reads, wait for this process's reads
    /// to end, then map the new size (`mdb_env_set_mapsize(0)`). Pooled transactions are reset, so they
    /// hold no pointers into the old map and stay usable.
    private func adoptNewMapSize() throws(ShmKVError) {
        let first = state.withLock { s in
            if s.resizing { return false }
            s.resizing = true
            return true
        }
        guard first else {
            // Another thread is doing it; wait for it to finish.
            while state.withLock({ $0.resizing }) { sched_yield() }
            return
        }
        defer { state.withLock { $0.resizing = false } }
        while state.withLock({ $0.active }) > 0 { sched_yield() }
        do { try environment.setMapSize(0) } catch { throw .storage(error) }
    }
}
