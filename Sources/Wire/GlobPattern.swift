/// Redis's glob patterns (KEYS, SCAN MATCH, PSUBSCRIBE, CONFIG GET): `*`, `?`, `[abc]`, `[^a-z]`, and
/// `\\x` for a literal x. Byte-wise, like Redis's `stringmatchlen`.
/// Used by the daemon and by local subscribers alike; costs no allocation to match.
public struct GlobPattern: Sendable, Hashable {
    /// The pattern's bytes.
    public let pattern: [UInt8]

    /// A pattern; nothing is compiled.
    public init(_ pattern: [UInt8]) { self.pattern = pattern }

    /// The bytes every match starts with (up to the first special character): a scan can seek there.
    public var literalPrefix: [UInt8] {
        var out: [UInt8] = []
        var i = 0
        while i < pattern.count {
            switch pattern[i] {
            case UInt8(ascii: "*"), UInt8(ascii: "?"), UInt8(ascii: "["): return out
            case UInt8(ascii: "\\") where i + 1 < pattern.count:
                out.append(pattern[i + 1])
                i += 2
            default:
                out.append(pattern[i])
                i += 1
            }
        }
        return out
    }

    /// Whether `text` matches, byte for byte as Redis's `stringmatchlen`.
    public func matches(_ text: UnsafeRawBufferPointer) -> Bool {
        pattern.withUnsafeBytes { p in GlobPattern.match(p, 0, text, 0) }
    }

    /// `matches` for bytes in an array.
    public func matches(_ text: [UInt8]) -> Bool { text.withUnsafeBytes { matches($0) } }

    private static func match(_ p: UnsafeRawBufferPointer, _ pi: Int, _ s: UnsafeRawBufferPointer, _ si: Int) -> Bool {
        var pi = pi, si = si
        while pi < p.count {
            switch p[pi] {
            case UInt8(ascii: "*"):
                while pi + 1 < p.count && p[pi + 1] == UInt8(ascii: "*") { pi += 1 }
                if pi + 1 == p.count { return true }
                var k = si
                while k <= s.count {
                    if match(p, pi + 1, s, k) { return true }
                    k += 1
                }
                return false
            case UInt8(ascii: "?"):
                guard si < s.count else { return false }
                si += 1
            case UInt8(ascii: "["):
                guard si < s.count else { return false }
                pi += 1
                let negate = pi < p.count && p[pi] == UInt8(ascii: "^")
                if negate { pi += 1 }
                var matched = false
                while pi < p.count && p[pi] != UInt8(ascii: "]") {
                    if p[pi] == UInt8(ascii: "\\") && pi + 1 < p.count {
                        pi += 1
                        if p[pi] == s[si] { matched = true }
                    } else if pi + 2 < p.count && p[pi + 1] == UInt8(ascii: "-") && p[pi + 2] != UInt8(ascii: "]") {
                        let lo = min(p[pi], p[pi + 2]), hi = max(p[pi], p[pi + 2])
                        if s[si] >= lo && s[si] <= hi { matched = true }
                        pi += 2
                    } else if p[pi] == s[si] {
                        matched = true
                    }
                    pi += 1
                }
                // An unterminated class ends at the end of the pattern, as in Redis.
                if negate { matched.toggle() }
                guard matched else { return false }
                si += 1
            case UInt8(ascii: "\\") where pi + 1 < p.count:
                pi += 1
                guard si < s.count, p[pi] == s[si] else { return false }
                si += 1
            default:
                guard si < s.count, p[pi] == s[si] else { return false }
                si += 1
            }
            pi += 1
        }
        return si == s.count
    }
}
