/// RESP reply encoders, writing straight into a connection's output buffer. Where RESP2 and RESP3
/// differ, the `resp3` argument picks the shape (a connection switches with `HELLO 3`).
public enum RESPWriter {
    @inlinable
    static func appendDecimal(_ n: Int, into out: inout [UInt8]) {
        if n == 0 { out.append(48); return }
        var v = n.magnitude
        if n < 0 { out.append(UInt8(ascii: "-")) }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { d in
            while v > 0 {
                d[count] = UInt8(48 + v % 10)
                v /= 10
                count += 1
            }
            for i in stride(from: count - 1, through: 0, by: -1) { out.append(d[i]) }
        }
    }

    @inlinable
    static func header(_ type: UInt8, _ n: Int, into out: inout [UInt8]) {
        out.append(type)
        appendDecimal(n, into: &out)
        out.append(13)
        out.append(10)
    }

    /// `+text` (text must not contain CR or LF).
    public static func simple(_ text: StaticString, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "+"))
        text.withUTF8Buffer { out.append(contentsOf: $0) }
        out.append(13); out.append(10)
    }

    /// `+text` for a run-time string (CR and LF are replaced by spaces).
    public static func simple(_ text: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "+"))
        for b in text.utf8 { out.append(b == 13 || b == 10 ? 32 : b) }
        out.append(13); out.append(10)
    }

    /// `+OK`.
    @inlinable
    public static func ok(into out: inout [UInt8]) {
        out.append(contentsOf: [UInt8(ascii: "+"), UInt8(ascii: "O"), UInt8(ascii: "K"), 13, 10])
    }

    /// `-message` (the message starts with its code, e.g. "ERR …", "WRONGTYPE …").
    public static func error(_ message: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "-"))
        for b in message.utf8 { out.append(b == 13 || b == 10 ? 32 : b) }
        out.append(13); out.append(10)
    }

    /// `:n`.
    @inlinable
    public static func integer(_ n: Int, into out: inout [UInt8]) { header(UInt8(ascii: ":"), n, into: &out) }

    /// `$len` + bytes.
    @inlinable
    public static func bulk(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        header(UInt8(ascii: "$"), bytes.count, into: &out)
        out.append(contentsOf: bytes)
        out.append(13); out.append(10)
    }

    /// `$len` + the bytes of an array, copied at once (the generic form below walks them one by one
    /// when it is not specialized across modules).
    public static func bulk(_ bytes: [UInt8], into out: inout [UInt8]) {
        bytes.withUnsafeBytes { bulk($0, into: &out) }
    }

    /// `$len` + bytes for an array or string.
    public static func bulk(_ bytes: some Collection<UInt8>, into out: inout [UInt8]) {
        header(UInt8(ascii: "$"), bytes.count, into: &out)
        out.append(contentsOf: bytes)
        out.append(13); out.append(10)
    }

    /// `$len` + the text's UTF-8 bytes; allocates the array, so for replies off the hot path only.
    public static func bulk(_ text: String, into out: inout [UInt8]) { bulk(Array(text.utf8), into: &out) }

    /// A command as a client sends it: an array of bulk strings (a replica's requests to its primary).
    public static func command(_ words: [String], into out: inout [UInt8]) {
        array(words.count, into: &out)
        for word in words { bulk(word, into: &out) }
    }

    /// A missing value: `$-1` in RESP2, `_` in RESP3.
    @inlinable
    public static func null(resp3: Bool, into out: inout [UInt8]) {
        if resp3 { out.append(contentsOf: [UInt8(ascii: "_"), 13, 10]) }
        else { out.append(contentsOf: [UInt8(ascii: "$"), UInt8(ascii: "-"), UInt8(ascii: "1"), 13, 10]) }
    }

    /// A missing array: `*-1` in RESP2, `_` in RESP3.
    public static func nullArray(resp3: Bool, into out: inout [UInt8]) {
        if resp3 { out.append(contentsOf: [UInt8(ascii: "_"), 13, 10]) }
        else { out.append(contentsOf: [UInt8(ascii: "*"), UInt8(ascii: "-"), UInt8(ascii: "1"), 13, 10]) }
    }

    /// `*n`; the n elements follow.
    @inlinable
    public static func array(_ count: Int, into out: inout [UInt8]) { header(UInt8(ascii: "*"), count, into: &out) }

    /// A map of `count` pairs: `%count` in RESP3, a flat array of 2×count in RESP2.
    public static func map(_ count: Int, resp3: Bool, into out: inout [UInt8]) {
        if resp3 { header(UInt8(ascii: "%"), count, into: &out) } else { array(count * 2, into: &out) }
    }

    /// A set: `~count` in RESP3, an array in RESP2.
    public static func set(_ count: Int, resp3: Bool, into out: inout [UInt8]) {
        header(resp3 ? UInt8(ascii: "~") : UInt8(ascii: "*"), count, into: &out)
    }

    /// A push message (pub/sub): `>count` in RESP3, an array in RESP2.
    public static func push(_ count: Int, resp3: Bool, into out: inout [UInt8]) {
        header(resp3 ? UInt8(ascii: ">") : UInt8(ascii: "*"), count, into: &out)
    }

    /// A boolean: `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
    public static func boolean(_ value: Bool, resp3: Bool, into out: inout [UInt8]) {
        if resp3 { out.append(contentsOf: [UInt8(ascii: "#"), value ? UInt8(ascii: "t") : UInt8(ascii: "f"), 13, 10]) }
        else { integer(value ? 1 : 0, into: &out) }
    }

    /// A double: `,text` in RESP3, a bulk string in RESP2.
    public static func double(_ value: Double, resp3: Bool, into out: inout [UInt8]) {
        let text = value.isInfinite ? (value < 0 ? "-inf" : "inf") : (value.isNaN ? "nan" : "\(value)")
        double(text: Array(text.utf8), resp3: resp3, into: &out)
    }

    /// A double already formatted (`text`, as the caller's rules print it): `,text` in RESP3, a bulk
    /// string in RESP2.
    public static func double(text: [UInt8], resp3: Bool, into out: inout [UInt8]) {
        if resp3 {
            out.append(UInt8(ascii: ","))
            out.append(contentsOf: text)
            out.append(13); out.append(10)
        } else {
            bulk(text, into: &out)
        }
    }

    /// A big number (a script's `{big_number=…}`): `(digits` in RESP3, a bulk string in RESP2.
    public static func bigNumber(_ text: String, resp3: Bool, into out: inout [UInt8]) {
        if resp3 {
            out.append(UInt8(ascii: "("))
            out.append(contentsOf: Array(text.utf8))
            out.append(13); out.append(10)
        } else {
            bulk(text, into: &out)
        }
    }

    /// Verbatim text (INFO, CLIENT LIST): `=len\r\ntxt:…` in RESP3, a bulk string in RESP2.
    public static func verbatim(_ text: String, resp3: Bool, into out: inout [UInt8]) {
        if resp3 {
            let bytes = Array(text.utf8)
            header(UInt8(ascii: "="), bytes.count + 4, into: &out)
            out.append(contentsOf: Array("txt:".utf8))
            out.append(contentsOf: bytes)
            out.append(13); out.append(10)
        } else {
            bulk(text, into: &out)
        }
    }
}
