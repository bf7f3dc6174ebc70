/// Redis's rules for reading integers off the wire. Every number a RESP client sends — multibulk
/// counts, bulk lengths, command arguments, stored counters — is read here, with checked arithmetic,
/// so that no input can overflow.
public enum RedisInteger {
    /// Redis's `string2ll`: an optional '-', then digits with no leading zero ("0" alone is zero), within
    /// Int64; no '+', no spaces, not empty, not "-0". Nil for anything else, including overflow.
    @inlinable
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> Int64? {
        // Longer than "-9223372036854775808" cannot be an Int64 (Redis: LONG_STR_SIZE).
        let count = bytes.count
        guard count > 0, count <= 20 else { return nil }
        if count == 1, bytes[0] == UInt8(ascii: "0") { return 0 }
        var i = 0
        let negative = bytes[0] == UInt8(ascii: "-")
        if negative { i = 1 }
        guard i < count, bytes[i] >= UInt8(ascii: "1"), bytes[i] <= UInt8(ascii: "9") else { return nil }
        // Accumulate as a negative number, so that Int64.min fits.
        var value: Int64 = 0
        while i < count {
            let digit = bytes[i] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            let (shifted, o1) = value.multipliedReportingOverflow(by: 10)
            let (next, o2) = shifted.subtractingReportingOverflow(Int64(digit))
            if o1 || o2 { return nil }
            value = next
            i += 1
        }
        if negative { return value }
        return value == Int64.min ? nil : -value
    }

    /// `parse` over any byte collection (stored values, test strings).
    public static func parse(_ bytes: some Collection<UInt8>) -> Int64? {
        if let result = bytes.withContiguousStorageIfAvailable({ parse(UnsafeRawBufferPointer($0)) }) { return result }
        return Array(bytes).withUnsafeBytes { parse($0) }
    }

    /// The C library's `strtoul` as Redis calls it for a SCAN cursor: optional '+' or '-' (a '-' negates
    /// modulo 2^64, as strtoul does), decimal digits, leading zeros allowed; nil for a leading space,
    /// a stray byte, or a value above UInt64.max. The empty string is 0, as in Redis.
    public static func parseCursor(_ bytes: UnsafeRawBufferPointer) -> UInt64? {
        var i = 0
        var negative = false
        if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") {
            negative = bytes[i] == UInt8(ascii: "-")
            i += 1
        }
        // strtoul with no digits converts nothing and leaves the end pointer at the start: only the
        // empty string passes Redis's "nothing left over" check then.
        if i == bytes.count { return i == 0 ? 0 : nil }
        var value: UInt64 = 0
        while i < bytes.count {
            let digit = bytes[i] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            let (shifted, o1) = value.multipliedReportingOverflow(by: 10)
            let (next, o2) = shifted.addingReportingOverflow(UInt64(digit))
            if o1 || o2 { return nil }
            value = next
            i += 1
        }
        return negative ? 0 &- value : value
    }
}
