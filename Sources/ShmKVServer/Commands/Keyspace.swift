import LMDB
import Posix
import StoreLayout

/// The keyspace as a command handler reads it, wherever dispatch runs the handler: a reactor's snapshot
/// (`KeyspaceReader`), or the writer's transaction inside EXEC (`KeyspaceWriter`: it sees the
/// transaction's earlier writes, and a key past its deadline is deleted on first touch, with its
/// `expired` event, as Redis's `expireIfNeeded`). Either way a key past its deadline reads as absent, and
/// so does a key LMDB cannot hold (empty, or over `StoreLayout.maxKeySize`): handlers check no key.
struct Keyspace {
    enum Source {
        case snapshot(KeyspaceReader)
        // Invariant: points at the writer's `KeyspaceWriter` for the duration of one handler call, made
        // by `withUnsafeMutablePointer` around it on the writer's thread.
        case writer(UnsafeMutablePointer<KeyspaceWriter>)
    }

    let source: Source

    init(_ source: Source) { self.source = source }

    /// The moment deadlines are judged at (wall-clock milliseconds).
    var now: Int64 {
        switch source {
        case .snapshot(let reader): reader.hasDeadlines ? reader.now : WallClock.milliseconds()
        case .writer(let writer): writer.pointee.now
        }
    }

    /// Calls `body` with the live value of the string `key` in place in the map, or nil; valid only
    /// inside `body`. Throws `WrongTypeError` when the key holds a collection (string commands answer
    /// WRONGTYPE).
    @inline(__always)
    func withValue<R>(_ key: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R {
        guard StoreLayout.check(key: key) == nil else { return try body(nil) }
        switch source {
        case .snapshot(let reader):
            return try reader.withValue(key) { value in
                if value == nil, let type = try reader.collectionType(of: key) {
                    throw WrongTypeError(found: type)
                }
                return try body(value)
            }
        case .writer(let writer): return try writer.pointee.withLiveValue(key, body)
        }
    }

    /// Whether `key` lives, whatever its type.
    func contains(_ key: UnsafeRawBufferPointer) throws -> Bool { try type(of: key) != nil }

    /// The type of the live `key`, or nil.
    func type(of key: UnsafeRawBufferPointer) throws -> KeyType? {
        guard StoreLayout.check(key: key) == nil else { return nil }
        switch source {
        case .snapshot(let reader): return try reader.type(of: key)
        case .writer(let writer): return try writer.pointee.type(of: key)
        }
    }

    /// Calls `body` with the live collection of `type` that `key` holds, or nil when the key does not
    /// live; throws `WrongTypeError` when it holds another type. Valid only inside `body`.
    func withCollection<R>(_ key: UnsafeRawBufferPointer, as type: KeyType, _ body: (CollectionView?) throws -> R) throws -> R {
        guard StoreLayout.check(key: key) == nil else { return try body(nil) }
        switch source {
        case .snapshot(let reader): return try reader.withCollection(key, as: type, body)
        case .writer(let writer): return try writer.pointee.withCollection(key, as: type, body)
        }
    }

    /// Calls `body` with the live collection `key` holds (nil: none, or a string).
    func withCollection<R>(_ key: UnsafeRawBufferPointer, _ body: (CollectionView?) throws -> R) throws -> R {
        guard StoreLayout.check(key: key) == nil else { return try body(nil) }
        switch source {
        case .snapshot(let reader): return try reader.withCollection(key, body)
        case .writer(let writer): return try writer.pointee.withCollection(key, body)
        }
    }

    /// The deadline of `key`, past or not; nil for none. Ask `contains` or `withValue` first for a live
    /// key (on the writer that first touch also deletes a key past its deadline).
    func deadline(of key: UnsafeRawBufferPointer) throws -> Int64? {
        guard StoreLayout.check(key: key) == nil else { return nil }
        switch source {
        case .snapshot(let reader): return try reader.deadline(of: key)
        case .writer(let writer): return try writer.pointee.deadline(key)
        }
    }

    /// A reader for walks over many keys: the snapshot's own, or one over the writer's transaction
    /// (judging deadlines at the writer's moment).
    private func reader() throws -> KeyspaceReader {
        switch source {
        case .snapshot(let reader): return reader
        case .writer(let writer):
            let now = writer.pointee.now
            return try KeyspaceReader(writer.pointee.transaction, writer.pointee.databases, clock: { now })
        }
    }

    /// Live keys.
    func count() throws -> Int { try reader().count() }

    /// Live keys with a deadline.
    func countWithDeadlines() throws -> Int { try reader().countWithDeadlines() }

    /// Each live key of any type starting with `prefix`, in key order, after `after` when given.
    func forEachKey(prefix: [UInt8], after: [UInt8]? = nil,
                    _ body: (UnsafeRawBufferPointer, KeyType) throws -> IterationControl) throws {
        try reader().forEachKey(prefix: prefix, after: after, body)
    }

    /// Each live string entry whose key starts with `prefix`, in key order, after `after` when given.
    func forEach(prefix: [UInt8], after: [UInt8]? = nil,
                 _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> IterationControl) throws {
        try reader().forEach(prefix: prefix, after: after, body)
    }

    /// Each live string entry with `lower <= key < upper` (no bound when nil), in key order.
    func forEach(from lower: [UInt8], to upper: [UInt8]?,
                 _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> IterationControl) throws {
        try reader().forEach(from: lower, to: upper, body)
    }
}
