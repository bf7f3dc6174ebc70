import LMDB
#if canImport(Glibc)
import Glibc
#endif

/// The on-disk vocabulary the daemon (the only writer) and every reader (`LocalStore`, `shmkv get
/// --local`, py-lmdb, `mdb_dump`) share. Nothing else spells a database name, a meta key or a key limit.
///
/// An environment holds named databases (docs/STORAGE.md has every byte): `kv` with the user's string
/// keys, values as plain bytes; `__types` and `__elements` with collections; the expiry databases; and
/// `__meta` with the store's own records, UTF-8 text so that `mdb_dump -p` and py-lmdb show them
/// plainly. The unnamed main database is only LMDB's catalogue of names.
public enum StoreLayout {
    /// The database of user keys (py-lmdb: `env.open_db(b"kv")`).
    public static let keyspaceDatabase = "kv"
    /// The database of the store's own records (`MetaKey`).
    public static let metaDatabase = "__meta"
    /// key → deadline, for keys that expire (`Deadline` encodes it). A key in `kv` whose deadline has
    /// passed is gone, though it may still be stored until the daemon deletes it: py-lmdb and
    /// `mdb_dump` readers must look here (docs/ARCHITECTURE.md, "Expiry").
    public static let expiresDatabase = "__expires"
    /// deadline ‖ key → empty: the keys with a deadline in the order they fall due.
    public static let expiryIndexDatabase = "__expiry_index"
    /// key → a collection's record (`CollectionHeader`, then its elements when packed): every key that
    /// is not a string. A key lives in exactly one of `kv` and `__types`.
    public static let typesDatabase = "__types"
    /// The elements of large collections, a record each, under the collection's id (`ElementKey`).
    public static let elementsDatabase = "__elements"
    /// id (8 bytes big-endian) → empty: large collections deleted or overwritten whose elements the
    /// daemon has yet to remove, a bounded number at a time.
    public static let reclaimDatabase = "__reclaim"
    /// LMDB's data file in a data directory (what a backup holds).
    public static let dataFileName = "data.mdb"
    /// LMDB's lock file (reader table) beside it; rebuilt by the first process that opens the store.
    public static let lockFileName = "lock.mdb"
    /// The daemon's pid file, `flock`ed while it runs (and while `shmkv restore` writes).
    public static let pidFileName = "shmkvd.pid"
    /// The most numbered databases (Redis's SELECT 0…n-1) a store may have: `databases` in
    /// configuration is at most this.
    public static let maxDatabaseCount = 64
    /// The most primaries a replica follows at once (a Redis Cluster's shards), each with a link.
    public static let maxReplicationLinks = 64
    /// Named databases an environment is opened with room for (LMDB's `maxdbs`): four per numbered
    /// database, four per staging set of a full sync (link 0 may stage every numbered database, a
    /// cluster's links database 0 only), and the shared ones.
    public static let maxDatabases = UInt32(4 * (2 * maxDatabaseCount + maxReplicationLinks) + 8)

    /// The name of a database of the set a replication link stages a full sync's database `database`
    /// in (`kv@sync0.3`): the primary's RDB goes there while readers keep the old dataset, and moves
    /// into the numbered database in one transaction once complete.
    public static func stagingName(_ base: String, link: Int, database: Int) -> String { "\(base)@sync\(link).\(database)" }

    /// The name of a per-database LMDB database (`kv`, `__types`, `__expires`, `__expiry_index`) for the
    /// set of databases `set`: set 0 has the plain names (what a store without numbered databases always
    /// had), set n the name followed by `@n` (`kv@3`). Which numbered database a set holds is
    /// `MetaKey.databaseMap`'s (SWAPDB swaps two entries).
    public static func name(_ base: String, set: Int) -> String { set == 0 ? base : "\(base)@\(set)" }
    /// The on-disk format this build reads and writes (`MetaKey.formatVersion`); version 2 added
    /// collections (`__types`, `__elements`, `__reclaim`). A daemon opening a version 1 store upgrades
    /// it (creating the new databases); a reader that finds no `__types` sees only strings.
    public static let formatVersion = "2"
    /// Format versions this build opens.
    public static let readableFormatVersions: Set<String> = ["1", "2"]
    /// The longest key LMDB accepts in Debian's build (`mdb_env_get_maxkeysize`, 511 for 0.9.24);
    /// both protocols refuse longer keys, and the daemon checks at start that LMDB agrees.
    public static let maxKeySize = 511

