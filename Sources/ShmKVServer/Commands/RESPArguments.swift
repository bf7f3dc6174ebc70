import Wire

/// The arguments of one RESP command, as views into the input (or the inline scratch) buffer: valid
/// only while the command is handled.
struct RESPArguments {
    let base: UnsafeRawBufferPointer
    let ranges: [Range<Int>]

    var count: Int { ranges.count }

    subscript(_ i: Int) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: base[ranges[i]]) }

    /// A copy of argument `i` (for what outlives the request: queued writes, subscriptions).
    func bytes(_ i: Int) -> [UInt8] { Array(self[i]) }

    func string(_ i: Int) -> String { String(decoding: self[i], as: UTF8.self) }

    /// Case-insensitive comparison with an upper-case ASCII name; false for an argument that is not there.
    func `is`(_ i: Int, _ name: StaticString) -> Bool {
        guard i < count else { return false }
        let arg = self[i]
        guard arg.count == name.utf8CodeUnitCount else { return false }
        return name.withUTF8Buffer { n in
            for j in 0..<arg.count where arg[j] & 0xDF != n[j] & 0xDF || (n[j] < 65 && arg[j] != n[j]) { return false }
            return true
        }
    }

    /// The argument as Redis reads an integer, or nil.
    func integer(_ i: Int) -> Int64? { RedisInteger.parse(self[i]) }
}
