/// Redis's request limits, as configuration (`resp.*` keys in shmkvd).
public struct RESPLimits: Sendable, Equatable {
    /// Largest bulk string in a request (Redis `proto-max-bulk-len`, 512 MiB).
    public var maxBulkLength: Int
    /// Most arguments in one multibulk request (Redis: 1,048,576).
    public var maxMultibulkCount: Int
    /// Longest inline command line, and longest `*`/`$` header line (Redis: 64 KiB).
    public var maxInlineLength: Int

    /// Before AUTH, Redis allows at most 10 arguments of at most 16 KiB each, so that an unauthenticated
    /// peer cannot make the server buffer much (CVE-2021-32675). `Int.max` once authenticated.
    public var unauthenticatedMaxArguments: Int
    /// Largest argument before AUTH (16 KiB); `Int.max` once authenticated.
    public var unauthenticatedMaxBulkLength: Int

    /// Limits with Redis's defaults; `authenticated: false` adds Redis's pre-AUTH limits.
    public init(maxBulkLength: Int = 512 << 20, maxMultibulkCount: Int = 1 << 20, maxInlineLength: Int = 64 << 10,
                authenticated: Bool = true) {
        self.maxBulkLength = maxBulkLength
        self.maxMultibulkCount = maxMultibulkCount
        self.maxInlineLength = maxInlineLength
        unauthenticatedMaxArguments = authenticated ? Int.max : 10
        unauthenticatedMaxBulkLength = authenticated ? Int.max : 16 << 10
    }
}

/// A RESP request that cannot be framed; the server answers `-ERR Protocol error: <message>` and closes
/// the connection, as Redis does.
public struct RESPProtocolError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What is wrong, in Redis's words where Redis has them (`invalid bulk length`).
    public let message: String
    /// An error carrying `message`.
    public init(_ message: String) { self.message = message }
    /// The text after `-ERR `, as Redis prints it.
    public var description: String { "Protocol error: \(message)" }
}

/// Where a decoded command's arguments are: byte ranges into the input (multibulk), or into the
/// caller's scratch buffer (inline commands, whose quoting and escapes change the bytes).
public enum RESPDecodeResult: Equatable, Sendable {
    /// Not a whole command yet: read more and call again with the same bytes (and more).
    case needMore
    /// A command of `arguments.count` arguments (0: an empty line or `*0`, to be skipped) that used
    /// `consumed` bytes of the input.
    case command(consumed: Int, inline: Bool)
}

/// Incremental RESP request decoder (multibulk arrays of bulk strings, and inline commands).
///
/// Stateless: it parses from the first byte each time, appending argument ranges to a reused array, so
/// the caller owns no decoder state and nothing is allocated once the arrays have grown. A partial
/// request costs a re-scan of its headers only (bulk bodies are skipped by length), so feeding a large
/// value in small pieces stays linear.
public enum RESPDecoder {
    /// Decodes the first command in `bytes`. Argument ranges go into `arguments` (cleared first): offsets
    /// into `bytes` for multibulk, into `scratch` for inline commands.
    public static func decode(_ bytes: UnsafeRawBufferPointer, limits: RESPLimits, arguments: inout [Range<Int>],
                              scratch: inout [UInt8]) throws(RESPProtocolError) -> RESPDecodeResult {
        arguments.removeAll(keepingCapacity: true)
        guard let first = bytes.first else { return .needMore }
        if first == UInt8(ascii: "*") { return try decodeMultibulk(bytes, limits: limits, arguments: &arguments) }
        return try decodeInline(bytes, limits: limits, arguments: &arguments, scratch: &scratch)
    }

    /// Finds "\r\n" from `start`; the index of '\r', or nil.
    @inline(__always)
    static func lineEnd(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        var i = start
        while i + 1 < bytes.count {
            if bytes[i] == 13 && bytes[i + 1] == 10 { return i }
            i += 1
        }
        return nil
    }

    /// A header line's number (`*count`, `$length`) under Redis's rules (`string2ll`), or nil.
    @inline(__always)
    static func integer(_ bytes: UnsafeRawBufferPointer, _ from: Int, _ to: Int) -> Int64? {
        RedisInteger.parse(UnsafeRawBufferPointer(rebasing: bytes[from..<to]))
    }

