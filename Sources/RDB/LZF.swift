/// LZF decompression (liblzf's format, which Redis uses for strings in RDB files): literal runs
/// (`000LLLLL` then L+1 bytes) and back references (`LLLOOOOO OOOOOOOO`, length 7 taking one more
/// byte). Every length and offset is checked: a corrupt input is an error, never a read or write out of
/// bounds.
public enum LZF {
    public struct Corrupt: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// The `length` bytes `input` decompresses to; throws when it does not decompress to exactly that.
    public static func decompress(_ input: some Collection<UInt8>, length: Int) throws(Corrupt) -> [UInt8] {
        let source = Array(input)
        var output: [UInt8] = []
        output.reserveCapacity(length)
        var i = 0
        while i < source.count {
            let control = Int(source[i])
            i += 1
            if control < 32 {
                let run = control + 1
                guard i + run <= source.count, output.count + run <= length else { throw Corrupt(description: "an LZF literal runs past its end") }
                output.append(contentsOf: source[i..<(i + run)])
                i += run
            } else {
                var run = control >> 5
                if run == 7 {
                    guard i < source.count else { throw Corrupt(description: "an LZF reference is cut short") }
                    run += Int(source[i])
                    i += 1
                }
                run += 2
                guard i < source.count else { throw Corrupt(description: "an LZF reference is cut short") }
                let back = ((control & 0x1f) << 8) + Int(source[i]) + 1
                i += 1
                guard back <= output.count, output.count + run <= length else { throw Corrupt(description: "an LZF reference points outside its output") }
                // Byte by byte: a reference may overlap what it writes.
                let start = output.count - back
                for k in 0..<run { output.append(output[start + k]) }
            }
        }
        guard output.count == length else { throw Corrupt(description: "LZF data gave \(output.count) bytes, not \(length)") }
        return output
    }
}
