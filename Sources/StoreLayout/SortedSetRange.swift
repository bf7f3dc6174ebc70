import LMDB

/// A range of a sorted set as ZRANGE and its relatives name one: by rank, by score or by member (lex),
/// walked in order or in reverse — by the daemon's commands and by `LocalStore`'s sorted sets alike.
public enum SortedSetRange: Sendable {
    /// By rank: Redis's start and stop (negative counts from the end).
    case rank(Int64, Int64)
    /// By score: min and max, each inclusive or not (`(1.5`).
    case score(min: Double, minExclusive: Bool, max: Double, maxExclusive: Bool)
    /// By member: min and max (`-`, `+`, `[a`, `(a`).
    case lex(min: LexBound, max: LexBound)

    public enum LexBound: Sendable {
        case negativeInfinity, positiveInfinity
        case inclusive([UInt8]), exclusive([UInt8])
    }


    // MARK: Bounds

    private func above(_ score: Double) -> Bool {
        guard case .score(_, _, let max, let maxExclusive) = self else { return false }
        return maxExclusive ? score >= max : score > max
    }

    private func below(_ score: Double) -> Bool {
        guard case .score(let min, let minExclusive, _, _) = self else { return false }
        return minExclusive ? score <= min : score < min
    }

    private static func beyond(_ member: UnsafeRawBufferPointer, _ bound: LexBound, upper: Bool) -> Bool {
        switch bound {
        case .negativeInfinity: return upper
        case .positiveInfinity: return !upper
        case .inclusive(let b):
            return upper ? b.lexicographicallyPrecedes(member) : member.lexicographicallyPrecedes(b)
        case .exclusive(let b):
            return upper ? !member.lexicographicallyPrecedes(b) : !b.lexicographicallyPrecedes(member)
        }
    }

    // MARK: Walking

    /// Each member and score of the range in `view`, in order or in `reverse`; then, for ranges by score
    /// or member, `offset` matches skipped (a negative offset: none at all) and at most `limit` given
    /// (negative: no limit), as Redis's LIMIT.
    public func forEach(in view: CollectionView, reverse: Bool, offset: Int = 0, limit: Int = -1,
                 _ body: (UnsafeRawBufferPointer, Double) throws -> IterationControl) throws {
        switch self {
        case .rank(let startArg, let stopArg):
            let length = Int64(view.count)
            var start = startArg < 0 ? length + startArg : startArg
            var stop = stopArg < 0 ? length + stopArg : stopArg
            if start < 0 { start = 0 }
            guard start <= stop, start < length else { return }
            if stop >= length { stop = length - 1 }
            var index: Int64 = 0
            try view.forEachInOrder(reverse: reverse) { member, score in
                defer { index += 1 }
                if index < start { return .proceed }
                if index > stop { return .stop }
                return try body(member, score)
            }
        case .score(let min, let minExclusive, let max, let maxExclusive):
            guard offset >= 0 else { return }
            var skip = offset, left = limit
            let start: CollectionView.OrderStart = reverse ? .score(max, exclusive: maxExclusive) : .score(min, exclusive: minExclusive)
            try view.forEachInOrder(reverse: reverse, from: start) { member, score in
                if reverse ? above(score) : below(score) { return .proceed }
                if reverse ? below(score) : above(score) { return .stop }
                if skip > 0 { skip -= 1; return .proceed }
                if left == 0 { return .stop }
                left -= 1
                return try body(member, score)
            }
        case .lex(let min, let max):
            guard offset >= 0 else { return }
            var skip = offset, left = limit
            let startBound = reverse ? max : min
            return try SortedSetRange.withSeek(startBound) { seek in
                try view.forEachInOrder(reverse: reverse, from: seek) { member, score in
                    if SortedSetRange.beyond(member, reverse ? max : min, upper: reverse) { return .proceed }
                    if SortedSetRange.beyond(member, reverse ? min : max, upper: !reverse) { return .stop }
                    if skip > 0 { skip -= 1; return .proceed }
                    if left == 0 { return .stop }
                    left -= 1
                    return try body(member, score)
                }
            }
        }
    }

    private static func withSeek<R>(_ bound: LexBound, _ body: (CollectionView.OrderStart) throws -> R) rethrows -> R {
        switch bound {
        case .inclusive(let b), .exclusive(let b): try b.withUnsafeBytes { try body(.member($0)) }
        default: try body(.edge)
        }
    }
}
