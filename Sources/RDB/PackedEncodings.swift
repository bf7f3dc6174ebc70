/// An element of Redis's packed encodings: a string, or an integer the encoding stored as one (Redis
/// gives it back as its decimal digits).
public enum PackedElement: Equatable, Sendable {
    case bytes(ArraySlice<UInt8>)
    case integer(Int64)

    /// The element as Redis's commands show it.
    public var bytes: [UInt8] {
        switch self {
        case .bytes(let slice): Array(slice)
        case .integer(let n): Array(String(n).utf8)
        }
    }
}

/// Readers of the blobs Redis stores collections in (inside an RDB string): listpack (7.0+), ziplist
/// (before 7.0), intset and zipmap (before 2.6). Each checks every length against the blob, so no input
/// makes it read outside it; a malformed blob is an `RDBError` at `base` (where the blob's string starts
/// in the RDB data: a compressed blob's bytes have no place of their own there) naming the byte inside
/// the blob.
enum PackedEncodings {
    /// The elements of a listpack: total bytes (u32 LE), count (u16 LE, 65535: unknown), entries each
    /// followed by its back length, 0xFF.
    static func listpack(_ blob: [UInt8], base: Int) throws(RDBError) -> [PackedElement] {
        func fail(_ at: Int, _ reason: String) -> RDBError { RDBError(offset: base, reason: "listpack (byte \(at) of its \(blob.count)): " + reason) }
        try checkFrame(blob, header: 6, fail)
        var elements: [PackedElement] = []
        var p = 6
        while true {
            if try isEnd(blob, p, fail) { return elements }
            let first = blob[p]
            let start = p
            func need(_ n: Int) throws(RDBError) { guard n <= blob.count - 1 - p else { throw fail(p, "an entry runs past the end") } }
            let element: PackedElement
            switch first {
            case 0x00...0x7f:
                element = .integer(Int64(first)); p += 1
            case 0x80...0xbf:
                let n = Int(first & 0x3f)
                try need(1 + n)
                element = .bytes(blob[(p + 1)..<(p + 1 + n)]); p += 1 + n
            case 0xc0...0xdf:
                try need(2)
                let raw = Int64(first & 0x1f) << 8 | Int64(blob[p + 1])
                element = .integer(raw >= 1 << 12 ? raw - (1 << 13) : raw); p += 2
            case 0xe0...0xef:
                try need(2)
                let n = Int(first & 0x0f) << 8 | Int(blob[p + 1])
                try need(2 + n)
                element = .bytes(blob[(p + 2)..<(p + 2 + n)]); p += 2 + n
            case 0xf0:
                try need(5)
                let n = Int(littleEndian(blob, p + 1, 4))
                try need(5 + n)
                element = .bytes(blob[(p + 5)..<(p + 5 + n)]); p += 5 + n
            case 0xf1, 0xf2, 0xf3, 0xf4:
                let width = [2, 3, 4, 8][Int(first - 0xf1)]
                try need(1 + width)
                element = .integer(signed(littleEndian(blob, p + 1, width), width: width)); p += 1 + width
            default:
                throw fail(p, "unknown entry encoding 0x\(String(first, radix: 16))")
            }
            // The back length: the entry's size in 7-bit groups, most significant first, the last byte of
            // the group (read backwards) without the continuation bit.
            let size = p - start
            let backWidth = Listpack.backLengthWidth(size)
            try need(backWidth)
            p += backWidth
            elements.append(element)
        }
    }

    /// The elements of a ziplist: total bytes (u32 LE), tail offset (u32 LE), count (u16 LE), entries
    /// (previous entry's length, encoding, data), 0xFF.
    static func ziplist(_ blob: [UInt8], base: Int) throws(RDBError) -> [PackedElement] {
        func fail(_ at: Int, _ reason: String) -> RDBError { RDBError(offset: base, reason: "ziplist (byte \(at) of its \(blob.count)): " + reason) }
        try checkFrame(blob, header: 10, fail)
        var elements: [PackedElement] = []
        var p = 10
        while true {
            if try isEnd(blob, p, fail) { return elements }
            func need(_ n: Int) throws(RDBError) { guard n <= blob.count - 1 - p else { throw fail(p, "an entry runs past the end") } }
            // The previous entry's length: one byte, or 0xFE and four more.
            if blob[p] == 0xfe { try need(5); p += 5 } else { p += 1 }
            try need(1)
            let encoding = blob[p]
            switch encoding >> 6 {
            case 0:
                let n = Int(encoding & 0x3f)
                try need(1 + n)
                elements.append(.bytes(blob[(p + 1)..<(p + 1 + n)])); p += 1 + n
            case 1:
                try need(2)
                let n = Int(encoding & 0x3f) << 8 | Int(blob[p + 1])
                try need(2 + n)
                elements.append(.bytes(blob[(p + 2)..<(p + 2 + n)])); p += 2 + n
            case 2:
                guard encoding == 0x80 else { throw fail(p, "unknown string encoding 0x\(String(encoding, radix: 16))") }
                try need(5)
                let n = Int(bigEndian(blob, p + 1, 4))
                try need(5 + n)
                elements.append(.bytes(blob[(p + 5)..<(p + 5 + n)])); p += 5 + n
            default:
                let width: Int
                switch encoding {
                case 0xc0: width = 2
                case 0xd0: width = 4
                case 0xe0: width = 8
                case 0xf0: width = 3
                case 0xfe: width = 1
                case 0xf1...0xfd:
                    elements.append(.integer(Int64(encoding & 0x0f) - 1)); p += 1
                    continue
                default: throw fail(p, "unknown integer encoding 0x\(String(encoding, radix: 16))")
                }
                try need(1 + width)
                elements.append(.integer(signed(littleEndian(blob, p + 1, width), width: width))); p += 1 + width
            }
        }
    }

