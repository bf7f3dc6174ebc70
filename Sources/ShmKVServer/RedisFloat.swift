#if canImport(Glibc)
import Glibc
#endif

/// INCRBYFLOAT's numbers as Redis has them: x87 long doubles (`Float80`), read with `strtold` under
/// Redis's `string2ld` rules and printed with `%.17Lf`, trailing zeros cut (`ld2string`'s human mode), so
/// that 0.1 + 0.2 is "0.3" as on redis-server.
enum RedisFloat {
    /// Redis's `MAX_LONG_DOUBLE_CHARS`: longer input is not a number, and no output is longer.
    static let maxCharacters = 5 * 1024

    /// Nil unless the whole of `bytes` is a number: not empty, no leading space, no trailing byte, not
    /// NaN, not out of range. ("inf" reads as infinity; the caller refuses an infinite result.)
    static func parse(_ bytes: UnsafeRawBufferPointer) -> Float80? { RedisFloat.parse(bytes, with: strtold) }

    /// `convert` (`strtold`, `strtod`) over the whole of `bytes` as Redis calls it: nil when empty, with
    /// a leading space, an embedded NUL, a byte left over, out of range, or NaN.
    static func parse<F: BinaryFloatingPoint>(_ bytes: UnsafeRawBufferPointer,
                                              with convert: (UnsafePointer<CChar>, UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> F) -> F? {
        guard !bytes.isEmpty, bytes.count < maxCharacters, isspace(Int32(bytes[0])) == 0 else { return nil }
        var text = [CChar](repeating: 0, count: bytes.count + 1)
        for (i, byte) in bytes.enumerated() {
            // An embedded NUL would end the C string early: not a number.
            guard byte != 0 else { return nil }
            text[i] = CChar(bitPattern: byte)
        }
        return text.withUnsafeBufferPointer { buffer -> F? in
            guard let start = buffer.baseAddress else { return nil }
            var end: UnsafeMutablePointer<CChar>? = nil
            errno = 0
            let value = convert(start, &end)
            guard let end, end - UnsafeMutablePointer(mutating: start) == bytes.count else { return nil }
            if errno == ERANGE && (value.isInfinite || value == 0) { return nil }
            return value.isNaN ? nil : value
        }
    }

    static func parse(_ bytes: [UInt8]) -> Float80? { bytes.withUnsafeBytes { parse($0) } }

    /// `%.17Lf` without trailing zeros (and without a trailing '.'); "-0" becomes "0".
    static func format(_ value: Float80) -> [UInt8] {
        var buffer = [CChar](repeating: 0, count: maxCharacters)
        let written = withVaList([value]) { vsnprintf(&buffer, buffer.count, "%.17Lf", $0) }
        var bytes = buffer.prefix(max(0, min(Int(written), buffer.count - 1))).map { UInt8(bitPattern: $0) }
        if bytes.contains(UInt8(ascii: ".")) {
            while bytes.last == UInt8(ascii: "0") { bytes.removeLast() }
            if bytes.last == UInt8(ascii: ".") { bytes.removeLast() }
        }
        return bytes == Array("-0".utf8) ? Array("0".utf8) : bytes
    }
}

/// Sorted-set scores as Redis 7.0 reads and prints them (C doubles).
enum RedisDouble {
    /// Redis's `getDoubleFromObject`: `strtod` over the whole argument — "inf", "-inf", "1e3", hex —
    /// nil when empty, with a leading space, a trailing byte, NaN, or out of range.
    static func parse(_ bytes: UnsafeRawBufferPointer) -> Double? { RedisFloat.parse(bytes, with: strtod) }

    static func parse(_ bytes: [UInt8]) -> Double? { bytes.withUnsafeBytes { parse($0) } }

    /// `%.17g`, as a reply carries a score (`addReplyDouble`): "inf", "-inf", "-0", "0.10000000000000001".
    static func format(_ value: Double) -> [UInt8] {
        if value.isInfinite { return Array((value < 0 ? "-inf" : "inf").utf8) }
        var buffer = [CChar](repeating: 0, count: 64)
        let written = withVaList([value]) { vsnprintf(&buffer, buffer.count, "%.17g", $0) }
        return buffer.prefix(max(0, min(Int(written), 63))).map { UInt8(bitPattern: $0) }
    }

    /// Redis's `d2string`, as a listpack stores a score and ZSCAN prints one: an integral value within
    /// ±2^62 in decimal, else `%.17g`.
    static func d2string(_ value: Double) -> [UInt8] {
        if value.isFinite, value != 0, value >= Double(-Int64.max / 2), value <= Double(Int64.max / 2), value == value.rounded(.towardZero) {
            return Array(String(Int64(value)).utf8)
        }
        return format(value)
    }
}
