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

/// A TXN step that failed after its check passed: cannot happen (the check judges what the step will
/// meet); thrown so that the writer drops the TXN alone, as for an error of LMDB's.
struct StepDisagreedWithCheck: Error {
    let index: Int
}

extension KeyspaceWriter {
    /// A native TXN: all steps or none. First every step's condition — and whether an INCRBY meets an
    /// integer and stays in range — is judged against the keyspace as the earlier steps would leave it,
    /// without changing anything; only if all hold are the steps applied. So no child transaction is
    /// needed to undo a TXN half done.
    mutating func applyAll(_ steps: [ConditionalStep]) throws -> WriteOutcome {
        if let refusal = try check(steps) { return refusal }
        var results: [Int64] = []
        results.reserveCapacity(steps.count)
        for (index, step) in steps.enumerated() {
            let outcome = switch step.action {
            case .put(let value, let deadline):
                try StoredWrite.put(condition: .always, returnOld: false, deadline: deadline).apply(step.key, value, &self)
            case .delete: try StoredWrite.delete(counted: false).apply(step.key, [], &self)
            case .incrBy(let delta): try StoredWrite.incrBy(delta).apply(step.key, [], &self)
            }
            switch outcome {
            case .stored: results.append(1)
            case .deleted(let existed): results.append(existed ? 1 : 0)
            case .integer(let n): results.append(n)
            default: throw StepDisagreedWithCheck(index: index)
            }
        }
        return .results(results)
    }

    /// The outcome that refuses the TXN (the first false condition, or an INCRBY that cannot apply), or
    /// nil if every step will apply. The values earlier steps write are kept aside, by key.
    private mutating func check(_ steps: [ConditionalStep]) throws -> WriteOutcome? {
        var written: [[UInt8]: [UInt8]?] = [:]
        for (index, step) in steps.enumerated() {
            let current: [UInt8]? = if let pending = written[step.key] { pending } else { try value(step.key) }
            let holds: Bool = switch step.check {
            case .none: true
            case .absent: current == nil
            case .present: current != nil
            case .equals(let expected): current == expected
            }
            guard holds else { return .conditionFailedAt(index) }
            switch step.action {
            case .put(let value, _): written[step.key] = .some(value)
            case .delete: written[step.key] = .some(nil)
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
                written[step.key] = .some(Array(String(sum).utf8))
            }
        }
        return nil
    }
}