    /// Keys of `__meta`; each value is UTF-8 text (`MetaValue` encodes and decodes them).
    public enum MetaKey {
        /// `formatVersion`, written when the environment is created.
        public static let formatVersion = Array("format_version".utf8)
        /// A random id (16 hex digits) made when the environment was created.
        public static let environmentID = Array("environment_id".utf8)
        /// The inode number of the data file the environment id was made for (decimal). A data file
        /// whose inode differs is a copy (a restored backup, `cp -r`): the daemon gives it a new
        /// environment id, so that it gets a ring of its own.
        public static let dataFile = Array("data_file".utf8)
        /// Path of the notification ring the running (or last) daemon publishes to.
        public static let ringPath = Array("ring_path".utf8)
        /// That ring's epoch, 16 hex digits.
        public static let ringEpoch = Array("ring_epoch".utf8)
        /// The sequence number of the last change committed, decimal; written in the same transaction
        /// as the change, so numbering continues across restarts and a change committed but never
        /// published shows up as a gap.
        public static let lastSequence = Array("last_sequence".utf8)
        /// How many numbered databases the store has (decimal; absent: 1, a store made before them).
        public static let databaseCount = Array("databases".utf8)
        /// Which set of LMDB databases holds each numbered database, once SWAPDB has run: the set numbers
        /// in database order, separated by spaces ("1 0 2 3": database 0 is in `kv@1`). Absent: database n
        /// is in set n.
        public static let databaseMap = Array("database_map".utf8)
        /// The id the next large collection gets (decimal); ids are never reused.
        public static let nextCollectionID = Array("next_collection_id".utf8)
        /// Where replication link `link` is in its primary's stream, committed with the data it
        /// describes: "REPLID OFFSET DB HOST:PORT" (the primary's replication id, the offset of the last
        /// byte applied, the database its stream had selected there, and the primary's address).
        public static func replication(link: Int) -> [UInt8] { Array("replication:\(link)".utf8) }
        /// A function library's source code is kept under this prefix and the library's name (`__meta`
        /// of database set 0), loaded again when the daemon starts.
        public static let libraryPrefix = Array("function:".utf8)
    }

    /// The inode number of the data file in `directory` (the value of `MetaKey.dataFile`), "" if none.
    /// Not the device: some file systems (btrfs subvolumes, device-mapper) number devices anew at each
    /// mount, which would make every reboot look like a copy; a copy on the same file system always
    /// gets a new inode, and `shmkv restore` gives a restored store a new identity itself.
    public static func dataFileIdentity(directory: String) -> String {
        var st = stat()
        guard stat(directory + "/" + dataFileName, &st) == 0 else { return "" }
        return "\(st.st_ino)"
    }

    /// Why `check(key:)` refuses a key.
    public enum KeyProblem: Equatable, Sendable {
        /// Zero bytes long.
        case empty
        /// Longer than `maxKeySize` (the length is carried for the message).
        case tooLong(Int)
    }

    /// Whether LMDB can hold `key` as a user key: 1 to `maxKeySize` bytes. Costs two comparisons.
    @inline(__always)
    public static func check(key: UnsafeRawBufferPointer) -> KeyProblem? {
        if key.isEmpty { return .empty }
        if key.count > maxKeySize { return .tooLong(key.count) }
        return nil
    }
}

/// Encodings of `__meta`'s values (text, so that every reader sees them plainly).
public enum MetaValue {
    /// A decimal number (`last_sequence`).
    public static func decimal(_ value: UInt64) -> [UInt8] { Array(String(value).utf8) }

    /// Calls `body` with `value`'s decimal digits (after a minus sign when `negative`) in a buffer on the
    /// stack (for a `UInt64`, the same bytes as `decimal(_:)`), without an allocation; valid only inside it.
    public static func withDecimal<R>(_ value: UInt64, negative: Bool = false,
                                      _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 21) { buffer in
            var n = value, start = 21
            repeat {
                start -= 1
                buffer[start] = UInt8(ascii: "0") + UInt8(n % 10)
                n /= 10
            } while n > 0
            if negative {
                start -= 1
                buffer[start] = UInt8(ascii: "-")
            }
            return try body(UnsafeRawBufferPointer(UnsafeMutableBufferPointer(rebasing: buffer[start..<21])))
        }
    }

    /// `withDecimal` for a signed value (INCR's result).
    public static func withDecimal<R>(_ value: Int64, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withDecimal(value.magnitude, negative: value < 0, body)
    }

    /// A decimal value back, or nil if it is not one.
    public static func decimal(_ bytes: [UInt8]) -> UInt64? { UInt64(String(decoding: bytes, as: UTF8.self)) }

    /// `value` as exactly 16 lower-case hex digits (environment id, ring epoch).
    public static func hex16(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// A 16-hex-digit value back, or nil.
    public static func hex16(_ bytes: [UInt8]) -> UInt64? { UInt64(String(decoding: bytes, as: UTF8.self), radix: 16) }

    /// Text values (format version, ring path, environment id).
    public static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
}

