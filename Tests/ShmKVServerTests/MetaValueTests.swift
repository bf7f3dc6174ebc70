import StoreLayout
import Testing

/// The writer stores `last_sequence` from a stack buffer each batch; it must be the text readers parse.
@Suite struct MetaValueTests {
    @Test("withDecimal lends the same digits decimal(_:) returns", arguments: [0, 7, 9, 10, 99, 100, 123_456_789, UInt64.max - 1, UInt64.max])
    func digitsMatch(value: UInt64) {
        let lent = MetaValue.withDecimal(value) { Array($0) }
        #expect(lent == MetaValue.decimal(value))
        #expect(MetaValue.decimal(lent) == value)
    }

    @Test("withDecimal of a signed value is Swift's own text of it (INCR's result)",
          arguments: [Int64.min, Int64.min + 1, -1_000_000, -10, -1, 0, 1, 42, Int64.max])
    func signedDigitsMatch(value: Int64) {
        #expect(MetaValue.withDecimal(value) { Array($0) } == Array(String(value).utf8))
    }
}
