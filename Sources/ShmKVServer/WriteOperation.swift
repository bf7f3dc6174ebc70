import LMDB
import NotifyRing
import Wire

/// A write waiting for the writer thread. Owns copies of its bytes (the input buffer moves on).
enum WriteOperation: Sendable {
    /// Store a value under a condition; with `returnOld`, the outcome carries the previous value
    /// (RESP `SET … GET`).
    case put(key: [UInt8], value: [UInt8], condition: PutCondition, returnOld: Bool = false)
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

    /// Payload bytes, for the batch byte cap.
    var byteCount: Int {
        switch self {
        case .put(let k, let v, _, _), .append(let k, let v, _): k.count + v.count
        case .delete(let k), .getDelete(let k): k.count
        case .deleteMany(let keys): keys.reduce(0) { $0 + $1.count }
        case .mput(let pairs), .mputIfNoneExist(let pairs): pairs.reduce(0) { $0 + $1.key.count + $1.value.count }
        case .incrBy(let k, _): k.count + 8
        case .clear: 0
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
}

/// The ring records a batch announces: one per key changed.
typealias ChangeList = [(ChangeKind, [UInt8])]

extension WriteOperation {
    /// Applies the operation inside `txn` (a child of the batch's transaction) and appends the changes
    /// it made to `changes`. Logical refusals are returned as outcomes and change nothing; LMDB errors
    /// throw and the caller aborts the child (and drops the changes it appended).
    func apply(in txn: WriteTransaction, keyspace db: Database, changes: inout ChangeList) throws -> WriteOutcome {
        switch self {
        case .put(let key, let value, let condition, let returnOld):
            let old = returnOld ? try txn.get(db, key: key) : nil
            switch condition {
            case .always:
                try txn.put(db, key: key, value: value)
            case .ifAbsent:
                do { try txn.put(db, key: key, value: value, flags: .noOverwrite) }
                catch LMDBError.keyExists { return returnOld ? .previous(old, stored: false) : .conditionFailed }
            case .ifPresent:
                guard returnOld ? old != nil : try txn.contains(db, key: key) else {
                    return returnOld ? .previous(nil, stored: false) : .conditionFailed
                }
                try txn.put(db, key: key, value: value)
            }
            changes.append((.put, key))
            return returnOld ? .previous(old, stored: true) : .stored
        case .delete(let key):
            let existed = try txn.delete(db, key: key)
            if existed { changes.append((.delete, key)) }
            return .deleted(existed: existed)
        case .deleteMany(let keys):
            var count: Int64 = 0
            for key in keys where try txn.delete(db, key: key) {
                count += 1
                changes.append((.delete, key))
            }
            return .integer(count)
        case .getDelete(let key):
            guard let old = try txn.get(db, key: key) else { return .previous(nil, stored: false) }
            _ = try txn.delete(db, key: key)
            changes.append((.delete, key))
            return .previous(old, stored: true)
        case .mput(let pairs):
            for pair in pairs {
                try txn.put(db, key: pair.key, value: pair.value)
                changes.append((.put, pair.key))
            }
            return .stored
        case .mputIfNoneExist(let pairs):
            for pair in pairs where try txn.contains(db, key: pair.key) { return .integer(0) }
            for pair in pairs {
                try txn.put(db, key: pair.key, value: pair.value)
                changes.append((.put, pair.key))
            }
            return .integer(1)
        case .incrBy(let key, let delta):
            let current: Int64
            if let bytes = try txn.get(db, key: key) {
                guard let n = RedisInteger.parse(bytes) else {
                    return .failed(.notInteger, "value is not an integer or out of range")
                }
                current = n
            } else {
                current = 0
            }
            let (sum, overflow) = current.addingReportingOverflow(delta)
            if overflow { return .failed(.overflow, "increment or decrement would overflow") }
            try txn.put(db, key: key, value: Array(String(sum).utf8))
            changes.append((.put, key))
            return .integer(sum)
        case .append(let key, let value, let maxValueSize):
            var combined = try txn.get(db, key: key) ?? []
            guard combined.count + value.count <= maxValueSize else {
                return .failed(.valueTooLarge, "string exceeds maximum allowed size (limits.maxValueSize)")
            }
            combined.append(contentsOf: value)
            try txn.put(db, key: key, value: combined)
            changes.append((.put, key))
            return .integer(Int64(combined.count))
        case .clear:
            try txn.clear(db)
            changes.append((.clear, []))
            return .stored
        }
    }
}
