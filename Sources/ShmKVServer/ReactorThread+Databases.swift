import LMDB
import Posix
import StoreLayout

/// The reactor's readers of numbered databases other than 0, on the loop's snapshot.
extension ReactorThread {
    /// `keyspace()` of numbered database `database` (checked at SELECT); its reader is kept for the
    /// snapshot too.
    func keyspace(database: UInt8) throws -> KeyspaceReader {
        guard database != 0 else { return try keyspace() }
        loop.assertOnLoopThread()
        let index = Int(database)
        if readTransaction?.isActive == true, index < otherReaders.count, let reader = otherReaders[index] { return reader }
        let made = try KeyspaceReader(try snapshot(), try databases(index), clock: WallClock.milliseconds)
        if otherReaders.count <= index { otherReaders += Array(repeating: nil, count: index + 1 - otherReaders.count) }
        otherReaders[index] = made
        return made
    }

    /// The set of databases holding numbered database `database` in the current snapshot: set n, until
    /// SWAPDB has run; then as the snapshot's `__meta` says.
    func databases(_ database: Int) throws -> StoreDatabases {
        let store = context.store
        guard store.swapped.load(ordering: .acquiring) else { return store.catalog.sets[database] }
        if snapshotMap == nil { snapshotMap = .some(try store.catalog.map(in: try snapshot())) }
        return store.catalog.databases(database, map: snapshotMap!) ?? store.catalog.sets[database]
    }
}
