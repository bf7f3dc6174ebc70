import LMDB
import StoreLayout
import Wire

/// What a queued write does with its two byte strings, `key` and `value` (`WriteOperation.stored` and
/// `.owned`). Most writes name one key (and a value); RENAME and COPY carry the target as `value`,
/// PUBLISH the channel and the message; DEL and MSET of several keys carry them packed in `key` as the
/// native protocol packs them (`PackedWriter`: u16 length and bytes per key, u32 length and bytes per
/// value).
enum StoredWrite: Sendable {
    /// Store the value under a condition; with `returnOld`, the outcome carries the previous value
    /// (RESP `SET … GET`).
    case put(condition: PutCondition, returnOld: Bool, deadline: DeadlineChange)
    /// Delete the key: `counted`, the outcome is 1 or 0 (RESP DEL), otherwise `deleted(existed:)`.
    case delete(counted: Bool)
    /// Delete `count` packed keys; the outcome counts those that existed (RESP DEL).
    case deleteMany(count: Int)
    /// Delete the key and return its value (RESP `GETDEL`).
    case getDelete
    /// Store `count` packed pairs; `onlyIfNoneExist`: all only if none of the keys exists (MSETNX:
    /// 1 or 0), otherwise all (MSET).
    case mput(count: Int, onlyIfNoneExist: Bool)
    case incrBy(Int64)
    /// Append the value (an absent key counts as empty); fails above `maxValueSize`.
    case append(maxValueSize: Int)
    /// Give a live key a deadline if `condition` holds; a deadline not in the future deletes the key
    /// (as Redis does). Outcome: 1 if done, 0 if the key is absent or the condition failed.
    case expire(at: Int64, condition: ExpireCondition)
    /// Take a key's deadline away: 1 if it had one.
    case persist
    /// Return the value and change the deadline (RESP `GETEX`; `.keep` changes nothing).
    case getAndExpire(DeadlineChange)
    /// A message (`value`) for the ring on channel `key`, in order with the connection's writes; the
    /// outcome is `receivers` (counted when the request was parsed: the daemon's subscribed connections).
    case publish(receivers: Int)
    /// SETRANGE: overwrite from `offset` (zero padding); the new length.
    case setRange(offset: Int, maxValueSize: Int)
    /// INCRBYFLOAT: the new value as text.
    case incrByFloat(Float80)
    /// RENAME `key` to `value` (`onlyIfAbsent`: RENAMENX).
    case rename(onlyIfAbsent: Bool)
    /// COPY `key` to `value`, in numbered database `database` (nil: the selected one).
    case copy(replace: Bool, database: UInt8?)
    /// MOVE `key` to numbered database `to`.
    case move(to: UInt8)
    /// A command that applies itself (the collection commands): `apply` reads the command's arguments,
    /// packed in `key` (`WriteBytes.arguments`), and answers a `CommandResult`. `records` bounds the
    /// records it writes as its arguments announce them (space reserved before the batch; a command
    /// that writes more reserves more as it goes: `SpaceBudget`).
    case command(WriteApply, records: Int)

    /// Keys the write may change (each dirties at most a path of B-tree pages).
    var keysWritten: Int {
        switch self {
        case .deleteMany(let count), .mput(let count, _): count
        case .rename, .copy: 2
        case .publish: 0
        case .command(_, let records): records
        default: 1
        }
    }

    /// Bytes beside key and value that the batch byte cap counts (a number the write carries).
    var extraBytes: Int {
        switch self {
        case .incrBy, .expire, .setRange: 8
        case .incrByFloat: 16
        default: 0
        }
    }

