import FuzzReplay
import RDB

/// libFuzzer target: what a replica reads from its primary after PSYNC — the reply line
/// (`+FULLRESYNC`, `+CONTINUE`, an error), the keepalive newlines and the transfer's header (`$<n>` or
/// `$EOF:<marker>`), the RDB read record by record (in 5-byte pieces and whole, with a 1 MiB record
/// limit), and for an EOF-marked transfer the marker. Any input must end in records, the command
/// stream's start, or an error: a trap, a count of bytes taken beyond what was fed, or memory beyond
/// what the limits allow, is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzReplicationStream(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    for piece in [5, input.count] {
        read(input, piece: max(piece, 1))
    }
    return 0
}

private func read(_ input: [UInt8], piece: Int) {
    var at = 0
    do {
        guard let (line, used) = try ReplicationProtocol.line(input) else { return }
        at = used
        guard case .fullResync = try ReplicationProtocol.psyncReply(line) else { return }
        var framing: TransferFraming?
        while framing == nil {
            guard let (found, used) = try ReplicationProtocol.transferHeader(input[at...]) else { return }
            framing = found
            at += used
        }
        var reader = FullSyncReader(framing: framing!, maximumRecordBytes: 1 << 20)
        while !reader.isComplete {
            guard at < input.count else { return }
            let chunk = input[at..<min(at + piece, input.count)]
            reader.feed(chunk)
            while try reader.next() != nil {}
            let taken = reader.takenOfLastFeed
            precondition(taken >= 0 && taken <= chunk.count, "took \(taken) of a \(chunk.count)-byte piece")
            at += taken
        }
    } catch {}
    precondition(at <= input.count)
}

@main struct FuzzEntry {
    static func main() { fuzzMain { data, size in fuzzReplicationStream(data, size) } }
}
