import LMDB
import Logging
import Posix
import StoreLayout
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The daemon's LMDB environment, opened as the writer, and its two named databases (their names,
/// the meta keys and encodings are `StoreLayout`'s).
final class Store: Sendable {

    let environment: Environment
    /// Every set of databases of the store (one per numbered database), all open in the daemon.
    let catalog: StoreCatalog
    /// Database 0's set (as SWAPDB left it: `map`), with the shared ones.
    var databases: StoreDatabases { catalog.first }
    /// The numbered databases clients may SELECT (`databases` in configuration).
    let databaseCount: Int
    /// Whether SWAPDB has ever run on this store (then readers resolve a database's set from the
    /// snapshot's `__meta`); set before the first swap commits, never cleared.
    let swapped: Atomic<Bool>
    var keyspace: Database { databases.keyspace }
    var meta: Database { databases.meta }
    /// Random id of this environment, made when it was created (and made anew when the data file turns
    /// out to be a copy: `MetaKey.dataFile`).
    let environmentID: String
    /// The data directory as an absolute path with no symbolic links (what CONFIG GET dir reports, so
    /// that a client in another working directory finds the store).
    let directory: String
    /// Whether write transactions change the map in place (`MDB_WRITEMAP`: volatile mode, where the
    /// file system can reserve blocks). The writer then reserves blocks before every batch.
    let writesInPlace: Bool
    /// Blocks reserved beyond what a batch's keys and bytes may need (`WriteBatcher.reserveSpace`).
    static let reserveMargin = 1 << 20

    /// Opens (or creates) the environment in `directory` as the writer.
    /// - Parameter group: with a shared group, `lock.mdb` is 0660 and `data.mdb` 0640 of that group
    ///   (LMDB readers write the lock file); without, both are 0600.
    init(directory: String, configuration: ServerConfiguration, group: gid_t? = nil, logger: Logger? = nil) throws {
        var flags: Environment.Flags = [.noReadAhead]
        switch configuration.durability {
        case .durable: break
        case .fast: flags.insert(.noMetaSync)
        case .volatile: flags.formUnion([.noSync, .writeMap])
        }
        func open(_ flags: Environment.Flags) throws -> Environment {
            try Environment(path: directory, options: .init(
                flags: flags, mapSize: configuration.mapSize, maxReaders: UInt32(configuration.maxReaders),
                maxDatabases: StoreLayout.maxDatabases, fileMode: group == nil ? 0o600 : 0o660))
        }
        var environment = try open(flags)
        if flags.contains(.writeMap) {
            // Volatile mode writes pages in place: the file's blocks must be reserved ahead of use (see
            // `WriteBatcher.reserveSpace`). Where they cannot be — a file system without fallocate, or
            // one already full — the store is opened as in the other modes, with a notice.
            do {
                try environment.reserve(bytes: try environment.usedBytes() + Store.reserveMargin)
            } catch {
                logger?.notice("volatile mode without MDB_WRITEMAP: cannot reserve the data file's blocks (\(error))")
                environment.close()
                flags.remove(.writeMap)
                environment = try open(flags)
            }
        }
        self.environment = environment
        self.directory = Store.absolute(directory)
        writesInPlace = flags.contains(.writeMap)
        do {
            guard environment.maxKeySize == StoreLayout.maxKeySize else {
                throw LMDBError.refused("this LMDB build takes keys up to \(environment.maxKeySize) bytes, ShmKV's layout \(StoreLayout.maxKeySize)")
            }
            let first = try environment.openStoreDatabases(create: true)
            environmentID = try Store.initialiseMeta(environment, first.meta,
                                                     dataFile: StoreLayout.dataFileIdentity(directory: directory), logger: logger)
            // Sets a store already has stay open (their keys still expire) even when fewer databases
            // are configured; SELECT stops at the configured count.
            let recorded = try environment.read { txn in
                try txn.get(first.meta, key: MetaKey.databaseCount).flatMap(MetaValue.decimal).map(Int.init) ?? 1
            }
            let count = min(max(recorded, configuration.databases), StoreLayout.maxDatabaseCount)
            let opened = try environment.openStoreCatalog(create: true, count: count)
            catalog = opened
            databaseCount = configuration.databases
            let map = try environment.read { txn in try opened.map(in: txn) }
            swapped = Atomic(map != nil)
            try environment.write { txn in try txn.put(first.meta, key: MetaKey.databaseCount, value: MetaValue.decimal(UInt64(count))) }
            if let group {
                for (file, mode) in [("data.mdb", mode_t(0o640)), ("lock.mdb", mode_t(0o660))] {
                    let path = directory + "/" + file
                    guard chown(path, uid_t.max, group) == 0, chmod(path, mode) == 0 else {
                        throw ServerError.system(.last("chown/chmod \(path)"))
                    }
                }
            }
        } catch {
            environment.close()
            throw error
        }
    }

