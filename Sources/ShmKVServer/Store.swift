import LMDB
#if canImport(Glibc)
import Glibc
#endif

/// The daemon's LMDB environment and its two named databases.
///
/// `kv` holds user keys; `__meta` holds the format version, the environment id, the ring's path and
/// epoch, and the last change sequence. The unnamed main database is only LMDB's catalogue of names.
public final class Store: Sendable {
    /// Name of the database with user keys (py-lmdb: `env.open_db(b"kv")`).
    public static let keyspaceName = "kv"
    /// Name of the database with the store's own records.
    public static let metaName = "__meta"
    /// The on-disk format this build writes.
    public static let formatVersion = "1"

    public let environment: Environment
    public let keyspace: Database
    public let meta: Database
    /// Random id of this environment, made when it was created.
    public let environmentID: String

    /// Opens (or creates) the environment in `directory` as the writer.
    /// - Parameter group: with a shared group, `lock.mdb` is 0660 and `data.mdb` 0640 of that group
    ///   (LMDB readers write the lock file); without, both are 0600.
    public init(directory: String, configuration: ServerConfiguration, group: gid_t? = nil) throws {
        var flags: Environment.Flags = [.noReadAhead]
        switch configuration.durability {
        case .durable: break
        case .fast: flags.insert(.noMetaSync)
        case .volatile: flags.insert(.noSync)
        }
        environment = try Environment(path: directory, options: .init(
            flags: flags, mapSize: configuration.mapSize, maxReaders: UInt32(configuration.maxReaders),
            maxDatabases: 8, fileMode: group == nil ? 0o600 : 0o660))
        do {
            keyspace = try environment.openDatabase(named: Store.keyspaceName, create: true)
            meta = try environment.openDatabase(named: Store.metaName, create: true)
            environmentID = try Store.initialiseMeta(environment, meta)
            if let group {
                for (file, mode) in [("data.mdb", mode_t(0o640)), ("lock.mdb", mode_t(0o660))] {
                    let path = directory + "/" + file
                    guard chown(path, uid_t.max, group) == 0, chmod(path, mode) == 0 else {
                        throw ServerError.system("chown/chmod \(path)", errno)
                    }
                }
            }
        } catch {
            environment.close()
            throw error
        }
    }

    private static func initialiseMeta(_ env: Environment, _ meta: Database) throws -> String {
        try env.write { txn in
            if let version = try txn.get(meta, key: Array("format_version".utf8)) {
                guard String(decoding: version, as: UTF8.self) == formatVersion else {
                    throw LMDBError.refused("data format version \(String(decoding: version, as: UTF8.self)) is not \(formatVersion)")
                }
            } else {
                try txn.put(meta, key: Array("format_version".utf8), value: Array(formatVersion.utf8))
            }
            if let id = try txn.get(meta, key: Array("environment_id".utf8)) {
                return String(decoding: id, as: UTF8.self)
            }
            let id = hex16(UInt64.random(in: 0...UInt64.max))
            try txn.put(meta, key: Array("environment_id".utf8), value: Array(id.utf8))
            return id
        }
    }

    /// Keys of `__meta` (values are UTF-8 text, so py-lmdb and `mdb_dump -p` show them plainly).
    public enum MetaKey {
        public static let formatVersion = Array("format_version".utf8)
        public static let environmentID = Array("environment_id".utf8)
        /// Path of the notification ring the running (or last) daemon publishes to.
        public static let ringPath = Array("ring_path".utf8)
        /// That ring's epoch, 16 hex digits.
        public static let ringEpoch = Array("ring_epoch".utf8)
        /// The sequence number of the last change committed, decimal; written in the same transaction
        /// as the change, so numbering continues across restarts and a change committed but never
        /// published shows up as a gap.
        public static let lastSequence = Array("last_sequence".utf8)
    }

    /// The last change sequence committed (0 before the first change).
    public func lastSequence() throws -> UInt64 {
        try environment.read { txn in
            try txn.get(meta, key: MetaKey.lastSequence).flatMap { UInt64(String(decoding: $0, as: UTF8.self)) } ?? 0
        }
    }

    /// Records where this daemon's ring is and its epoch, so a `LocalStore` finds it from the directory.
    public func recordRing(path: String, epoch: UInt64) throws {
        try environment.write { txn in
            try txn.put(meta, key: MetaKey.ringPath, value: Array(path.utf8))
            try txn.put(meta, key: MetaKey.ringEpoch, value: Array(hex16(epoch).utf8))
        }
    }

    public func close() { environment.close() }
}

/// `value` as exactly 16 lower-case hex digits.
public func hex16(_ value: UInt64) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
}
