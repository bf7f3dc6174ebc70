import CLMDB
import Locks

#if canImport(Glibc)
import Glibc
#endif

/// An LMDB environment: one memory map over `data.mdb` in a directory, shared by every process that opens it.
///
/// Thread safety: LMDB allows any thread to begin transactions on one environment; with `.noTLS` (always
/// set here) a read transaction may move between threads as long as one thread uses it at a time. The
/// class holds no mutable Swift state besides the closed flag, which a mutex guards.
///
/// One environment per path per process: LMDB's locks are per process, so a second `mdb_env_open` of
/// the same path in one process would corrupt its lock state. A registry refuses the second open.
public final class Environment: @unchecked Sendable {
    /// Open flags (`MDB_*` environment flags).
    public struct Flags: OptionSet, Sendable {
        /// The `MDB_*` bits, passed to `mdb_env_open` as they are.
        public let rawValue: UInt32
        /// Flags from their bits.
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// `MDB_RDONLY`: no write transactions; the files may be read-only to this user (the lock file must
        /// still be writable).
        public static let readOnly = Flags(rawValue: UInt32(MDB_RDONLY))
        /// `MDB_NOTLS`: reader slots belong to transactions, not threads, so a read transaction may move
        /// between threads. Always set by this module.
        public static let noTLS = Flags(rawValue: UInt32(MDB_NOTLS))
        /// `MDB_NOSYNC`: commits are not synced; a system crash may lose them or, with a file system that
        /// reorders writes, damage the database. A process crash loses nothing.
        public static let noSync = Flags(rawValue: UInt32(MDB_NOSYNC))
        /// `MDB_NOMETASYNC`: commits sync the data pages but not the meta page; a system crash may undo the
        /// last commit, never damage the database.
        public static let noMetaSync = Flags(rawValue: UInt32(MDB_NOMETASYNC))
        /// `MDB_WRITEMAP`: write transactions change the map's pages in place (no `pwrite` at commit).
        /// LMDB then extends the data file (sparsely) to the map size, so a page written where the file
        /// system has no block for it faults with SIGBUS: the writer must reserve blocks ahead of the
        /// pages it may touch (`reserve(bytes:)`). Nested transactions are not allowed.
        public static let writeMap = Flags(rawValue: UInt32(MDB_WRITEMAP))
        /// `MDB_NORDAHEAD`: no read-ahead on the map, better for random reads of a database larger than
        /// memory.
        public static let noReadAhead = Flags(rawValue: UInt32(MDB_NORDAHEAD))
        /// `MDB_NOSUBDIR`: the path names the data file itself (its lock file is `PATH-lock`), not a
        /// directory.
        public static let noSubdirectory = Flags(rawValue: UInt32(MDB_NOSUBDIR))
    }

    /// How to open an environment. `nil` sizes leave LMDB's (or the existing file's) value.
    public struct Options: Sendable {
        /// The open flags; `.noTLS` is added whatever is given.
        public var flags: Flags
        /// Map size in bytes; large is free on 64-bit without `MDB_WRITEMAP`.
        public var mapSize: Int?
        /// Reader slots; only the first process to open the environment sizes the lock file.
        public var maxReaders: UInt32?
        /// Named databases this process may open.
        public var maxDatabases: UInt32?
        /// Mode of files LMDB creates.
        public var fileMode: mode_t

        /// Options with LMDB's defaults except the file mode (0600).
        public init(flags: Flags = [], mapSize: Int? = nil, maxReaders: UInt32? = nil,
                    maxDatabases: UInt32? = nil, fileMode: mode_t = 0o600) {
            self.flags = flags
            self.mapSize = mapSize
            self.maxReaders = maxReaders
            self.maxDatabases = maxDatabases
            self.fileMode = fileMode
        }
    }

    private static let openPaths = Locked<Set<String>>([])

    let handle: OpaquePointer
    /// The directory (or file, with `.noSubdirectory`) as given.
    public let path: String
    private let registryKey: String
    /// The flags the environment was opened with (`.noTLS` is always added).
    public let flags: Flags
    private let closed = Locked(false)

    /// Opens (creating `data.mdb` and `lock.mdb` if needed) the environment at `path`.
    /// - Throws: `.refused` if this process already has it open; LMDB's error otherwise
    ///   (`.system(ENOENT)` for a missing directory, `.invalid` for a file that is not LMDB).
    public init(path: String, options: Options = Options()) throws(LMDBError) {
        let key = Environment.canonicalPath(path)
        let inserted = Environment.openPaths.withLock { $0.insert(key).inserted }
        guard inserted else {
            throw .refused("environment \(path) is already open in this process")
        }
        var env: OpaquePointer?
        do throws(LMDBError) {
            try check(mdb_env_create(&env))
            guard let env else { throw LMDBError.system(ENOMEM) }
            do throws(LMDBError) {
                if let mapSize = options.mapSize { try check(mdb_env_set_mapsize(env, mapSize)) }
                if let readers = options.maxReaders { try check(mdb_env_set_maxreaders(env, readers)) }
                if let dbs = options.maxDatabases { try check(mdb_env_set_maxdbs(env, dbs)) }
                let flags = options.flags.union(.noTLS)
                try check(mdb_env_open(env, path, flags.rawValue, options.fileMode))
                self.flags = flags
            } catch {
                mdb_env_close(env)
                throw error
            }
            self.handle = env
            self.path = path
            self.registryKey = key
        } catch {
            _ = Environment.openPaths.withLock { $0.remove(key) }
            throw error
        }
    }

    deinit { close() }

