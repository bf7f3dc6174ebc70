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
    static func parse(_ bytes: UnsafeRawBufferPointer) -> Float80? {
        guard !bytes.isEmpty, bytes.count < maxCharacters, isspace(Int32(bytes[0])) == 0 else { return nil }
        var text = [CChar](repeating: 0, count: bytes.count + 1)
        for (i, byte) in bytes.enumerated() {
            // An embedded NUL would end the C string early: not a number.
            guard byte != 0 else { return nil }
            text[i] = CChar(bitPattern: byte)
        }
        return text.withUnsafeBufferPointer { buffer -> Float80? in
            guard let start = buffer.baseAddress else { return nil }
            var end: UnsafeMutablePointer<CChar>? = nil
            errno = 0
            let value = strtold(start, &end)
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
