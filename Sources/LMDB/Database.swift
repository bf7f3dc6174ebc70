import CLMDB

/// A handle to a database inside an `Environment` (a `MDB_dbi`). Valid for the environment's life.
public struct Database: Sendable, Hashable {
    /// LMDB's handle number.
    public let handle: MDB_dbi
    /// The name it was opened by; `nil` for the unnamed main database.
    public let name: String?
}

/// Statistics of a database or of the environment's main database (`mdb_stat`).
public struct Stat: Sendable, Equatable {
    /// Bytes per page (4096 on this platform).
    public var pageSize: Int
    /// Height of the B-tree.
    public var depth: Int
    /// Internal (non-leaf) pages.
    public var branchPages: Int
    /// Leaf pages.
    public var leafPages: Int
    /// Overflow pages: values too large for a leaf page live in runs of these.
    public var overflowPages: Int
    /// Key/value pairs stored.
    public var entries: Int

    init(_ s: MDB_stat) {
        pageSize = Int(s.ms_psize)
        depth = Int(s.ms_depth)
        branchPages = Int(s.ms_branch_pages)
        leafPages = Int(s.ms_leaf_pages)
        overflowPages = Int(s.ms_overflow_pages)
        entries = Int(s.ms_entries)
    }
}

/// Environment information (`mdb_env_info`).
public struct EnvironmentInfo: Sendable, Equatable {
    /// Size of the memory map in bytes.
    public var mapSize: Int
    /// Number of the last page used; `(lastPage + 1) * pageSize` bytes of the map are in use.
    public var lastPage: Int
    /// The last committed transaction id.
    public var lastTransactionID: Int
    /// Reader slots in the lock file (fixed by the first process that opened it).
    public var maxReaders: Int
    /// Reader slots ever used (not all of them live).
    public var readersUsed: Int
}
