import FuzzReplay
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// libFuzzer target: the RESP request decoder, fed the input whole and then in pieces (as a socket
/// would), with ordinary and unauthenticated limits. Each command's argument ranges must lie inside
/// the bytes they point into; a trap or an out-of-bounds range is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRESPDecoder(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    var arguments: [Range<Int>] = []
    var scratch: [UInt8] = []
    for limits in [RESPLimits(maxBulkLength: 1 << 20, maxMultibulkCount: 1024, maxInlineLength: 4096),
                   RESPLimits(authenticated: false)] {
        var offset = 0
        while offset < bytes.count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            guard let result = try? RESPDecoder.decode(rest, limits: limits, arguments: &arguments, scratch: &scratch),
                  case .command(let consumed, let inline) = result else { break }
            precondition(consumed > 0 && consumed <= rest.count, "consumed \(consumed) of \(rest.count)")
            let bound = inline ? scratch.count : rest.count
            for range in arguments { precondition(range.lowerBound >= 0 && range.upperBound <= bound, "argument \(range) outside \(bound)") }
            offset += consumed
        }
        // The same bytes split at every 7th byte decode to the same prefix without trapping.
        var fed = 0
        var buffer: [UInt8] = []
        while fed < bytes.count {
            let n = min(7, bytes.count - fed)
            buffer += bytes[fed..<(fed + n)]
            fed += n
            while !buffer.isEmpty {
                let outcome = buffer.withUnsafeBytes { try? RESPDecoder.decode($0, limits: limits, arguments: &arguments, scratch: &scratch) }
                guard case .command(let consumed, _)? = outcome else { break }
                buffer.removeFirst(consumed)
            }
        }
    }
    return 0
}

@main struct FuzzEntry {
    static func main() { fuzzMain { data, size in fuzzRESPDecoder(data, size) } }
}
