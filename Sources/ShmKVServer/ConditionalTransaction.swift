import LMDB
import NotifyRing
import Wire

/// One operation of a native TXN, owned by the writer's queue: a write of `key` under a condition.
struct ConditionalStep: Sendable {
    enum Action: Sendable {
        case put(value: [UInt8], deadline: DeadlineChange)
        case delete
        case incrBy(Int64)
    }
    enum Check: Sendable {
        case none
        case absent
        case present
        case equals([UInt8])
    }
    let key: [UInt8]
    let action: Action
    let check: Check

    var byteCount: Int {
        var n = key.count + 16
        if case .put(let value, _) = action { n += value.count }
        if case .equals(let expected) = check { n += expected.count }
        return n
    }
}

/// Thrown inside an operation's child transaction to undo everything it did and answer `outcome`.
struct Rollback: Error {
    let outcome: WriteOutcome
}

extension KeyspaceWriter {
    /// A native TXN: each step's condition is checked against the keyspace as the earlier steps left
    /// it, then the step is applied. A failed condition, a value that is not an integer, or an overflow
    /// throws `Rollback`: the writer aborts the child transaction, so nothing of the TXN remains.
    mutating func applyAll(_ steps: [ConditionalStep]) throws -> WriteOutcome {
        var results: [Int64] = []
        results.reserveCapacity(steps.count)
        for (index, step) in steps.enumerated() {
            let holds: Bool = switch step.check {
            case .none: true
            case .absent: try !exists(step.key)
            case .present: try exists(step.key)
            case .equals(let expected): try value(step.key) == expected
            }
            guard holds else { throw Rollback(outcome: .conditionFailedAt(index)) }
            let operation: WriteOperation = switch step.action {
            case .put(let value, let deadline): .put(key: step.key, value: value, condition: .always, deadline: deadline)
            case .delete: .delete(key: step.key)
            case .incrBy(let delta): .incrBy(key: step.key, delta: delta)
            }
            switch try operation.apply(&self) {
            case .stored: results.append(1)
            case .deleted(let existed): results.append(existed ? 1 : 0)
            case .integer(let n): results.append(n)
            case .failed(let status, let message):
                throw Rollback(outcome: .failed(status, "operation \(index): \(message)"))
            case let other: preconditionFailure("a TXN step came to \(other)")
            }
        }
        return .results(results)
    }
}
