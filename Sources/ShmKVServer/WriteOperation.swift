import LMDB
import NotifyRing
import StoreLayout
import Wire

/// A condition on a key's current deadline (EXPIRE's NX, XX, GT, LT).
enum ExpireCondition: Sendable, Equatable {
    case always
    /// Only if the key has no deadline.
    case noDeadline
    /// Only if it has one.
    case hasDeadline
    /// Only if the new deadline is later (a key without one counts as never due: fails).
    case later
    /// Only if the new deadline is earlier (a key without one counts as never due: succeeds).
    case earlier
    /// Only if the key has a deadline and the new one is earlier (XX LT).
    case earlierWithDeadline
}

/// A key and value a reactor stored in its `WriteArena` for a queued write (`WriteOperation.storedPut`).
struct ArenaBytes: @unchecked Sendable {
    // Invariant: the bytes stay where they are, unchanged, until the write's outcome is back on the
    // reactor that stored them (`WriteArena`): the committing thread only reads them before that.
    let key: UnsafeRawBufferPointer
    let value: UnsafeRawBufferPointer
}

/// A write waiting for the writer role. Owns copies of its bytes (the input buffer moves on): in
/// arrays, or, for a SET outside MULTI, in its reactor's `WriteArena` (no allocation).
/// Deadlines are absolute: relative times are resolved when the request is parsed.
enum WriteOperation: Sendable {
    /// Store a value under a condition; with `returnOld`, the outcome carries the previous value
    /// (RESP `SET … GET`).
    case put(key: [UInt8], value: [UInt8], condition: PutCondition, returnOld: Bool = false, deadline: DeadlineChange = .remove)
    /// `put` with its bytes in the submitting reactor's arena (the ticket carries the chunk to release).
    case storedPut(ArenaBytes, condition: PutCondition, returnOld: Bool, deadline: DeadlineChange)
    /// DEL of one key, the key in the arena; the outcome counts it as `deleteMany` does.
    case storedDelete(ArenaBytes)
    /// `incrBy` with the key in the arena.
    case storedIncrBy(ArenaBytes, delta: Int64)
    case delete(key: [UInt8])
    /// Deletes every key given; the outcome counts those that existed (RESP `DEL`).
    case deleteMany([[UInt8]])
    /// Deletes a key and returns its value (RESP `GETDEL`).
    case getDelete(key: [UInt8])
    /// All pairs or none.
    case mput([KeyValue])
    /// All pairs, only if none of the keys exists (RESP `MSETNX`).
    case mputIfNoneExist([KeyValue])
    case incrBy(key: [UInt8], delta: Int64)
    /// Appends to the value (an absent key counts as empty); fails above `maxValueSize`.
    case append(key: [UInt8], value: [UInt8], maxValueSize: Int)
    /// Deletes every key (RESP `FLUSHDB`/`FLUSHALL`).
    case clear
    /// Gives a live key a deadline if `condition` holds; a deadline not in the future deletes the key
    /// (as Redis does). Outcome: 1 if done, 0 if the key is absent or the condition failed.
    case expire(key: [UInt8], at: Int64, condition: ExpireCondition)
    /// Takes a key's deadline away: 1 if it had one.
    case persist(key: [UInt8])
    /// Returns the value and changes the deadline (RESP `GETEX`; `.keep` changes nothing).
    case getAndExpire(key: [UInt8], deadline: DeadlineChange)
    /// A message for the ring, in order with the connection's writes; the outcome is `receivers`
    /// (counted when the request was parsed: the daemon's subscribed connections).
    case publish(channel: [UInt8], payload: [UInt8], receivers: Int)
    /// EXEC: a MULTI block's steps, run together inside the batch's transaction unless a watched key
    /// changed since it was watched.
    case transaction([TransactionStep], watched: [WatchedKey])
    /// A native TXN: every step under its condition, all or none.
    case conditional([ConditionalStep])
    /// SETRANGE: overwrite from `offset` (zero padding); the new length.
    case setRange(key: [UInt8], offset: Int, value: [UInt8], maxValueSize: Int)
    /// INCRBYFLOAT: the new value as text.
    case incrByFloat(key: [UInt8], increment: Float80)
    /// RENAME (`onlyIfAbsent`: RENAMENX).
    case rename(from: [UInt8], to: [UInt8], onlyIfAbsent: Bool)
    /// COPY.
    case copy(from: [UInt8], to: [UInt8], replace: Bool)
    /// SAVE: nothing to apply; the writer syncs the environment to disk after the batch commits.
    case save

