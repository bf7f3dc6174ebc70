/// What must hold of a key for a transaction's operation to run (TXN).
public enum TransactionCondition: Sendable, Equatable {
    /// No condition.
    case none
    /// The key does not exist (or is past its deadline).
    case absent
    /// The key exists.
    case present
    /// The key exists and its value is exactly these bytes.
    case equals([UInt8])

    var code: UInt8 {
        switch self {
        case .none: 0
        case .absent: 1
        case .present: 2
        case .equals: 3
        }
    }
}

/// One operation of a TXN request. Conditions are checked in order, each against the store as the
/// transaction's earlier operations left it; if one fails, nothing of the transaction is applied.
public enum TransactionOperation: Sendable, Equatable {
    /// Store `value` under `key`, with `expiry` deciding its deadline. Its result is 1.
    case put(key: [UInt8], value: [UInt8], expiry: PutExpiry = .persistent, condition: TransactionCondition = .none)
    /// Delete `key`. Its result is 1 if the key existed, else 0.
    case delete(key: [UInt8], condition: TransactionCondition = .none)
    /// Add `delta` to a decimal value (absent counts as 0). Its result is the new value; a value that is
    /// not an integer, or an overflow, fails the whole transaction.
    case incrBy(key: [UInt8], delta: Int64, condition: TransactionCondition = .none)

    /// The key the operation writes.
    public var key: [UInt8] {
        switch self {
        case .put(let key, _, _, _), .delete(let key, _), .incrBy(let key, _, _): key
        }
    }

    /// The operation's condition.
    public var condition: TransactionCondition {
        switch self {
        case .put(_, _, _, let c), .delete(_, let c), .incrBy(_, _, let c): c
        }
    }

    /// Appends the operation as PROTOCOL.md lays it out: kind, condition, key, expected value, operands.
    func encode(into out: inout [UInt8]) {
        switch self {
        case .put: out.append(TransactionOperationKind.put.rawValue)
        case .delete: out.append(TransactionOperationKind.delete.rawValue)
        case .incrBy: out.append(TransactionOperationKind.incrBy.rawValue)
        }
        out.append(condition.code)
        out.appendKey(key)
        if case .equals(let expected) = condition { out.appendValue(expected) }
        switch self {
        case .put(_, let value, let expiry, _):
            out.appendValue(value)
            switch expiry {
            case .persistent: out.append(0)
            case .keep: out.append(1)
            case .after(let milliseconds): out.append(2); out.appendLE(milliseconds)
            }
        case .delete: break
        case .incrBy(_, let delta, _): out.appendLE(UInt64(bitPattern: delta))
        }
    }

    init(_ view: TransactionOperationView) {
        let condition: TransactionCondition = switch view.condition {
        case .none: .none
        case .absent: .absent
        case .present: .present
        case .equals(let expected): .equals(Array(expected))
        }
        switch view.kind {
        case .put(let value, let expiry): self = .put(key: Array(view.key), value: Array(value), expiry: expiry, condition: condition)
        case .delete: self = .delete(key: Array(view.key), condition: condition)
        case .incrBy(let delta): self = .incrBy(key: Array(view.key), delta: delta, condition: condition)
        }
    }
}

/// The operation kinds of TXN, as the first byte of each operation.
enum TransactionOperationKind: UInt8 {
    case put = 1
    case delete = 2
    case incrBy = 3
}

/// One TXN operation as it lies in the input buffer.
public struct TransactionOperationView {
    /// What the operation does.
    public enum Kind {
        /// Store the value with this expiry.
        case put(value: UnsafeRawBufferPointer, expiry: PutExpiry)
        /// Delete the key.
        case delete
        /// Add the delta.
        case incrBy(delta: Int64)
    }
    /// A condition whose expected value lies in the input buffer.
    public enum Condition {
        /// No condition.
        case none
        /// The key is absent.
        case absent
        /// The key exists.
        case present
        /// The key's value is these bytes.
        case equals(UnsafeRawBufferPointer)
    }
    /// The key written.
    public let key: UnsafeRawBufferPointer
    /// What is done to it.
    public let kind: Kind
    /// What must hold first.
    public let condition: Condition

    /// Reads and validates one operation.
    init(_ r: inout ByteReader) throws(WireError) {
        guard let kind = TransactionOperationKind(rawValue: try r.u8("operation kind")) else {
            throw .malformed("unknown TXN operation kind")
        }
        let conditionCode = try r.u8("condition")
        key = try r.key()
        switch conditionCode {
        case 0: condition = .none
        case 1: condition = .absent
        case 2: condition = .present
        case 3: condition = .equals(try r.value())
        default: throw .malformed("unknown TXN condition \(conditionCode)")
        }
        switch kind {
        case .put:
            let value = try r.value()
            let expiry: PutExpiry
            switch try r.u8("expiry") {
            case 0: expiry = .persistent
            case 1: expiry = .keep
            case 2:
                let milliseconds = try r.u64("time to live")
                guard milliseconds > 0, milliseconds <= UInt64(Int64.max / 2) else {
                    throw .malformed("time to live \(milliseconds) ms is not between 1 and 2^62")
                }
                expiry = .after(milliseconds: milliseconds)
            case let other: throw .malformed("unknown TXN expiry \(other)")
            }
            self.kind = .put(value: value, expiry: expiry)
        case .delete:
            self.kind = .delete
        case .incrBy:
            self.kind = .incrBy(delta: Int64(bitPattern: try r.u64("delta")))
        }
    }
}

/// The operations packed in a TXN body, walked in place. The body was validated when parsed.
public struct PackedTransaction: Sequence {
    /// How many operations the body holds.
    public let count: Int
    let bytes: UnsafeRawBufferPointer

    /// Reads one operation per step; never fails, the body was validated.
    public struct Iterator: IteratorProtocol {
        var reader: ByteReader
        var left: Int
        /// The next operation, borrowing the body; nil after the last.
        public mutating func next() -> TransactionOperationView? {
            guard left > 0 else { return nil }
            left -= 1
            return try? TransactionOperationView(&reader)
        }
    }

    /// An iterator from the first operation; no allocation.
    public func makeIterator() -> Iterator { Iterator(reader: ByteReader(bytes), left: count) }

    /// Validates `count` operations from `r` and returns them as a packed view.
    static func parse(_ r: inout ByteReader, body: UnsafeRawBufferPointer) throws(WireError) -> PackedTransaction {
        let count = Int(try r.u32("operation count"))
        // Each operation takes at least four bytes (kind, condition, key length).
        guard count > 0 else { throw .malformed("TXN holds no operation") }
        guard count <= r.remaining / 4 else { throw .malformed("operation count \(count) exceeds the body") }
        let start = r.offset
        for _ in 0..<count { _ = try TransactionOperationView(&r) }
        return PackedTransaction(count: count, bytes: UnsafeRawBufferPointer(rebasing: body[start..<r.offset]))
    }
}

/// What a TXN came to.
public enum TransactionResult: Sendable, Equatable {
    /// Every operation was applied; one result per operation, in order (see `TransactionOperation`).
    case committed([Int64])
    /// The condition of the operation at this index did not hold: nothing was applied.
    case conditionFailed(index: Int)
}