/// The LMDB databases of one numbered database (one set of names: `StoreLayout.name(_:set:)`), with the
/// store's shared ones, opened once per process.
public struct StoreDatabases: Sendable {
    /// User keys and their values (`kv`).
    public let keyspace: Database
    /// The store's own records (`__meta`).
    public let meta: Database
    /// key → deadline (`__expires`); nil only for a reader of a store that no daemon of this version
    /// has opened yet, where no key can have a deadline.
    public let expires: Database?
    /// deadline ‖ key → empty (`__expiry_index`), so the writer finds due keys in order; nil as `expires`.
    public let expiryIndex: Database?
    /// Collections' records (`__types`); nil only for a reader of a store no daemon of this version has
    /// opened yet, which holds strings only.
    public let types: Database?
    /// Large collections' elements (`__elements`); nil as `types`.
    public let elements: Database?
    /// Ids of large collections awaiting reclaim (`__reclaim`); nil as `types`.
    public let reclaim: Database?
}

/// Every set of databases of a store (`sets[n]`: the set named `@n`), and which holds each numbered
/// database.
public struct StoreCatalog: Sendable {
    public let sets: [StoreDatabases]

    public init(sets: [StoreDatabases]) { self.sets = sets }

    /// The store's shared databases with set 0's: what a store without numbered databases is.
    public var first: StoreDatabases { sets[0] }

    /// The set holding numbered database `database` under `map` (nil: the identity), or nil for a number
    /// the store does not have.
    public func databases(_ database: Int, map: [Int]?) -> StoreDatabases? {
        let set = map.map { database < $0.count ? $0[database] : -1 } ?? database
        return set >= 0 && set < sets.count ? sets[set] : nil
    }

    /// `MetaKey.databaseMap` read from a transaction (nil: none stored, the identity).
    public func map(in transaction: Transaction) throws -> [Int]? {
        guard let text = try transaction.get(sets[0].meta, key: StoreLayout.MetaKey.databaseMap).map(MetaValue.text) else { return nil }
        let sets = text.split(separator: " ").compactMap { Int($0) }
        return sets.count == self.sets.count ? sets : nil
    }
}

extension Environment {
    /// Opens the databases of a ShmKV store; `create` only for the daemon (the writer), which also
    /// creates the expiry and collection databases in a store made by an earlier version.
    /// - Throws: `LMDBError.notFound` when the environment holds no ShmKV store.
    public func openStoreDatabases(create: Bool) throws(LMDBError) -> StoreDatabases {
        try openStoreDatabases(set: 0, create: create)
    }

    /// The databases of set `set` (the shared ones are the same for every set).
    public func openStoreDatabases(set: Int, create: Bool) throws(LMDBError) -> StoreDatabases {
        let keyspace = try openDatabase(named: StoreLayout.name(StoreLayout.keyspaceDatabase, set: set), create: create)
        let meta = try openDatabase(named: StoreLayout.metaDatabase, create: create)
        func optional(_ name: String) throws(LMDBError) -> Database? {
            do { return try openDatabase(named: name, create: create) } catch .notFound { return nil }
        }
        return StoreDatabases(keyspace: keyspace, meta: meta, expires: try optional(StoreLayout.name(StoreLayout.expiresDatabase, set: set)),
                              expiryIndex: try optional(StoreLayout.name(StoreLayout.expiryIndexDatabase, set: set)),
                              types: try optional(StoreLayout.name(StoreLayout.typesDatabase, set: set)),
                              elements: try optional(StoreLayout.elementsDatabase), reclaim: try optional(StoreLayout.reclaimDatabase))
    }

    /// The staging set of replication link `link` for numbered database `database` (created by the
    /// daemon; see `StoreLayout.stagingName`).
    public func openStagingDatabases(link: Int, database: Int) throws(LMDBError) -> StoreDatabases {
        let shared = try openStoreDatabases(set: 0, create: false)
        func open(_ base: String) throws(LMDBError) -> Database {
            try openDatabase(named: StoreLayout.stagingName(base, link: link, database: database), create: true)
        }
        return StoreDatabases(keyspace: try open(StoreLayout.keyspaceDatabase), meta: shared.meta, expires: try open(StoreLayout.expiresDatabase),
                              expiryIndex: try open(StoreLayout.expiryIndexDatabase), types: try open(StoreLayout.typesDatabase),
                              elements: shared.elements, reclaim: shared.reclaim)
    }

    /// Every set of a store: `count` of them for the daemon (creating those missing), or — for a reader,
    /// `count` nil — as many as the store records (`MetaKey.databaseCount`).
    public func openStoreCatalog(create: Bool, count: Int? = nil) throws(LMDBError) -> StoreCatalog {
        let first = try openStoreDatabases(set: 0, create: create)
        var total = count ?? 1
        if count == nil {
            let recorded = Result { () throws -> Int? in
                try read { txn in try txn.get(first.meta, key: StoreLayout.MetaKey.databaseCount).flatMap(MetaValue.decimal).map(Int.init) }
            }
            if case .success(let n?) = recorded { total = min(max(n, 1), StoreLayout.maxDatabaseCount) }
        }
        var sets = [first]
        for set in 1..<max(total, 1) { sets.append(try openStoreDatabases(set: set, create: create)) }
        return StoreCatalog(sets: sets)
    }
}
