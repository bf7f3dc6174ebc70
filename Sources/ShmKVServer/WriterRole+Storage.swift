import LMDB
import Posix
#if canImport(Glibc)
import Glibc
#endif

/// The writer's care of the storage itself: errors as a client should read them, map growth, reader slots.
extension WriterRole {
    /// A commit's error as a client should read it. LMDB reports a write cut short by a full disk as
    /// EIO; the free space of the data directory's file system tells the two apart.
    func describe(_ error: any Error) -> String {
        guard case LMDBError.system(let code) = error, code == EIO || code == ENOSPC else { return "\(error)" }
        var fs = statvfs()
        guard statvfs(configuration.dataDirectory, &fs) == 0 else { return "\(error)" }
        let free = Int(fs.f_bavail) * Int(fs.f_frsize)
        guard code == ENOSPC || free < 1 << 20 else { return "\(error)" }
        return "No space left on device (the data directory's file system has \(free) bytes free; nothing of this write was stored)"
    }

    /// Doubles the map (up to `storage.maxMapSize`) while no transaction of this process is active;
    /// false if it cannot grow. Readers in other processes adopt the new size on `MDB_MAP_RESIZED`.
    func growMap() -> Bool {
        let target = min(mapSize * 2, configuration.maxMapSize)
        guard target > mapSize else { return false }
        let reactors = self.reactors.withLock { $0 }
        do {
            try mapGate.closed(wake: { for reactor in reactors { reactor.loop.wake() } },
                               yielding: { reactors.contains { $0.scripts.activity.isRunningScript } }) {
                try store.environment.setMapSize(target)
            }
        } catch {
            logger.error("growing the map to \(target) bytes failed: \(error)")
            return false
        }
        logger.notice("map grown from \(mapSize) to \(target) bytes")
        mapSize = target
        ServerStats.add(stats.mapResizes)
        return true
    }

    /// Grows the map ahead of need once more than 80% of it is used (the DESIGN's high-water mark), so
    /// that batches rarely meet a full map at all.
    func growMapIfNearlyFull() {
        guard let used = try? store.environment.usedBytes() else { return }
        if used > mapSize / 5 * 4 { _ = growMap() }
    }

    /// Volatile mode writes pages in place (`MDB_WRITEMAP`), where a page with no block behind it would
    /// fault (SIGBUS) instead of failing a write: so before every batch the writer reserves blocks for
    /// everything it may touch — the pages in use, a path of pages for each key written (copied on
    /// write, with splits; a copy of the whole store at most), the values twice, the free list's growth
    /// and a margin — reserving ahead in steps so that most batches find it done. False when the file
    /// system has no room: the batch then fails whole, having touched nothing.
    func reserveSpace(keys: Int, bytes: Int, mayGrow: Bool = true) -> Bool {
        guard store.writesInPlace else { return true }
        guard let used = try? store.environment.usedBytes(), let pageSize = try? store.environment.stat().pageSize else { return false }
        // A key's value, deadline and expiry-index entry: three paths of at most four pages, copied.
        let copies = min((keys + 1).multipliedReportingOverflow(by: 12 * pageSize).partialValue, used)
        let needed = used + copies + 2 * bytes + used / 256 + Store.reserveMargin
        if min(needed, mapSize) <= reservedBytes { return true }
        // Past the map's end LMDB itself refuses (MDB_MAP_FULL): the map grows if it may, and blocks
        // are never reserved beyond it.
        if needed > mapSize && mayGrow { _ = growMap() }
        let ahead = min(mapSize, max(needed, reservedBytes + max(64 << 20, used / 8)))
        for target in [ahead, min(needed, mapSize)] {
            do {
                try store.environment.reserve(bytes: target)
                reservedBytes = target
                return true
            } catch {
                continue
            }
        }
        logger.error("cannot reserve \(needed) bytes of the data file for the next batch: no space left on device")
        return false
    }

    /// The budget of a batch that announced `keys` keys and `bytes` bytes, for the element records its
    /// commands write beyond them (nil outside volatile mode). Inside the transaction the map cannot
    /// grow: past its end the budget throws `mapFull`, and the batch runs again in a grown map.
    func spaceBudget(keys: Int, bytes: Int) -> SpaceBudget? {
        guard store.writesInPlace else { return nil }
        return SpaceBudget { [unowned self] records in
            let (total, bytesNeeded) = (keys + records, bytes + records * 1024)
            guard (try? store.environment.usedBytes()).map({ $0 + total * 12 * 4096 + 2 * bytesNeeded < mapSize }) ?? false else {
                throw LMDBError.mapFull
            }
            guard reserveSpace(keys: total, bytes: bytesNeeded, mayGrow: false) else { throw LMDBError.system(ENOSPC) }
        }
    }
}
