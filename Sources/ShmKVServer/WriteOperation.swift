import LMDB
import NotifyRing
import Wire

/// A write waiting for the writer thread. Owns copies of its bytes (the input buffer moves on).
public enum WriteOperation: Sendable {
    case put(key: [UInt8], value: [UInt8], condition: PutCondition)
    case delete(key: [UInt8])
    /// All pairs or none.
    case mput([KeyValue])
    case incrBy(key: [UInt8], delta: Int64)

    /// Payload bytes, for the batch byte cap.
    var byteCount: Int {
        switch self {
        case .put(let k, let v, _): k.count + v.count
        case .delete(let k): k.count
        case .mput(let pairs): pairs.reduce(0) { $0 + $1.key.count + $1.value.count }
        case .incrBy(let k, _): k.count + 8
        }
    }
}

/// What a write came to, known only after its batch committed.
public enum WriteOutcome: Sendable, Equatable {
    case stored
    case deleted(existed: Bool)
    case integer(Int64)
    case conditionFailed
    case failed(Status, String)
}

extension WriteOperation {
    /// Applies the operation inside `txn` (a child of the batch's transaction). Logical refusals are
    /// returned as outcomes and change nothing; LMDB errors throw and the caller aborts the child.
    func apply(in txn: WriteTransaction, keyspace db: Database) throws -> WriteOutcome {
        switch self {
        case .put(let key, let value, let condition):
            switch condition {
            case .always:
                try txn.put(db, key: key, value: value)
            case .ifAbsent:
                do { try txn.put(db, key: key, value: value, flags: .noOverwrite) }
                catch LMDBError.keyExists { return .conditionFailed }
            case .ifPresent:
                guard try txn.contains(db, key: key) else { return .conditionFailed }
                try txn.put(db, key: key, value: value)
            }
            return .stored
        case .delete(let key):
            return .deleted(existed: try txn.delete(db, key: key))
        case .mput(let pairs):
            for pair in pairs { try txn.put(db, key: pair.key, value: pair.value) }
            return .stored
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
            return .integer(sum)
        }
    }
}


extension WriteOperation {
    /// Appends the ring records that `outcome` of this operation announces: one per key it changed.
    func changes(for outcome: WriteOutcome, into changes: inout [(ChangeKind, [UInt8])]) {
        switch (self, outcome) {
        case (.put(let key, _, _), .stored), (.incrBy(let key, _), .integer):
            changes.append((.put, key))
        case (.delete(let key), .deleted(existed: true)):
            changes.append((.delete, key))
        case (.mput(let pairs), .stored):
            for pair in pairs { changes.append((.put, pair.key)) }
        default:
            break
        }
    }
}

/// Redis's rule for a string that holds an integer: optional '-', no '+', no spaces, no leading zeros,
/// within Int64. `INCRBY` (native and, later, RESP) stores and reads values this way.
public enum RedisInteger {
    public static func parse(_ bytes: some Collection<UInt8>) -> Int64? {
        guard !bytes.isEmpty, bytes.count <= 20 else { return nil }
        if bytes.count == 1, bytes.first == UInt8(ascii: "0") { return 0 }
        var it = bytes.makeIterator()
        var c = it.next()!
        let negative = c == UInt8(ascii: "-")
        if negative {
            guard let next = it.next() else { return nil }
            c = next
        }
        guard c >= UInt8(ascii: "1"), c <= UInt8(ascii: "9") else { return nil }
        // Accumulate as a negative number so Int64.min fits.
        var value = -Int64(c - UInt8(ascii: "0"))
        while let d = it.next() {
            guard d >= UInt8(ascii: "0"), d <= UInt8(ascii: "9") else { return nil }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.subtractingReportingOverflow(Int64(d - UInt8(ascii: "0")))
            if o1 || o2 { return nil }
            value = s
        }
        if negative { return value }
        return value == Int64.min ? nil : -value
    }
}
