/// What a replica reads from a Redis or Valkey primary before the command stream: the replies of the
/// handshake (lines), the answer to PSYNC, the header of a full sync's RDB transfer and the transfer
/// itself (Redis's replication.c, syncWithMaster and readSyncBulkPayload). Pure: the daemon's link
/// feeds it the bytes it read.
public struct ReplicationError: Error, Equatable, Sendable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// A primary's answer to `PSYNC replid offset`.
public enum PsyncReply: Equatable, Sendable {
    /// `+FULLRESYNC <replid> <offset>`: an RDB follows, then the stream from `offset`.
    case fullResync(replicationID: String, offset: Int64)
    /// `+CONTINUE [<replid>]`: the backlog holds what the replica misses; a new id when the primary's
    /// history changed (a failover), which the replica adopts.
    case partial(newReplicationID: String?)
    /// An error line: `-NOMASTERLINK` and `-LOADING` mean "later"; anything else that the primary will
    /// not serve this replica.
    case error(String)
}

/// How a full sync's RDB is framed: `$<length>` (the primary saved it to disk), or `$EOF:<40 bytes>`
/// with the same 40 bytes after the RDB (diskless: the length is not known in advance).
public enum TransferFraming: Equatable, Sendable {
    case sized(Int)
    case eofMarked([UInt8])
}

public enum ReplicationProtocol {
    /// The longest line accepted from a primary (a status, an error, a transfer header).
    public static let maximumLine = 64 * 1024
    /// The length of a replication id and of a diskless transfer's EOF marker.
    public static let idLength = 40

    /// The line at the start of `bytes` (ended by `\n`, a `\r` before it dropped) and the bytes it
    /// took, or nil while it is incomplete.
    public static func line(_ bytes: some Collection<UInt8>) throws(ReplicationError) -> (text: [UInt8], consumed: Int)? {
        var text: [UInt8] = []
        var count = 0
        for byte in bytes {
            count += 1
            if byte == 10 {
                if text.last == 13 { text.removeLast() }
                return (text, count)
            }
            guard count <= maximumLine else { throw ReplicationError("a line from the primary longer than \(maximumLine) bytes") }
            text.append(byte)
        }
        return nil
    }

    /// PSYNC's reply line.
    public static func psyncReply(_ line: [UInt8]) throws(ReplicationError) -> PsyncReply {
        let text = String(decoding: line, as: UTF8.self)
        if line.first == UInt8(ascii: "-") { return .error(String(text.dropFirst())) }
        let words = text.split(separator: " ", omittingEmptySubsequences: true)
        switch words.first {
        case "+FULLRESYNC":
            guard words.count == 3, isReplicationID(words[1]), let offset = Int64(words[2]), offset >= 0 else {
                throw ReplicationError("a malformed FULLRESYNC: \(text.prefix(120).debugDescription)")
            }
            return .fullResync(replicationID: String(words[1]), offset: offset)
        case "+CONTINUE":
            guard words.count <= 2, words.count == 1 || isReplicationID(words[1]) else {
                throw ReplicationError("a malformed CONTINUE: \(text.prefix(120).debugDescription)")
            }
            return .partial(newReplicationID: words.count == 2 ? String(words[1]) : nil)
        default:
            throw ReplicationError("an unexpected reply to PSYNC: \(text.prefix(120).debugDescription)")
        }
    }