    /// Payload bytes, for the batch byte cap.
    var byteCount: Int {
        switch self {
        case .put(let k, let v, _, _, _), .append(let k, let v, _): k.count + v.count
        case .storedPut(let bytes, _, _, _): bytes.key.count + bytes.value.count
        case .storedDelete(let bytes): bytes.key.count
        case .storedIncrBy(let bytes, _): bytes.key.count + 8
        case .delete(let k), .getDelete(let k), .persist(let k), .getAndExpire(let k, _): k.count
        case .expire(let k, _, _): k.count + 8
        case .deleteMany(let keys): keys.reduce(0) { $0 + $1.count }
        case .mput(let pairs), .mputIfNoneExist(let pairs): pairs.reduce(0) { $0 + $1.key.count + $1.value.count }
        case .incrBy(let k, _): k.count + 8
        case .publish(let c, let p, _): c.count + p.count
        case .transaction(let steps, _):
            steps.reduce(0) { total, step in if case .write(let op, _) = step { total + op.byteCount } else { total + 16 } }
        case .conditional(let steps): steps.reduce(0) { $0 + $1.byteCount }
        case .setRange(let k, _, let v, _): k.count + v.count + 8
        case .incrByFloat(let k, _): k.count + 16
        case .rename(let a, let b, _), .copy(let a, let b, _): a.count + b.count
        case .clear, .save: 0
        }
    }
}

extension WriteOperation {
    /// Keys the operation may write (each dirties at most a path of B-tree pages); FLUSHDB counts 1,
    /// its cost is the free list, which the writer bounds by the store's size.
    var keysWritten: Int {
        switch self {
        case .deleteMany(let keys): keys.count
        case .mput(let pairs), .mputIfNoneExist(let pairs): pairs.count
        case .transaction(let steps, _): steps.reduce(0) { total, step in if case .write(let op, _) = step { total + op.keysWritten } else { total } }
        case .conditional(let steps): steps.count
        case .rename, .copy: 2
        case .publish, .save: 0
        default: 1
        }
    }
}

/// What a write came to, known only after its batch committed.
enum WriteOutcome: Sendable, Equatable {
    case stored
    case deleted(existed: Bool)
    case integer(Int64)
    /// A previous value (or nil): GETDEL, and SET … GET (`stored` says whether the SET happened).
    case previous([UInt8]?, stored: Bool)
    case conditionFailed
    case failed(Status, String)
    /// EXEC's results in step order, or nil when a watched key had changed (nothing ran).
    case transaction([StepResult]?)
    /// A native TXN applied: a result per step.
    case results([Int64])
    /// A native TXN's step `at` found its condition false: nothing was applied.
    case conditionFailedAt(Int)
}

