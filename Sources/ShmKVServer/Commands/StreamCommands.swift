import LMDB
import NotifyRing
import Posix
import RDB
import StoreLayout
import Wire

/// A stream entry's id: milliseconds and a sequence number, ordered as a pair.
struct StreamID: Comparable, Sendable {
    var ms: UInt64
    var seq: UInt64

    static let min = StreamID(ms: 0, seq: 0)
    static let max = StreamID(ms: .max, seq: .max)
    static func < (a: StreamID, b: StreamID) -> Bool { (a.ms, a.seq) < (b.ms, b.seq) }

    var text: [UInt8] { Array("\(ms)-\(seq)".utf8) }

    /// The 16 bytes a stored entry starts with (both big-endian).
    var bytes: [UInt8] {
        withUnsafeBytes(of: ms.bigEndian) { Array($0) } + withUnsafeBytes(of: seq.bigEndian) { Array($0) }
    }

    init(ms: UInt64, seq: UInt64) {
        self.ms = ms
        self.seq = seq
    }

    init(_ id: RDBStreamID) {
        self.init(ms: id.ms, seq: id.seq)
    }

    init?(stored: UnsafeRawBufferPointer) {
        guard stored.count >= 16 else { return nil }
        ms = UInt64(bigEndian: stored.loadUnaligned(as: UInt64.self))
        seq = UInt64(bigEndian: stored.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
    }

    /// Redis's `streamParseID`: `ms-seq`, or `ms` with `missingSeq` as the sequence; nil otherwise.
    init?(_ text: UnsafeRawBufferPointer, missingSeq: UInt64) {
        let parts = text.split(separator: UInt8(ascii: "-"), maxSplits: 1, omittingEmptySubsequences: false)
        guard let ms = StreamID.number(parts[0]) else { return nil }
        if parts.count == 1 {
            self.init(ms: ms, seq: missingSeq)
        } else {
            guard let seq = StreamID.number(parts[1]) else { return nil }
            self.init(ms: ms, seq: seq)
        }
    }

    private static func number(_ digits: Slice<UnsafeRawBufferPointer>) -> UInt64? {
        guard !digits.isEmpty, digits.count <= 20, digits.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        return UInt64(String(decoding: digits, as: UTF8.self))
    }
}

/// Streams, as far as the job queues that store results in them need (python-rq): XADD (MAXLEN and
/// MINID trimming, NOMKSTREAM), XRANGE, XREVRANGE, XLEN, XDEL, XTRIM; no consumer groups, no XREAD.
/// A stream is stored as a list (`ListEdit`, `ListChunk`): its first item the last id handed out (16
/// bytes), then one item per entry — the id (16 bytes) and the fields and values packed.
enum StreamCommands {
    static let invalidID = "ERR Invalid stream ID specified as stream command argument"

    /// The entries of a stream view: id and the packed fields, first to last (or last to first).
    static func forEachEntry(_ view: CollectionView, reverse: Bool,
                             _ body: (StreamID, UnsafeRawBufferPointer) throws -> IterationControl) throws {
        var left = view.count - 1
        guard left > 0 else { return }
        try view.forEachListItem(reverse: reverse, skip: reverse ? 0 : 1) { item in
            guard let id = StreamID(stored: item) else { throw DamagedRecord("a stream entry without an id") }
            left -= 1
            let control = try body(id, UnsafeRawBufferPointer(rebasing: item[16...]))
            return left > 0 ? control : .stop
        }
    }

    /// An entry as Redis replies it: the id, then the fields and values.
    static func entry(_ id: StreamID, _ fields: UnsafeRawBufferPointer) -> CommandResult {
        var reader = PackedItems.Reader(fields)
        var items: [CommandResult] = []
        while let item = reader.item() { items.append(.bulk(Array(item))) }
        return .array([.bulk(id.text), .array(items)])
    }

    static func xlen(_ c: CommandCall) throws {
        try c.keys.withCollection(c.args[1], as: .stream) { c.reply.integer(max(($0?.count ?? 1) - 1, 0)) }
    }

    /// XRANGE key start end [COUNT n] and XREVRANGE key end start [COUNT n].
    static func xrange(_ c: CommandCall) throws {
        let reverse = c.args.is(0, "XREVRANGE")
        let (lowArg, highArg) = reverse ? (3, 2) : (2, 3)
        guard let low = bound(c.args[lowArg], low: true), let high = bound(c.args[highArg], low: false) else {
            return c.reply.error(invalidID)
        }
        var count = -1
        var j = 4
        while j < c.args.count {
            guard c.args.is(j, "COUNT"), j + 1 < c.args.count else { return c.reply.error(RESPError.syntax.message) }
            guard let n = c.args.integer(j + 1) else { return c.reply.error(RESPError.notInteger.message) }
            count = n < 0 ? 0 : Int(clamping: n)
            j += 2
        }
        try c.keys.withCollection(c.args[1], as: .stream) { view in
            guard let view else { return c.reply.array(0) }
            if count == 0 { return c.reply.nullArray() }
            var found: [CommandResult] = []
            try forEachEntry(view, reverse: reverse) { id, fields in
                if reverse ? id > high : id < low { return .proceed }
                if reverse ? id < low : id > high { return .stop }
                found.append(entry(id, fields))
                return count > 0 && found.count >= count ? .stop : .proceed
            }
            CommandResult.array(found).write(to: c.reply)
        }
    }

    /// A range bound: `-`, `+`, an id (a missing sequence is 0 for the low end, the largest for the
    /// high one), or `(id` exclusive; nil for anything else.
    static func bound(_ text: UnsafeRawBufferPointer, low: Bool) -> StreamID? {
        if text.elementsEqual("-".utf8) { return .min }
        if text.elementsEqual("+".utf8) { return .max }
        if text.first == UInt8(ascii: "(") {
            guard let id = StreamID(UnsafeRawBufferPointer(rebasing: text[1...]), missingSeq: low ? 0 : .max) else { return nil }
            if low {
                guard id != .max else { return nil }
                return id.seq == .max ? StreamID(ms: id.ms + 1, seq: 0) : StreamID(ms: id.ms, seq: id.seq + 1)
            }
            guard id != .min else { return nil }
            return id.seq == 0 ? StreamID(ms: id.ms - 1, seq: .max) : StreamID(ms: id.ms, seq: id.seq - 1)
        }
        return StreamID(text, missingSeq: low ? 0 : .max)
    }
}
