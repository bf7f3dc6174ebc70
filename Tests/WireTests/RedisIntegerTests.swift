import Testing
import Wire

@Suite("Redis integer rules")
struct RedisIntegerTests {
    @Test("string2ll: exactly the forms Redis accepts, within Int64, never a trap")
    func string2ll() {
        let accepted: [(String, Int64)] = [
            ("0", 0), ("1", 1), ("-1", -1), ("42", 42), ("9223372036854775807", Int64.max),
            ("-9223372036854775808", Int64.min), ("-9223372036854775807", -Int64.max), ("1000000000000000000", 1_000_000_000_000_000_000),
        ]
        for (text, value) in accepted { #expect(RedisInteger.parse(Array(text.utf8)) == value, "\(text)") }
        let refused = ["", "-", "+", "+1", " 1", "1 ", "\t1", "01", "-0", "-01", "00", "1.0", "1e3", "0x1", "abc",
                       "9223372036854775808", "-9223372036854775809", "9999999999999999999", "99999999999999999999",
                       "-99999999999999999999", "123456789012345678901", "18446744073709551616", "1\u{0}"]
        for text in refused { #expect(RedisInteger.parse(Array(text.utf8)) == nil, "\(text.debugDescription)") }
    }

    @Test("SCAN cursors as strtoul reads them: +, -, leading zeros; overflow and stray bytes refused")
    func cursors() {
        func parse(_ s: String) -> UInt64? { Array(s.utf8).withUnsafeBytes { RedisInteger.parseCursor($0) } }
        #expect(parse("0") == 0)
        #expect(parse("") == 0)
        #expect(parse("+7") == 7)
        #expect(parse("007") == 7)
        #expect(parse("-1") == UInt64.max)
        #expect(parse("18446744073709551615") == UInt64.max)
        for bad in ["18446744073709551616", "99999999999999999999999", " 1", "1 ", "+", "-", "x", "1x"] {
            #expect(parse(bad) == nil, "\(bad.debugDescription)")
        }
    }
}