extension WriteOperation {
    /// Applies the operation through `keys` (in the batch's transaction), which records the changes it
    /// made. Every check comes before the first change: a logical refusal is returned as an outcome and
    /// has changed nothing (but the expiry of a key past its deadline, which any access does). LMDB
    /// errors throw; the writer then aborts the batch and runs it again without this operation.
    func apply(_ keys: inout KeyspaceWriter) throws -> WriteOutcome {
        switch self {
        case .put(let key, let value, let condition, let returnOld, let deadline):
            return try key.withUnsafeBytes { k in
                try value.withUnsafeBytes { v in
                    try WriteOperation.put(k, v, condition: condition, returnOld: returnOld, deadline: deadline, &keys)
                }
            }
        case .storedPut(let bytes, let condition, let returnOld, let deadline):
            return try WriteOperation.put(bytes.key, bytes.value, condition: condition, returnOld: returnOld,
                                          deadline: deadline, &keys)
        case .delete(let key):
            return .deleted(existed: try keys.delete(key))
        case .deleteMany(let keys_):
            var count: Int64 = 0
            for key in keys_ where try keys.delete(key) { count += 1 }
            return .integer(count)
        case .getDelete(let key):
            guard let old = try keys.value(key) else { return .previous(nil, stored: false) }
            _ = try keys.delete(key)
            return .previous(old, stored: true)
        case .mput(let pairs):
            for pair in pairs {
                try keys.expireIfDue(pair.key)
                try keys.store(pair.key, pair.value, existed: nil, deadline: .remove, event: .set)
            }
            return .stored
        case .mputIfNoneExist(let pairs):
            for pair in pairs where try keys.exists(pair.key) { return .integer(0) }
            for pair in pairs { try keys.store(pair.key, pair.value, existed: false, deadline: .remove, event: .set) }
            return .integer(1)
        case .incrBy(let key, let delta):
            return try key.withUnsafeBytes { try WriteOperation.incrBy($0, delta, &keys) }
        case .storedIncrBy(let bytes, let delta):
            return try WriteOperation.incrBy(bytes.key, delta, &keys)
        case .storedDelete(let bytes):
            return .integer(try keys.delete(bytes.key) ? 1 : 0)
        case .append(let key, let value, let maxValueSize):
            let old = try keys.value(key)
            var combined = old ?? []
            guard combined.count + value.count <= maxValueSize else {
                return .failed(.valueTooLarge, "string exceeds maximum allowed size (proto-max-bulk-len)")
            }
            combined.append(contentsOf: value)
            try keys.store(key, combined, existed: old != nil, deadline: .keep, event: .append)
            return .integer(Int64(combined.count))
        case .clear:
            try keys.clear()
            return .stored
        case .expire(let key, let at, let condition):
            guard try keys.exists(key) else { return .integer(0) }
            let current = try keys.deadline(key)
            let allowed = switch condition {
            case .always: true
            case .noDeadline: current == nil
            case .hasDeadline: current != nil
            case .later: current.map { at > $0 } ?? false
            case .earlier: current.map { at < $0 } ?? true
            case .earlierWithDeadline: current.map { at < $0 } ?? false
            }
            guard allowed else { return .integer(0) }
            // Redis's checkAlreadyExpired: a deadline not after now deletes the key at once.
            if at <= keys.now { _ = try keys.delete(key) } else { try keys.expire(key, at: at) }
            return .integer(1)
        case .persist(let key):
            guard try keys.exists(key) else { return .integer(0) }
            return .integer(try keys.persist(key) ? 1 : 0)
        case .getAndExpire(let key, let deadline):
            guard let value = try keys.value(key) else { return .previous(nil, stored: false) }
            switch deadline {
            case .keep: break
            case .remove: _ = try keys.persist(key)
            case .at(let at):
                if at <= keys.now { _ = try keys.delete(key) } else { try keys.expire(key, at: at) }
            }
            return .previous(value, stored: true)
        case .transaction(let steps, let watched):
            guard let log = keys.log else { preconditionFailure("the writer gives every batch its change log") }
            return .transaction(try keys.execute(steps, watched: watched, log: log))
        case .conditional(let steps):
            return try keys.applyAll(steps)
        case .setRange(let key, let offset, let value, let maxValueSize):
            return try keys.setRange(key, offset: offset, value, maxValueSize: maxValueSize)
        case .incrByFloat(let key, let increment):
            return try keys.incrByFloat(key, increment)
        case .rename(let source, let target, let onlyIfAbsent):
            return try keys.rename(source, to: target, onlyIfAbsent: onlyIfAbsent)
        case .copy(let source, let target, let replace):
            return try keys.copy(source, to: target, replace: replace)
        case .save:
            keys.syncRequested = true
            return .stored
        case .publish(let channel, let payload, let receivers):
            keys.changes.append(kind: .message, event: .none, key: channel, payload: payload)
            return .integer(Int64(receivers))
        }
    }

    /// INCR, DECR, INCRBY, DECRBY: the old value is parsed where it lies in the map and the new one
    /// formatted on the stack (no allocation).
    private static func incrBy(_ key: UnsafeRawBufferPointer, _ delta: Int64, _ keys: inout KeyspaceWriter) throws -> WriteOutcome {
        // nil: no value; .some(nil): a value that is not an integer.
        let old: Int64?? = try keys.withLiveValue(key) { value in value.map { RedisInteger.parse($0) } }
        if case .some(nil) = old { return .failed(.notInteger, "value is not an integer or out of range") }
        let current = old.flatMap { $0 } ?? 0
        let (sum, overflow) = current.addingReportingOverflow(delta)
        if overflow { return .failed(.overflow, "increment or decrement would overflow") }
        try MetaValue.withDecimal(sum) { digits in
            try keys.store(key, digits, existed: old != nil, deadline: .keep, event: .incrby)
        }
        return .integer(sum)
    }

    /// SET and its relatives. The old value is copied only when the reply needs it; a plain SET looks
    /// nothing up (but a key past its deadline is expired first, so that its `expired` comes before the
    /// `set`).
    private static func put(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, condition: PutCondition,
                            returnOld: Bool, deadline: DeadlineChange, _ keys: inout KeyspaceWriter) throws -> WriteOutcome {
        let existed: Bool?
        var old: [UInt8]? = nil
        if returnOld {
            old = try keys.value(key)
            existed = old != nil
        } else if condition != .always {
            existed = try keys.exists(key)
        } else {
            try keys.expireIfDue(key)
            existed = nil
        }
        let stored = switch condition {
        case .always: true
        case .ifAbsent: existed == false
        case .ifPresent: existed == true
        }
        if stored { try keys.store(key, value, existed: existed, deadline: deadline, event: .set) }
        if returnOld { return .previous(old, stored: stored) }
        return stored ? .stored : .conditionFailed
    }
}
