import StoreLayout
import Wire

/// OBJECT ENCODING of a list as Redis 7.2 and Valkey decide it (`list-max-listpack-size`): `listpack`
/// while the list would fit one listpack node, `quicklist` once a push would take it past that, and
/// `listpack` again once it shrinks to half the limit. (Redis 7.0 answers `quicklist` for every list.)
extension ListEdit {
    /// Redis's `quicklistNodeLimit`: a size limit for a negative setting, an entry limit for a positive one.
    static func nodeLimit(_ fill: Int) -> (bytes: Int, entries: Int) {
        guard fill < 0 else { return (Int.max, fill == 0 ? 1 : fill) }
        let levels = [4096, 8192, 16384, 32768, 65536]
        return (levels[min(-fill - 1, levels.count - 1)], Int.max)
    }

    /// Redis's `quicklistNodeExceedsLimit`: with an entry limit a node still stays under 8 KiB.
    static func exceeds(_ fill: Int, bytes: Int, entries: Int) -> Bool {
        let limit = nodeLimit(fill)
        if limit.bytes != Int.max { return bytes > limit.bytes }
        return bytes > 8192 || entries > limit.entries
    }

    /// Before a push of `added` (the raw arguments): a listpack list that would outgrow one node becomes
    /// a quicklist, as Redis's `listTypeTryConversionAppend` decides it (current bytes plus the
    /// arguments' lengths).
    mutating func noteGrowth(_ args: RESPArguments, _ range: Range<Int>) throws {
        guard header.encoding == .listpack else { return }
        var added = 0
        for i in range { added += args[i].count }
        try noteGrowth(adding: added, items: range.count)
    }

    /// `noteGrowth` for `items` items of `added` bytes in all.
    mutating func noteGrowth(adding added: Int, items: Int) throws {
        guard header.encoding == .listpack else { return }
        let fill = limits.listMaxListpackSize
        let stop = ListEdit.nodeLimit(fill).bytes == Int.max ? 8192 : ListEdit.nodeLimit(fill).bytes
        let bytes = try listpackBytes(stoppingAbove: stop)
        if ListEdit.exceeds(fill, bytes: bytes + added, entries: header.count + items) { header.encoding = .quicklist }
    }

    /// After items went: a quicklist that fits half a node becomes a listpack again.
    mutating func noteShrinking() throws {
        guard header.encoding == .quicklist, header.count > 0 else { return }
        let limit = ListEdit.nodeLimit(limits.listMaxListpackSize)
        let bytes = limit.bytes == Int.max ? Int.max : limit.bytes / 2
        let entries = limit.entries == Int.max ? Int.max : limit.entries / 2
        guard header.count <= entries, 7 + 2 * header.count <= bytes else { return }
        if try listpackBytes(stoppingAbove: bytes == Int.max ? 8192 : bytes) <= (bytes == Int.max ? 8192 : bytes) { header.encoding = .listpack }
    }

    /// The bytes of a listpack holding the list (Redis's entry encodings), counted until past `stop`.
    func listpackBytes(stoppingAbove stop: Int) throws -> Int {
        var total = 7
        try withView { view in
            try view.forEachListItem { item in
                total += ListEdit.listpackEntrySize(item)
                return total > stop ? .stop : .proceed
            }
        }
        return total
    }

    /// One listpack entry: its encoding and data, then its back-length.
    static func listpackEntrySize(_ item: UnsafeRawBufferPointer) -> Int {
        let body: Int
        if item.count <= 20, let v = RedisInteger.parse(item) {
            body = switch v {
            case 0...127: 1
            case -4096...4095: 2
            case -32768...32767: 3
            case -8_388_608...8_388_607: 4
            case -2_147_483_648...2_147_483_647: 5
            default: 9
            }
        } else {
            body = item.count + (item.count < 64 ? 1 : item.count < 4096 ? 2 : 5)
        }
        let back = body <= 127 ? 1 : body < 16383 ? 2 : body < 2_097_151 ? 3 : body < 268_435_455 ? 4 : 5
        return body + back
    }
}
