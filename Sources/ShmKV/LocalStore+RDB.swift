import LMDB
import Posix
import RDB
import StoreLayout
import StoreRDB
#if canImport(Glibc)
import Glibc
#endif

/// What writing an RDB file from the store did.
public struct RDBDumpSummary: Sendable {
    /// Keys written.
    public var keys = RDBKeyCounts()
    /// Function libraries written.
    public var functions = 0
    /// File bytes written.
    public var bytes = 0
}

extension LocalStore {
    /// Writes the whole store — every numbered database, each key with its deadline, and the function
    /// libraries — as an RDB 10 file to `fd`, from one read snapshot (consistent, while the daemon goes
    /// on writing; no daemon round trip), in the encodings redis-server 7.0 would hold the values in by
    /// its default thresholds. Keys whose deadline has passed are left out. `progress` is called about every MiB written.
    public func writeRDB(to fd: Int32, progress: (RDBDumpSummary) -> Void = { _ in }) throws -> RDBDumpSummary {
        var summary = RDBDumpSummary()
        var file = RDBFileWriter(aux: [("redis-bits", "64"), ("ctime", String(WallClock.milliseconds() / 1000)), ("shmkv-rdb", "1")])
        func drain(_ force: Bool) throws {
            guard force || file.pendingCount >= 1 << 20 else { return }
            let bytes = file.take()
            try bytes.withUnsafeBytes { raw in
                var done = 0
                while done < raw.count {
                    let n = write(fd, raw.baseAddress! + done, raw.count - done)
                    if n < 0 && errno == EINTR { continue }
                    guard n > 0 else { throw ShmKVError.file(SystemError.last("write").description) }
                    done += n
                }
            }
            summary.bytes += bytes.count
            progress(summary)
        }
        try withTransaction { txn in
            try txn.forEach(catalog.first.meta, prefix: StoreLayout.MetaKey.libraryPrefix) { _, code in
                file.function(code: Array(code))
                summary.functions += 1
                return .proceed
            }
            for database in 0..<catalog.sets.count {
                let keys = try reader(txn, database: database)
                let count = try keys.count()
                guard count > 0 else { continue }
                file.selectDatabase(database, keys: count, expires: try keys.countWithDeadlines())
                try keys.forEachKey(prefix: []) { key, _ in
                    guard let value = try keys.rdbValue(of: key) else { return .proceed }
                    file.key(key, value, expiresAt: try keys.deadline(of: key))
                    summary.keys.add(database: database, type: value.typeName)
                    try drain(false)
                    return .proceed
                }
            }
        }
        file.finish()
        try drain(true)
        return summary
    }
}