    /// Checks the format version and returns the environment id: the stored one, or a new one for a new
    /// store — or for a data file that is not the one the id was made for (`MetaKey.dataFile`: a copy,
    /// such as a restored backup), so that a copy never shares its original's ring.
    private static func initialiseMeta(_ env: Environment, _ meta: Database, dataFile: String, logger: Logger?) throws -> String {
        try env.write { txn in
            let expected = StoreLayout.formatVersion
            if let version = try txn.get(meta, key: MetaKey.formatVersion).map(MetaValue.text) {
                guard StoreLayout.readableFormatVersions.contains(version) else {
                    throw LMDBError.refused("data format version \(version) is not \(expected)")
                }
                // Version 1 stores had no collections: the databases they lack exist now.
                if version != expected { try txn.put(meta, key: MetaKey.formatVersion, value: Array(expected.utf8)) }
            } else {
                try txn.put(meta, key: MetaKey.formatVersion, value: Array(expected.utf8))
            }
            let recordedFile = try txn.get(meta, key: MetaKey.dataFile).map(MetaValue.text)
            if recordedFile != dataFile { try txn.put(meta, key: MetaKey.dataFile, value: Array(dataFile.utf8)) }
            if let id = try txn.get(meta, key: MetaKey.environmentID).map(MetaValue.text) {
                // A store written before the data file was recorded keeps its id.
                guard let recordedFile, recordedFile != dataFile else { return id }
                let fresh = MetaValue.hex16(UInt64.random(in: 0...UInt64.max))
                logger?.warning("this data file is a copy of environment \(id) (made for the data file with inode \(recordedFile), this one has \(dataFile)): it gets its own environment id \(fresh) and ring")
                try txn.put(meta, key: MetaKey.environmentID, value: Array(fresh.utf8))
                _ = try txn.delete(meta, key: MetaKey.ringPath)
                _ = try txn.delete(meta, key: MetaKey.ringEpoch)
                return fresh
            }
            let id = MetaValue.hex16(UInt64.random(in: 0...UInt64.max))
            try txn.put(meta, key: MetaKey.environmentID, value: Array(id.utf8))
            return id
        }
    }

    /// `path` resolved (realpath), or as given when it cannot be.
    static func absolute(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The last change sequence committed (0 before the first change).
    func lastSequence() throws -> UInt64 {
        try environment.read { txn in
            try txn.get(meta, key: MetaKey.lastSequence).flatMap(MetaValue.decimal) ?? 0
        }
    }

    /// Records where this daemon's ring is and its epoch, so a `LocalStore` finds it from the directory.
    func recordRing(path: String, epoch: UInt64) throws {
        try environment.write { txn in
            try txn.put(meta, key: MetaKey.ringPath, value: Array(path.utf8))
            try txn.put(meta, key: MetaKey.ringEpoch, value: Array(MetaValue.hex16(epoch).utf8))
        }
    }

    func close() { environment.close() }
}

private typealias MetaKey = StoreLayout.MetaKey