    /// Applies the write through `keys` (see `WriteOperation.apply`).
    func apply(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, _ keys: inout KeyspaceWriter) throws -> WriteOutcome {
        switch self {
        case .put(let condition, let returnOld, let deadline):
            return try StoredWrite.put(key, value, condition: condition, returnOld: returnOld, deadline: deadline, &keys)
        case .delete(let counted):
            let existed = try keys.delete(key)
            return counted ? .integer(existed ? 1 : 0) : .deleted(existed: existed)
        case .deleteMany(let count):
            var deleted: Int64 = 0
            for one in PackedKeys(count: count, trusting: key) where try keys.delete(one) { deleted += 1 }
            return .integer(deleted)
        case .getDelete:
            guard let old = try keys.value(key) else { return .previous(nil, stored: false) }
            _ = try keys.delete(key)
            return .previous(old, stored: true)
        case .mput(let count, let onlyIfNoneExist):
            let pairs = PackedPairs(count: count, trusting: key)
            if onlyIfNoneExist {
                for pair in pairs where try keys.exists(pair.key) { return .integer(0) }
                for pair in pairs { try keys.store(pair.key, pair.value, existed: false, deadline: .remove, event: .set) }
                return .integer(1)
            }
            for pair in pairs {
                try keys.expireIfDue(pair.key)
                try keys.store(pair.key, pair.value, existed: nil, deadline: .remove, event: .set)
            }
            return .stored
        case .incrBy(let delta):
            return try StoredWrite.incrBy(key, delta, &keys)
        case .append(let maxValueSize):
            return try keys.withValueCopy(key, extra: { $0 + value.count <= maxValueSize ? value.count : 0 }) { keys, buffer, old in
                let count = old ?? 0
                guard count + value.count <= maxValueSize else {
                    return .failed(.valueTooLarge, "string exceeds maximum allowed size (proto-max-bulk-len)")
                }
                UnsafeMutableRawBufferPointer(rebasing: buffer[count...]).copyMemory(from: value)
                try keys.store(key, UnsafeRawBufferPointer(buffer), existed: old != nil, deadline: .keep, event: .append)
                return .integer(Int64(buffer.count))
            }
        case .expire(let at, let condition):
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
        case .persist:
            guard try keys.exists(key) else { return .integer(0) }
            return .integer(try keys.persist(key) ? 1 : 0)
        case .getAndExpire(let deadline):
            guard let old = try keys.value(key) else { return .previous(nil, stored: false) }
            switch deadline {
            case .keep: break
            case .remove: _ = try keys.persist(key)
            case .at(let at):
                if at <= keys.now { _ = try keys.delete(key) } else { try keys.expire(key, at: at) }
            }
            return .previous(old, stored: true)
        case .publish(let receivers):
            keys.changes.append(kind: .message, event: .none, key: key, payload: value)
            return .integer(Int64(receivers))
        case .setRange(let offset, let maxValueSize):
            return try keys.setRange(key, offset: offset, value, maxValueSize: maxValueSize)
        case .incrByFloat(let increment):
            return try keys.incrByFloat(key, increment)
        case .rename(let onlyIfAbsent):
            return try keys.rename(key, to: value, onlyIfAbsent: onlyIfAbsent)
        case .copy(let replace, let database):
            return try keys.copy(key, to: value, replace: replace, database: database.map(Int.init))
        case .move(let target):
            return try keys.move(key, to: Int(target))
        case .command(let apply, _):
            return .result(try PackedArguments.withArguments(key) { try apply(&keys, $0) })
        }
    }

    /// `apply`, with a key of the wrong type answered as Redis answers it (every command checks its
    /// keys' types before it changes anything).
    func applyChecked(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, _ keys: inout KeyspaceWriter) throws -> WriteOutcome {
        do {
            return try apply(key, value, &keys)
        } catch is WrongTypeError {
            return .failed(.wrongType, WrongTypeError.message)
        }
    }

    /// `apply` for bytes held in arrays.
    func apply(_ key: [UInt8], _ value: [UInt8], _ keys: inout KeyspaceWriter) throws -> WriteOutcome {
        try key.withUnsafeBytes { k in try value.withUnsafeBytes { v in try apply(k, v, &keys) } }
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
