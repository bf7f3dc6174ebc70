import Foundation

/// How values reach the terminal: text as it is, anything else escaped, never raw control bytes.
enum Display {
    /// Printable UTF-8 is shown as is; anything else — control bytes (tab and newline too, so that every
    /// entry stays on one line and a tab only ever separates fields), invalid UTF-8 — as a quoted string
    /// with `\n`, `\t`, `\"` and `\xNN` escapes, the way redis-cli shows binary values. A value that
    /// starts with a quote is quoted too, so the two forms cannot be confused.
    static func text(_ bytes: [UInt8]) -> String {
        if let s = String(validating: bytes, as: UTF8.self), bytes.first != UInt8(ascii: "\""),
           !s.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            return s
        }
        var out = "\""
        for b in bytes {
            switch b {
            case UInt8(ascii: "\""): out += "\\\""
            case UInt8(ascii: "\\"): out += "\\\\"
            case UInt8(ascii: "\n"): out += "\\n"
            case UInt8(ascii: "\r"): out += "\\r"
            case UInt8(ascii: "\t"): out += "\\t"
            case 0x20..<0x7F: out.unicodeScalars.append(Unicode.Scalar(b))
            default: out += String(format: "\\x%02x", b)
            }
        }
        return out + "\""
    }

    /// A JSON value for bytes: a string when they are UTF-8, else `{"base64": "…"}`.
    static func json(_ bytes: [UInt8]) -> Any {
        if let s = String(validating: bytes, as: UTF8.self) { return s }
        return ["base64": Data(bytes).base64EncodedString()]
    }

    /// Prints a JSON document on one line.
    static func printJSON(_ object: Any) {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .fragmentsAllowed])) ?? Data("null".utf8)
        FileHandle.standardOutput.write(data + Data("\n".utf8))
    }

    /// Writes bytes to stdout exactly.
    static func writeRaw(_ bytes: [UInt8]) {
        FileHandle.standardOutput.write(Data(bytes))
    }
}