    /// Closes the environment. All transactions must have ended. Safe to call more than once.
    public func close() {
        let wasOpen = closed.withLock { closed in
            defer { closed = true }
            return !closed
        }
        guard wasOpen else { return }
        mdb_env_close(handle)
        _ = Environment.openPaths.withLock { $0.remove(registryKey) }
    }

    /// The largest key LMDB accepts in this build (511 for Debian's 0.9.24).
    public var maxKeySize: Int { Int(mdb_env_get_maxkeysize(handle)) }

    /// Statistics of the main (unnamed) database.
    public func stat() throws(LMDBError) -> Stat {
        var s = MDB_stat()
        try check(mdb_env_stat(handle, &s))
        return Stat(s)
    }

    /// Writes a consistent copy of the whole environment's data file to `descriptor` (a file, or a pipe
    /// whose reader stores it), from one read snapshot while writers go on (`mdb_env_copyfd2`).
    /// `compact` omits free pages and renumbers the rest (smaller, slower, more CPU). Blocks until done;
    /// uses one reader slot for the duration.
    public func copy(to descriptor: Int32, compact: Bool) throws(LMDBError) {
        try check(mdb_env_copyfd2(handle, descriptor, compact ? UInt32(MDB_CP_COMPACT) : 0))
    }

    /// Bytes of the map in use: every page up to the last one written, `(lastPage + 1) * pageSize`.
    public func usedBytes() throws(LMDBError) -> Int {
        (try info().lastPage + 1) * (try stat().pageSize)
    }

    /// Map size, last page, last transaction id and reader figures.
    public func info() throws(LMDBError) -> EnvironmentInfo {
        var i = MDB_envinfo()
        try check(mdb_env_info(handle, &i))
        return EnvironmentInfo(
            mapSize: i.me_mapsize, lastPage: i.me_last_pgno, lastTransactionID: i.me_last_txnid,
            maxReaders: Int(i.me_maxreaders), readersUsed: Int(i.me_numreaders))
    }

    /// Allocates the data file's blocks for its first `bytes` bytes (`posix_fallocate`: the file system's
    /// `fallocate`, or glibc writing each block where there is none), so that pages there can be
    /// written through the map without a fault. Throws the error: `ENOSPC` when the file system is full.
    public func reserve(bytes: Int) throws(LMDBError) {
        var fd: mdb_filehandle_t = -1
        try check(mdb_env_get_fd(handle, &fd))
        var rc: Int32
        repeat { rc = posix_fallocate(fd, 0, off_t(bytes)) } while rc == EINTR
        if rc != 0 { throw .system(rc) }
    }

    /// Clears reader slots left by dead processes (`mdb_reader_check`); returns how many it cleared.
    @discardableResult
    public func readerCheck() throws(LMDBError) -> Int {
        var dead: Int32 = 0
        try check(mdb_reader_check(handle, &dead))
        return Int(dead)
    }

    /// Flushes the map to disk (`mdb_env_sync`); `force` syncs even with `.noSync`/`.noMetaSync`.
    public func sync(force: Bool = true) throws(LMDBError) {
        try check(mdb_env_sync(handle, force ? 1 : 0))
    }

    /// Sets the map size. Only when no transaction of this process is active; `0` adopts the size
    /// another process set (the answer to `.mapResized`).
    public func setMapSize(_ bytes: Int) throws(LMDBError) {
        try check(mdb_env_set_mapsize(handle, bytes))
    }

    /// Opens a database by name (`nil`: the unnamed main database). With `create`, a write
    /// transaction creates it if missing; otherwise a missing database throws `.notFound`.
    public func openDatabase(named name: String?, create: Bool = false) throws(LMDBError) -> Database {
        var dbi: MDB_dbi = 0
        var txn: OpaquePointer?
        let readOnly = !create
        try check(mdb_txn_begin(handle, nil, readOnly ? UInt32(MDB_RDONLY) : 0, &txn))
        let rc: Int32
        if let name {
            rc = mdb_dbi_open(txn, name, create ? UInt32(MDB_CREATE) : 0, &dbi)
        } else {
            rc = mdb_dbi_open(txn, nil, 0, &dbi)
        }
        if rc != 0 {
            mdb_txn_abort(txn)
            throw LMDBError(code: rc)
        }
        try check(mdb_txn_commit(txn))
        return Database(handle: dbi, name: name)
    }

    /// Statistics of one database.
    public func stat(_ db: Database) throws(LMDBError) -> Stat {
        let txn = try beginRead()
        defer { txn.abort() }
        return try txn.stat(db)
    }

    /// Begins a read-only transaction. Keep it short, or `reset()`/`renew()` it to reuse the slot.
    public func beginRead() throws(LMDBError) -> ReadTransaction {
        try ReadTransaction(environment: self)
    }

    /// Begins the (one) write transaction; blocks while another process or thread holds it.
    public func beginWrite() throws(LMDBError) -> WriteTransaction {
        try WriteTransaction(environment: self, parent: nil)
    }

    /// Runs `body` in a read transaction that ends when it returns.
    public func read<R>(_ body: (ReadTransaction) throws -> R) throws -> R {
        let txn = try beginRead()
        defer { txn.abort() }
        return try body(txn)
    }

    /// Runs `body` in a write transaction, committed if `body` returns, aborted if it throws.
    public func write<R>(_ body: (WriteTransaction) throws -> R) throws -> R {
        let txn = try beginWrite()
        do {
            let result = try body(txn)
            try txn.commit()
            return result
        } catch {
            txn.abort()
            throw error
        }
    }

    private static func canonicalPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