    /// Whether `text` is a replication id: 40 lowercase hexadecimal digits.
    public static func isReplicationID(_ text: some StringProtocol) -> Bool {
        text.utf8.count == idLength && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    /// The transfer's header at the start of `bytes`, after any number of the bare newlines a primary
    /// sends while it prepares the RDB: the framing (nil when only newlines came so far) and the bytes
    /// taken; nil while the header line is incomplete.
    public static func transferHeader(_ bytes: some Collection<UInt8>) throws(ReplicationError) -> (framing: TransferFraming?, consumed: Int)? {
        var skipped = 0
        for byte in bytes {
            guard byte == 10 else { break }
            skipped += 1
        }
        if skipped > 0 { return (nil, skipped) }
        guard let (line, consumed) = try line(bytes) else { return nil }
        if line.first == UInt8(ascii: "-") {
            throw ReplicationError("the primary ended the sync: \(String(decoding: line.dropFirst().prefix(200), as: UTF8.self))")
        }
        guard line.first == UInt8(ascii: "$") else {
            throw ReplicationError("a transfer header that is not a bulk length: \(String(decoding: line.prefix(60), as: UTF8.self).debugDescription)")
        }
        let body = line.dropFirst()
        if body.starts(with: "EOF:".utf8) {
            guard body.count == 4 + idLength else { throw ReplicationError("an EOF marker of \(body.count - 4) bytes, not \(idLength)") }
            return (.eofMarked(Array(body.dropFirst(4))), consumed)
        }
        guard !body.isEmpty, body.count <= 18, body.allSatisfy({ (48...57).contains($0) }), let size = Int(String(decoding: body, as: UTF8.self)) else {
            throw ReplicationError("a transfer length that is not a number: \(String(decoding: body.prefix(60), as: UTF8.self).debugDescription)")
        }
        return (.sized(size), consumed)
    }
}

/// A full sync's RDB as it arrives, read record by record in bounded memory (`RDBFileDecoder`). Feed
/// it the input (`feed`), take records (`next`) until nil, then consume from the input what it says it
/// took (`takenOfLastFeed`): once `isComplete`, the rest of the input is the command stream. The RDB's
/// end is known before its last record is read — by the length, or by finding the EOF marker (as
/// Redis does; 40 random characters) — so the decoder always knows its input has ended.
public struct FullSyncReader {
    public let framing: TransferFraming
    private var decoder: RDBFileDecoder
    /// Input bytes taken, and where the last feed began among them.
    private var taken = 0, lastFeedStart = 0
    /// The last bytes of an EOF-marked transfer, held back from the decoder: they may begin the marker.
    private var held: [UInt8] = []
    /// Whether the transfer's end (the length, or the marker) has been reached.
    private var ended = false
    public private(set) var isComplete = false

    public init(framing: TransferFraming, maximumRecordBytes: Int = 1 << 30) {
        self.framing = framing
        decoder = RDBFileDecoder(maximumRecordBytes: maximumRecordBytes)
    }

    /// Input bytes taken so far (the RDB, and the marker once found).
    public var received: Int { taken }

    /// More input: what belongs to the transfer is taken (`takenOfLastFeed`), the rest left.
    public mutating func feed(_ bytes: some Collection<UInt8>) {
        lastFeedStart = taken
        guard !ended else { return }
        switch framing {
        case .sized(let size):
            let part = bytes.prefix(size - taken)
            decoder.append(part)
            taken += part.count
            if taken == size { ended = true }
        case .eofMarked(let marker):
            let window = held + Array(bytes)
            if let at = Self.find(marker, in: window) {
                decoder.append(window[..<at])
                taken += at + marker.count - held.count
                held = []
                ended = true
            } else {
                let keep = min(marker.count - 1, window.count)
                decoder.append(window.dropLast(keep))
                held = Array(window.suffix(keep))
                taken += bytes.count
            }
        }
        if ended { decoder.finish() }
    }

    /// How many bytes of the last `feed` the transfer took (the rest, once complete, is the stream's).
    public var takenOfLastFeed: Int { taken - lastFeedStart }

    /// The next record of the RDB, or nil when more input is needed or the transfer is complete.
    public mutating func next() throws(ReplicationError) -> RDBRecord? {
        guard !isComplete else { return nil }
        if !decoder.isComplete {
            do { return try decoder.next() } catch { throw ReplicationError("the RDB of the full sync: \(error)") }
        }
        guard decoder.remaining.isEmpty else { throw ReplicationError("\(decoder.remaining.count) bytes after the RDB's end, before the transfer's") }
        if ended { isComplete = true }
        return nil
    }

    /// Where `marker` starts in `window`, if it does.
    private static func find(_ marker: [UInt8], in window: [UInt8]) -> Int? {
        guard window.count >= marker.count, let first = marker.first else { return nil }
        var i = 0
        while i <= window.count - marker.count {
            if window[i] == first && window[i..<(i + marker.count)].elementsEqual(marker) { return i }
            i += 1
        }
        return nil
    }
}