    /// The members of an intset: width (u32 LE: 2, 4 or 8), count (u32 LE), the integers (LE, signed).
    static func intset(_ blob: [UInt8], base: Int) throws(RDBError) -> [Int64] {
        func fail(_ reason: String) -> RDBError { RDBError(offset: base, reason: "intset: " + reason) }
        guard blob.count >= 8 else { throw fail("\(blob.count) bytes is shorter than a header") }
        let width = Int(littleEndian(blob, 0, 4))
        guard width == 2 || width == 4 || width == 8 else { throw fail("an integer width of \(width)") }
        let count = Int(littleEndian(blob, 4, 4))
        guard count == (blob.count - 8) / width, (blob.count - 8) % width == 0 else {
            throw fail("\(count) integers of \(width) bytes in \(blob.count - 8) bytes")
        }
        return (0..<count).map { signed(littleEndian(blob, 8 + $0 * width, width), width: width) }
    }

    /// The field-value pairs of a zipmap (Redis before 2.6): a count byte, then per entry the key's
    /// length and bytes, the value's length, a free count, the value and that many free bytes; 0xFF.
    static func zipmap(_ blob: [UInt8], base: Int) throws(RDBError) -> [(PackedElement, PackedElement)] {
        func fail(_ at: Int, _ reason: String) -> RDBError { RDBError(offset: base, reason: "zipmap (byte \(at) of its \(blob.count)): " + reason) }
        var p = 1
        var pairs: [(PackedElement, PackedElement)] = []
        func length() throws(RDBError) -> Int {
            guard p < blob.count else { throw fail(p, "no end marker") }
            if blob[p] < 254 { p += 1; return Int(blob[p - 1]) }
            guard blob[p] == 254, blob.count - p >= 5 else { throw fail(p, "a length runs past the end") }
            defer { p += 5 }
            return Int(littleEndian(blob, p + 1, 4))
        }
        while true {
            guard p < blob.count else { throw fail(p, "no end marker") }
            if blob[p] == 0xff { return pairs }
            let keyLength = try length()
            guard keyLength <= blob.count - p else { throw fail(p, "a key runs past the end") }
            let key = blob[p..<(p + keyLength)]
            p += keyLength
            let valueLength = try length()
            guard p < blob.count else { throw fail(p, "no free count") }
            let free = Int(blob[p])
            p += 1
            guard valueLength <= blob.count - p, free <= blob.count - p - valueLength else { throw fail(p, "a value runs past the end") }
            pairs.append((.bytes(key), .bytes(blob[p..<(p + valueLength)])))
            p += valueLength + free
        }
    }

    /// A listpack's or ziplist's frame: room for its `header` bytes and the end marker, and the total
    /// its first four bytes give (u32 LE) equal to the blob's size.
    private static func checkFrame(_ blob: [UInt8], header: Int, _ fail: (Int, String) -> RDBError) throws(RDBError) {
        guard blob.count > header else { throw fail(0, "\(blob.count) bytes is shorter than a header and end") }
        let total = Int(littleEndian(blob, 0, 4))
        guard total == blob.count else { throw fail(0, "its header says \(total) bytes, it has \(blob.count)") }
    }

    /// Whether the entry at `p` is the end marker, which must be the blob's last byte.
    private static func isEnd(_ blob: [UInt8], _ p: Int, _ fail: (Int, String) -> RDBError) throws(RDBError) -> Bool {
        guard p < blob.count else { throw fail(p, "no end marker") }
        guard blob[p] == 0xff else { return false }
        guard p == blob.count - 1 else { throw fail(p, "bytes after the end marker") }
        return true
    }

    static func littleEndian(_ blob: [UInt8], _ at: Int, _ width: Int) -> UInt64 {
        (0..<width).reversed().reduce(0) { $0 << 8 | UInt64(blob[at + $1]) }
    }

    static func bigEndian(_ blob: [UInt8], _ at: Int, _ width: Int) -> UInt64 {
        (0..<width).reduce(0) { $0 << 8 | UInt64(blob[at + $1]) }
    }

    /// `raw`'s low `width` bytes read as a two's complement number.
    static func signed(_ raw: UInt64, width: Int) -> Int64 {
        let shift = UInt64(64 - 8 * width)
        return Int64(bitPattern: raw << shift) >> Int64(shift)
    }
}
