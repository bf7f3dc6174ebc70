import LMDB
import RDB
import StoreLayout

/// What a replication link asks of the writer besides its primary's commands.
enum ReplicationOperation: Sendable {
    /// Keys of a full sync's RDB, stored into the link's staging sets; nothing is announced.
    case stage(StagedKeys)
    /// The full sync is complete: every numbered database's content is replaced by its staging set's
    /// (in this one transaction, so readers see all of the old dataset or all of the new), the function
    /// libraries by the RDB's, and the link's place in the stream is recorded.
    case adopt(Adoption)
    /// Empties a link's staging sets (before a full sync, or after one that failed).
    case discard([Int: StoreDatabases])

    var keysWritten: Int {
        switch self {
        case .stage(let staged): staged.records
        case .adopt(let adoption): adoption.records + 1
        case .discard: 1
        }
    }

    var byteCount: Int {
        switch self {
        case .stage(let staged): staged.bytes
        case .adopt, .discard: 0
        }
    }
}

/// A piece of a full sync: keys for the staging set of their database.
struct StagedKeys: Sendable {
    let sets: [Int: StoreDatabases]
    let keys: [RDBKey]
    /// Records they may write (elements and the key's own), and their bytes, for the batch's limits.
    let records: Int
    let bytes: Int
}

/// The end of a full sync.
struct Adoption: Sendable {
    let link: Int
    let sets: [Int: StoreDatabases]
    /// The `__meta` mark of the link (`ReplicationState.mark`).
    let mark: [UInt8]
    /// The RDB's function libraries.
    let functions: [[UInt8]]
    let context: ServerContext
    /// Records staged, for the batch's space reservation.
    let records: Int
    /// A cluster shard's slots: only keys of these are replaced (nil: the whole dataset), except the
    /// keys `keep` names (claimed by another shard's stream during a slot migration).
    var slots: SlotSet? = nil
    var keep: Set<[UInt8]> = []
}

extension ReplicationOperation {
    func apply(_ keys: inout KeyspaceWriter) throws -> WriteOutcome {
        switch self {
        case .stage(let staged):
            // Nothing is announced, yet the batch must commit.
            let announced = keys.changes.count
            defer { keys.changes.truncate(to: announced) }
            keys.metaChanged = true
            var stored = 0
            // The staging set is selected when the database changes (its handles and flags looked up
            // once for a run of keys, not per key).
            var selected: Int?
            for key in staged.keys {
                guard let set = staged.sets[key.database] else { continue }
                if selected != key.database {
                    try keys.selectStaging(set)
                    selected = key.database
                }
                try key.key.withUnsafeBytes { try keys.restore($0, key.value, deadline: key.expiresAt) }
                stored += 1
            }
            return .integer(Int64(stored))
        case .adopt(let adoption):
            if let slots = adoption.slots {
                try keys.adopt(adoption.sets, slots: slots, keeping: adoption.keep)
            } else {
                try keys.adopt(adoption.sets)
                // The whole dataset is this primary's now: other links' marks (a cluster followed
                // before) describe nothing here any more.
                for link in 0..<StoreLayout.maxReplicationLinks where link != adoption.link {
                    _ = try StoreLayout.MetaKey.replication(link: link).withUnsafeBytes { try keys.transaction.delete(keys.catalog.first.meta, key: $0) }
                }
            }
            try keys.transaction.put(keys.catalog.first.meta, key: StoreLayout.MetaKey.replication(link: adoption.link), value: adoption.mark)
            keys.metaChanged = true
            let scripts = adoption.context.scripts
            let error = try withUnsafeMutablePointer(to: &keys) { try scripts.restoreLibraries(adoption.functions, policy: .flush, keys: $0) }
            if let error { return .failed(.storageError, "the primary's function libraries: \(error.message)") }
            return .stored
        case .discard(let sets):
            for set in sets.values { try keys.discardStaging(set) }
            keys.metaChanged = true
            return .stored
        }
    }
}

extension KeyspaceWriter {
    /// A cluster shard's full sync ends: in each database the sync staged, every key of the shard's
    /// `slots` (but those in `keep`) and every key the sync brings are removed, then the staged records
    /// move in; the rest of the store — the other shards' keys — stays. One `clear` record flagged
    /// `swapped` per database (which keys changed is not worked out: WATCH fails, local readers read
    /// the database again).
    mutating func adopt(_ sets: [Int: StoreDatabases], slots: SlotSet, keeping keep: Set<[UInt8]>) throws {
        let selected = database
        for (number, staged) in sets.sorted(by: { $0.key < $1.key }) {
            try select(number)
            var doomed: [[UInt8]] = []
            for db in [keyspace, types] {
                try transaction.forEach(db, prefix: []) { key, _ in
                    if slots.contains(ClusterMap.slot(key)), !keep.contains(Array(key)) { doomed.append(Array(key)) }
                    return .proceed
                }
            }
            for db in [staged.keyspace, staged.types].compactMap({ $0 }) {
                try transaction.forEach(db, prefix: []) { key, _ in
                    if !slots.contains(ClusterMap.slot(key)) { doomed.append(Array(key)) }
                    return .proceed
                }
            }
            for key in doomed { _ = try key.withUnsafeBytes { try removeForReplacement($0) } }
            try moveStaged(staged)
            changes.append(kind: .clear, event: .none, flags: .swapped, key: [], origin: origin)
        }
        try select(max(selected, 0))
    }

    /// Records the place in its primary's stream of every link whose writes are in `batch` (the last
    /// one's end), in the batch's transaction.
    mutating func recordReplicationOffsets(_ batch: [WriteTicket], state: ReplicationState) throws {
        var last: [Int: (offset: Int64, database: UInt8)] = [:]
        for ticket in batch where ticket.replicationLink >= 0 {
            last[Int(ticket.replicationLink)] = (ticket.replicationOffset, ticket.database)
        }
        for (link, place) in last {
            guard let status = state.status(link) else { continue }
            let mark = ReplicationState.mark(replicationID: status.replicationID, offset: place.offset, database: Int(place.database), primary: status.primary, slots: status.slots)
            try transaction.put(catalog.first.meta, key: StoreLayout.MetaKey.replication(link: link), value: mark)
            metaChanged = true
        }
    }
}
