/// A RESP2 reply as a client reads it: what `shmkv raw` and the interactive prompt receive.
public indirect enum RESPReply: Sendable, Equatable {
    /// `+text`: a status such as OK or PONG.
    case simple(String)
    /// `-text`: an error, starting with its code (`ERR`, `WRONGTYPE`, `NOAUTH`, …).
    case error(String)
    /// `:n`: a signed 64-bit integer.
    case integer(Int64)
    /// `$n` and n bytes: a binary-safe string.
    case bulk([UInt8])
    /// `$-1` or `*-1`: no value.
    case null
    /// `*n` and n replies.
    case array([RESPReply])
}

extension RESPReply {
    /// Appends the reply as RESP2 bytes (what `RESPReplyDecoder` reads back).
    public func encode(into out: inout [UInt8]) {
        switch self {
        case .simple(let text): out.append(UInt8(ascii: "+")); out.append(contentsOf: text.utf8); out += [13, 10]
        case .error(let text): out.append(UInt8(ascii: "-")); out.append(contentsOf: text.utf8); out += [13, 10]
        case .integer(let n): out.append(contentsOf: ":\(n)\r\n".utf8)
        case .bulk(let bytes): out.append(contentsOf: "$\(bytes.count)\r\n".utf8); out += bytes; out += [13, 10]
        case .null: out.append(contentsOf: "$-1\r\n".utf8)
        case .array(let elements):
            out.append(contentsOf: "*\(elements.count)\r\n".utf8)
            for element in elements { element.encode(into: &out) }
        }
    }
}

/// Incremental decoder of RESP2 replies. The bytes come from a server, which the client trusts no more
/// than a server trusts its clients: every length is parsed with Redis's integer rules, bounded, and
/// checked against what arrived; nesting is bounded; nothing is reserved from a length before the
/// bytes are there.
public enum RESPReplyDecoder {
    /// Largest bulk string accepted (Redis's `proto-max-bulk-len`).
    public static let maxBulkLength = 512 << 20
    /// Deepest nesting of arrays accepted.
    public static let maxDepth = 64

    /// The first whole reply in `bytes` and the bytes it used, or nil when more must be read first.
    /// Throws `WireError.malformed` for bytes no RESP2 server sends.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> (RESPReply, Int)? {
        var position = 0
        guard let reply = try decode(bytes, &position, depth: 0) else { return nil }
        return (reply, position)
    }

    private static func decode(_ bytes: UnsafeRawBufferPointer, _ position: inout Int, depth: Int) throws(WireError) -> RESPReply? {
        guard position < bytes.count else { return nil }
        let type = bytes[position]
        guard let end = RESPDecoder.lineEnd(bytes, from: position + 1) else {
            if bytes.count - position > 64 << 10 { throw .malformed("a reply line longer than 64 KiB") }
            return nil
        }
        let line = UnsafeRawBufferPointer(rebasing: bytes[(position + 1)..<end])
        let next = end + 2
        switch type {
        case UInt8(ascii: "+"):
            position = next
            return .simple(String(decoding: line, as: UTF8.self))
        case UInt8(ascii: "-"):
            position = next
            return .error(String(decoding: line, as: UTF8.self))
        case UInt8(ascii: ":"):
            guard let n = RedisInteger.parse(line) else { throw .malformed("integer reply is not a number") }
            position = next
            return .integer(n)
        case UInt8(ascii: "$"):
            guard let n = RedisInteger.parse(line), n >= -1, n <= Int64(maxBulkLength) else { throw .malformed("invalid bulk length") }
            if n == -1 { position = next; return .null }
            let length = Int(n)
            guard bytes.count - next >= length + 2 else { return nil }
            guard bytes[next + length] == 13, bytes[next + length + 1] == 10 else { throw .malformed("bulk string not followed by CRLF") }
            position = next + length + 2
            return .bulk(Array(UnsafeRawBufferPointer(rebasing: bytes[next..<(next + length)])))
        case UInt8(ascii: "*"):
            guard let n = RedisInteger.parse(line), n >= -1 else { throw .malformed("invalid array length") }
            if n == -1 { position = next; return .null }
            guard depth < maxDepth else { throw .malformed("arrays nested deeper than \(maxDepth)") }
            // Every element takes at least 3 bytes ("+\r\n"): a count the input cannot hold waits for more.
            guard n <= Int64(bytes.count - next) / 3 else { return nil }
            var elements: [RESPReply] = []
            var cursor = next
            for _ in 0..<Int(n) {
                guard let element = try decode(bytes, &cursor, depth: depth + 1) else { return nil }
                elements.append(element)
            }
            position = cursor
            return .array(elements)
        default:
            throw .malformed("unknown reply type byte \(type)")
        }
    }
}

extension RESPReply {
    /// The reply as redis-cli prints it, byte for byte: `tty` is its standard output for a terminal
    /// (`(integer) 1`, `"quoted"` strings with `\xNN` escapes, `(nil)`, numbered nested arrays), otherwise
    /// its raw output for pipes (bare values, one per line; an error followed by an empty line).
    public func redisCLIText(tty: Bool) -> [UInt8] {
        var out: [UInt8] = []
        if tty {
            appendTTY(to: &out, prefix: [])
        } else {
            appendRaw(to: &out)
            out.append(10)
        }
        return out
    }

    private func appendTTY(to out: inout [UInt8], prefix: [UInt8]) {
        switch self {
        case .simple(let text): out += Array(text.utf8) + [10]
        case .error(let text): out += Array("(error) \(text)\n".utf8)
        case .integer(let n): out += Array("(integer) \(n)\n".utf8)
        case .bulk(let bytes): RESPReply.appendQuoted(bytes, to: &out); out.append(10)
        case .null: out += Array("(nil)\n".utf8)
        case .array(let elements) where elements.isEmpty: out += Array("(empty array)\n".utf8)
        case .array(let elements):
            let width = String(elements.count).count
            let nested = prefix + [UInt8](repeating: 0x20, count: width + 2)
            for (i, element) in elements.enumerated() {
                if i > 0 { out += prefix }
                let index = String(i + 1)
                out += [UInt8](repeating: 0x20, count: width - index.count) + Array(index.utf8) + Array(") ".utf8)
                element.appendTTY(to: &out, prefix: nested)
            }
        }
    }

    private func appendRaw(to out: inout [UInt8]) {
        switch self {
        case .simple(let text): out += Array(text.utf8)
        case .error(let text): out += Array(text.utf8) + [10]
        case .integer(let n): out += Array(String(n).utf8)
        case .bulk(let bytes): out += bytes
        case .null: break
        case .array(let elements):
            for (i, element) in elements.enumerated() {
                if i > 0 { out.append(10) }
                element.appendRaw(to: &out)
            }
        }
    }

    /// Redis's `sdscatrepr`: double quotes, `\\ \" \n \r \t \a \b` escaped, other bytes outside
    /// printable ASCII as `\xNN`.
    public static func appendQuoted(_ bytes: [UInt8], to out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for b in bytes {
            switch b {
            case UInt8(ascii: "\\"), UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), b]
            case 10: out += Array("\\n".utf8)
            case 13: out += Array("\\r".utf8)
            case 9: out += Array("\\t".utf8)
            case 7: out += Array("\\a".utf8)
            case 8: out += Array("\\b".utf8)
            case 0x20..<0x7F: out.append(b)
            default: out += [UInt8(ascii: "\\"), UInt8(ascii: "x"), hex[Int(b >> 4)], hex[Int(b & 15)]]
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
