import LMDB
import StoreLayout
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// Sorted-set ranges as Redis's commands spell them (`(1.5`, `+inf`, `[a`, `-`), with Redis's error
/// texts, and the copies the commands answer with.
extension SortedSetRange {
    static let notFloat = "ERR min or max is not a float"
    static let notLex = "ERR min or max not valid string range item"

    /// Redis's `zslParseRange` for one bound: `strtod` over the C string (so "" is 0 and the text stops
    /// at a NUL), `(` for an open bound, NaN refused.
    static func scoreBound(_ bytes: UnsafeRawBufferPointer) -> (Double, Bool)? {
        var text = Array(bytes.prefix { $0 != 0 })
        let exclusive = text.first == UInt8(ascii: "(")
        if exclusive { text.removeFirst() }
        let cString = text.map { CChar(bitPattern: $0) } + [0]
        return cString.withUnsafeBufferPointer { buffer -> (Double, Bool)? in
            var end: UnsafeMutablePointer<CChar>? = nil
            let value = strtod(buffer.baseAddress!, &end)
            guard let end, end.pointee == 0, !value.isNaN else { return nil }
            return (value, exclusive)
        }
    }

    /// Redis's `zslParseLexRangeItem`.
    static func lexBound(_ bytes: UnsafeRawBufferPointer) -> LexBound? {
        guard let first = bytes.first else { return nil }
        switch first {
        case UInt8(ascii: "+"): return bytes.count == 1 ? .positiveInfinity : nil
        case UInt8(ascii: "-"): return bytes.count == 1 ? .negativeInfinity : nil
        case UInt8(ascii: "("): return .exclusive(Array(bytes.dropFirst()))
        case UInt8(ascii: "["): return .inclusive(Array(bytes.dropFirst()))
        default: return nil
        }
    }

    static func score(_ min: UnsafeRawBufferPointer, _ max: UnsafeRawBufferPointer) -> SortedSetRange? {
        guard let (lo, loEx) = scoreBound(min), let (hi, hiEx) = scoreBound(max) else { return nil }
        return .score(min: lo, minExclusive: loEx, max: hi, maxExclusive: hiEx)
    }

    static func lex(_ min: UnsafeRawBufferPointer, _ max: UnsafeRawBufferPointer) -> SortedSetRange? {
        guard let lo = lexBound(min), let hi = lexBound(max) else { return nil }
        return .lex(min: lo, max: hi)
    }

    /// The range's elements, copied.
    func elements(in view: CollectionView, reverse: Bool, offset: Int = 0, limit: Int = -1) throws -> [CollectionCommands.Element] {
        var found: [CollectionCommands.Element] = []
        try forEach(in: view, reverse: reverse, offset: offset, limit: limit) { member, score in
            found.append(CollectionCommands.Element(member: Array(member), score: score))
            return .proceed
        }
        return found
    }

    /// How many elements the range holds.
    func count(in view: CollectionView) throws -> Int {
        var n = 0
        try forEach(in: view, reverse: false) { _, _ in n += 1; return .proceed }
        return n
    }
}
