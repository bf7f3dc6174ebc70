import FuzzReplay
import RDB

/// libFuzzer target: the RDB decoder. The input is read as a whole file (after a "REDIS0010" header
/// when it has none, so that mutations reach the records), whole and in 7-byte pieces with a 1 MiB
/// record limit, and as a DUMP payload's value (sealed with a right checksum, so that mutations reach
/// the value readers). Any input must end in records or an error: a trap, or memory beyond what the
/// limits allow (libFuzzer's -rss_limit_mb), is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRDBDecoder(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let file = input.starts(with: "REDIS".utf8) ? input : Array("REDIS0010".utf8) + input
    for piece in [file.count, 7] {
        var decoder = RDBFileDecoder(maximumRecordBytes: 1 << 20)
        var fed = 0
        var records = 0
        decoding: while true {
            do {
                while let record = try decoder.next() {
                    records += 1
                    if case .end = record { precondition(decoder.isComplete, "an end record before the file is complete") }
                }
            } catch {
                precondition(error.offset >= 0 && error.offset <= file.count, "an error at offset \(error.offset) of \(file.count)")
                break decoding
            }
            if decoder.isComplete { break }
            if fed == file.count { decoder.finish(); continue }
            let n = min(piece, file.count - fed)
            decoder.append(file[fed..<(fed + n)])
            fed += n
        }
        precondition(decoder.offset <= file.count, "offset \(decoder.offset) past the input's \(file.count) bytes")
    }
    _ = try? DumpPayload.value(of: DumpPayload.seal(input))
    var checksum = RDBFileChecksum()
    checksum.append(input)
    _ = checksum.verify()
    return 0
}

@main struct FuzzEntry {
    static func main() { fuzzMain { data, size in fuzzRDBDecoder(data, size) } }
}