    private static func decodeMultibulk(_ bytes: UnsafeRawBufferPointer, limits: RESPLimits,
                                        arguments: inout [Range<Int>]) throws(RESPProtocolError) -> RESPDecodeResult {
        guard let end = lineEnd(bytes, from: 1) else {
            if bytes.count > limits.maxInlineLength { throw RESPProtocolError("too big mbulk count string") }
            return .needMore
        }
        guard let parsed = integer(bytes, 1, end), parsed <= Int64(limits.maxMultibulkCount) else {
            throw RESPProtocolError("invalid multibulk length")
        }
        if parsed > Int64(limits.unauthenticatedMaxArguments) { throw RESPProtocolError("unauthenticated multibulk length") }
        var position = end + 2
        if parsed <= 0 { return .command(consumed: position, inline: false) }
        let count = Int(parsed)
        for _ in 0..<count {
            guard position < bytes.count else { return .needMore }
            guard bytes[position] == UInt8(ascii: "$") else {
                throw RESPProtocolError("expected '$', got '\(printable(bytes[position]))'")
            }
            guard let lengthEnd = lineEnd(bytes, from: position + 1) else {
                if bytes.count - position > limits.maxInlineLength { throw RESPProtocolError("too big bulk count string") }
                return .needMore
            }
            guard let parsed = integer(bytes, position + 1, lengthEnd), parsed >= 0, parsed <= Int64(limits.maxBulkLength) else {
                throw RESPProtocolError("invalid bulk length")
            }
            if parsed > Int64(limits.unauthenticatedMaxBulkLength) { throw RESPProtocolError("unauthenticated bulk length") }
            let length = Int(parsed)
            let start = lengthEnd + 2
            guard bytes.count >= start + length + 2 else { return .needMore }
            guard bytes[start + length] == 13, bytes[start + length + 1] == 10 else {
                throw RESPProtocolError("expected CRLF after a bulk string of \(length) bytes")
            }
            arguments.append(start..<(start + length))
            position = start + length + 2
        }
        return .command(consumed: position, inline: false)
    }

    private static func printable(_ byte: UInt8) -> String {
        (32..<127).contains(byte) ? String(UnicodeScalar(byte)) : "\\x" + String(byte, radix: 16)
    }

    /// An inline command: one line, split like Redis's `sdssplitargs` (spaces; "double quotes" with
    /// \n \r \t \b \a \\ \" \xHH escapes; 'single quotes' with \').
    private static func decodeInline(_ bytes: UnsafeRawBufferPointer, limits: RESPLimits, arguments: inout [Range<Int>],
                                     scratch: inout [UInt8]) throws(RESPProtocolError) -> RESPDecodeResult {
        var newline = -1
        for i in 0..<bytes.count where bytes[i] == 10 {
            newline = i
            break
        }
        guard newline >= 0 else {
            if bytes.count > limits.maxInlineLength { throw RESPProtocolError("too big inline request") }
            return .needMore
        }
        var lineEnd = newline
        if lineEnd > 0 && bytes[lineEnd - 1] == 13 { lineEnd -= 1 }
        scratch.removeAll(keepingCapacity: true)
        var i = 0
        while true {
            while i < lineEnd && isSpace(bytes[i]) { i += 1 }
            if i >= lineEnd { break }
            let start = scratch.count
            var inDouble = false, inSingle = false, done = false
            while !done {
                if inDouble {
                    guard i < lineEnd else { throw RESPProtocolError("unbalanced quotes in request") }
                    let c = bytes[i]
                    if c == UInt8(ascii: "\\") && i + 3 < lineEnd && bytes[i + 1] == UInt8(ascii: "x"),
                       let hi = hexValue(bytes[i + 2]), let lo = hexValue(bytes[i + 3]) {
                        scratch.append(hi << 4 | lo)
                        i += 3
                    } else if c == UInt8(ascii: "\\") && i + 1 < lineEnd {
                        i += 1
                        switch bytes[i] {
                        case UInt8(ascii: "n"): scratch.append(10)
                        case UInt8(ascii: "r"): scratch.append(13)
                        case UInt8(ascii: "t"): scratch.append(9)
                        case UInt8(ascii: "b"): scratch.append(8)
                        case UInt8(ascii: "a"): scratch.append(7)
                        case let other: scratch.append(other)
                        }
                    } else if c == UInt8(ascii: "\"") {
                        // The closing quote must be followed by a space or the end.
                        if i + 1 < lineEnd && !isSpace(bytes[i + 1]) { throw RESPProtocolError("unbalanced quotes in request") }
                        done = true
                    } else {
                        scratch.append(c)
                    }
                } else if inSingle {
                    guard i < lineEnd else { throw RESPProtocolError("unbalanced quotes in request") }
                    let c = bytes[i]
                    if c == UInt8(ascii: "\\") && i + 1 < lineEnd && bytes[i + 1] == UInt8(ascii: "'") {
                        scratch.append(UInt8(ascii: "'"))
                        i += 1
                    } else if c == UInt8(ascii: "'") {
                        if i + 1 < lineEnd && !isSpace(bytes[i + 1]) { throw RESPProtocolError("unbalanced quotes in request") }
                        done = true
                    } else {
                        scratch.append(c)
                    }
                } else {
                    if i >= lineEnd { break }
                    let c = bytes[i]
                    switch c {
                    case 32, 9, 10, 13, 0: done = true
                    case UInt8(ascii: "\""): inDouble = true
                    case UInt8(ascii: "'"): inSingle = true
                    default: scratch.append(c)
                    }
                    if done { break }
                }
                i += 1
            }
            arguments.append(start..<scratch.count)
        }
        return .command(consumed: newline + 1, inline: true)
    }

    @inline(__always)
    private static func isSpace(_ c: UInt8) -> Bool { c == 32 || c == 9 || c == 13 || c == 11 || c == 12 || c == 0 }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: c - 48
        case 97...102: c - 87
        case 65...70: c - 55
        default: nil
        }
    }
}
