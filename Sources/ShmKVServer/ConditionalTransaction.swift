import LMDB
import NotifyRing
import Wire

/// A native TXN step's condition on its key's current value.
enum StepCheck: Sendable {
    case none
    case absent
    case present
    case equals([UInt8])
}

/// A TXN step that failed after its check passed: cannot happen (the check judges what the step will
/// meet); thrown so that the writer drops the TXN alone, as for an error of LMDB's.
struct StepDisagreedWithCheck: Error {
    let index: Int
}

extension StepResult {
    /// A TXN step's result as the native reply carries it: 1 for a put, whether a delete found its key,
    /// INCRBY's new value; nil for any other outcome.
    var conditionalValue: Int64? {
        guard case .write(let outcome, _) = self else { return nil }
        switch outcome {
        case .stored: return 1
        case .deleted(let existed): return existed ? 1 : 0
        case .integer(let n): return n
        default: return nil
        }
    }
}

extension KeyspaceWriter {
    /// A native TXN's checks (`BlockCondition.checks`): the refusal — the first false condition, or an
    /// INCRBY that cannot apply — or nil if every step will apply. Judged against the keyspace as the
    /// earlier steps would leave it, without changing anything (the values they write are kept aside, by
    /// key), so no child transaction is needed to undo a TXN half done.
    mutating func refusal(_ steps: [TransactionStep], _ checks: [StepCheck]) throws -> WriteOutcome? {
        var written: [[UInt8]: [UInt8]?] = [:]
        for (index, (step, check)) in zip(steps, checks).enumerated() {
            guard case .write(.owned(let bytes, let write), _) = step else { throw StepDisagreedWithCheck(index: index) }
            let key = bytes.withBytes { key, _ in Array(key) }
            let current: [UInt8]? = if let pending = written[key] { pending } else { try value(key) }
            let holds: Bool = switch check {
            case .none: true
            case .absent: current == nil
            case .present: current != nil
            case .equals(let expected): current == expected
            }
            guard holds else { return .conditionFailedAt(index) }
            switch write {
            case .put: written[key] = .some(bytes.withBytes { _, value in Array(value) })
            case .delete: written[key] = .some(nil)
            case .incrBy(let delta):
                var base: Int64 = 0
                if let current {
                    guard let n = RedisInteger.parse(current) else {
                        return .failed(.notInteger, "operation \(index): value is not an integer or out of range")
                    }
                    base = n
                }
                let (sum, overflow) = base.addingReportingOverflow(delta)
                if overflow { return .failed(.overflow, "operation \(index): increment or decrement would overflow") }
                written[key] = .some(Array(String(sum).utf8))
            default:
                throw StepDisagreedWithCheck(index: index)
            }
        }
        return nil
    }
}
