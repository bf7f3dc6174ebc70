import TestSupport
import Testing
@testable import Wire

/// Decodes every complete command in `stream`, feeding it in pieces of `split` bytes the way a socket
/// would; returns the commands and the bytes left over.
func decodeAll(_ stream: [UInt8], split: Int = Int.max, limits: RESPLimits = RESPLimits()) throws(RESPProtocolError) -> [[[UInt8]]] {
    var buffer: [UInt8] = []
    var commands: [[[UInt8]]] = []
    var arguments: [Range<Int>] = []
    var scratch: [UInt8] = []
    var fed = 0
    while fed < stream.count || !buffer.isEmpty {
        if fed < stream.count {
            let n = min(split, stream.count - fed)
            buffer += stream[fed..<(fed + n)]
            fed += n
        }
        while true {
            let result = try buffer.withUnsafeBytes { b in
                Result { () throws(RESPProtocolError) in
                    try RESPDecoder.decode(b, limits: limits, arguments: &arguments, scratch: &scratch)
                }
            }.get()
            guard case .command(let consumed, let inline) = result else { break }
            let source = inline ? scratch : buffer
            if !arguments.isEmpty { commands.append(arguments.map { Array(source[$0]) }) }
            buffer.removeFirst(consumed)
            if buffer.isEmpty { break }
        }
        if fed == stream.count { break }
    }
    return commands
}

func b(_ s: String) -> [UInt8] { Array(s.utf8) }

@Suite("RESP codec")
struct RESPCodecTests {
    let pipelined = b("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nv\r\nal\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n*0\r\nset \"a b\" 'c\\'d' \"\\x41\\n\"\n*1\r\n$0\r\n\r\n")
    var expected: [[[UInt8]]] {
        [[b("SET"), b("k"), b("v\r\nal")], [b("GET"), b("k")], [b("PING")], [b("set"), b("a b"), b("c'd"), b("A\n")], [b("")]]
    }

    @Test("a pipelined stream of multibulk and inline commands decodes the same at every byte split")
    func everySplit() throws {
        for split in 1...pipelined.count {
            #expect(try decodeAll(pipelined, split: split) == expected, "split \(split)")
        }
    }

    @Test("bad lengths, wrong prefixes, unterminated lines and unbalanced quotes are protocol errors")
    func errors() {
        let cases: [(String, String)] = [
            ("*abc\r\n", "invalid multibulk length"),
            ("*2000000\r\n", "invalid multibulk length"),
            ("*99999999999999999999\r\n", "invalid multibulk length"),
            ("*1\r\n$-5\r\n", "invalid bulk length"),
            ("*1\r\n$600000000\r\n", "invalid bulk length"),
            ("*1\r\n$x\r\n", "invalid bulk length"),
            ("*1\r\n:5\r\n", "expected '$', got ':'"),
            ("*1\r\n$1\r\nabc\r\n", "expected CRLF after a bulk string of 1 bytes"),
            ("set \"abc\n", "unbalanced quotes in request"),
            ("set 'a'b\n", "unbalanced quotes in request"),
        ]
        for (input, message) in cases {
            #expect(throws: RESPProtocolError(message), "\(input.debugDescription)") { try decodeAll(b(input)) }
        }
        // No line end within the limits: an error, not an endless wait.
        let small = RESPLimits(maxBulkLength: 1 << 20, maxMultibulkCount: 100, maxInlineLength: 1024)
        #expect(throws: RESPProtocolError("too big inline request")) { try decodeAll([UInt8](repeating: 65, count: 2000), limits: small) }
        #expect(throws: RESPProtocolError("too big mbulk count string")) { try decodeAll(b("*") + [UInt8](repeating: 49, count: 2000), limits: small) }
        #expect(throws: RESPProtocolError("invalid multibulk length")) { try decodeAll(b("*101\r\n"), limits: small) }
    }

    @Test("every integer form on a header line: overflow, +, spaces, empty, leading zeros, -0, 19 and 20 digits")
    func headerIntegers() throws {
        // The 22-byte request that used to trap the daemon: 19 digits overflowed the count arithmetic.
        #expect(throws: RESPProtocolError("invalid multibulk length")) { try decodeAll(b("*9999999999999999999\r\n")) }
        let badCounts = ["9999999999999999999", "99999999999999999999", "9223372036854775807", "9223372036854775808",
                         "-9223372036854775809", "+1", " 1", "1 ", "", "-", "-0", "01", "1x", "0x10", "2147483648"]
        for text in badCounts {
            #expect(throws: RESPProtocolError("invalid multibulk length"), "*\(text)") { try decodeAll(b("*\(text)\r\n")) }
        }
        let badLengths = ["9999999999999999999", "99999999999999999999", "9223372036854775807", "-9223372036854775808",
                          "-1", "+1", " 1", "", "-", "-0", "01", "536870913"]
        for text in badLengths {
            #expect(throws: RESPProtocolError("invalid bulk length"), "$\(text)") { try decodeAll(b("*1\r\n$\(text)\r\n")) }
        }
        // Negative and -9223372036854775808 counts are an empty command, as in Redis: skipped.
        #expect(try decodeAll(b("*-9223372036854775808\r\n*-1\r\n*1\r\n$4\r\nPING\r\n")) == [[b("PING")]])
        #expect(try decodeAll(b("*1\r\n$0\r\n\r\n")) == [[b("")]])
    }

    @Test("before AUTH, Redis's limits: at most 10 arguments, bulk strings of at most 16 KiB")
    func unauthenticatedLimits() throws {
        let guest = RESPLimits(authenticated: false)
        #expect(try decodeAll(b("*10\r\n") + Array(repeating: b("$1\r\na\r\n"), count: 10).joined(), limits: guest).count == 1)
        #expect(throws: RESPProtocolError("unauthenticated multibulk length")) { try decodeAll(b("*11\r\n"), limits: guest) }
        #expect(throws: RESPProtocolError("unauthenticated bulk length")) { try decodeAll(b("*1\r\n$16385\r\n"), limits: guest) }
        #expect(try decodeAll(b("*1\r\n$16384\r\n") + [UInt8](repeating: 65, count: 16384) + b("\r\n"), limits: guest).count == 1)
        #expect(throws: RESPProtocolError("invalid multibulk length")) { try decodeAll(b("*99999999999999999999\r\n"), limits: guest) }
    }

    @Test("a huge declared bulk length waits for its bytes without allocating them")
    func hugeBulkWaits() throws {
        var arguments: [Range<Int>] = []
        var scratch: [UInt8] = []
        let partial = b("*1\r\n$500000000\r\nabc")
        let result = try partial.withUnsafeBytes { p in
            try RESPDecoder.decode(p, limits: RESPLimits(), arguments: &arguments, scratch: &scratch)
        }
        #expect(result == .needMore)
    }

    @Test("random garbage is decoded or refused with one of Redis's protocol errors")
    func garbage() {
        let seed = UInt64.random(in: 0...UInt64.max)
        var rng = SplitMix64(seed: seed)
        let alphabet = b("*$\r\n0123456789-: abc\"'\\x")
        let known = ["invalid multibulk length", "invalid bulk length", "expected '$', got", "expected CRLF after a bulk string",
                     "unbalanced quotes in request", "too big inline request", "too big mbulk count string", "too big bulk count string"]
        var refused = 0
        for round in 0..<20_000 {
            let input = (0..<Int.random(in: 0...40, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }
            do throws(RESPProtocolError) {
                _ = try decodeAll(input, split: Int.random(in: 1...8, using: &rng))
            } catch {
                refused += 1
                if !known.contains(where: { error.message.hasPrefix($0) }) {
                    Issue.record("seed \(seed), round \(round): unexpected error '\(error.message)' for \(input)")
                }
            }
        }
        #expect(refused > 1000, "seed \(seed): only \(refused) of 20000 garbage inputs refused")
    }

    @Test("every reply type, in RESP2 and RESP3")
    func replies() {
        func encode(_ body: (inout [UInt8]) -> Void) -> String {
            var out: [UInt8] = []
            body(&out)
            return String(decoding: out, as: UTF8.self)
        }
        #expect(encode { RESPWriter.ok(into: &$0) } == "+OK\r\n")
        #expect(encode { RESPWriter.simple("PONG", into: &$0) } == "+PONG\r\n")
        #expect(encode { RESPWriter.error("ERR bad\r\nthing", into: &$0) } == "-ERR bad  thing\r\n")
        #expect(encode { RESPWriter.integer(-42, into: &$0) } == ":-42\r\n")
        #expect(encode { RESPWriter.integer(0, into: &$0) } == ":0\r\n")
        #expect(encode { RESPWriter.integer(Int.min, into: &$0) } == ":-9223372036854775808\r\n")
        #expect(encode { RESPWriter.bulk(b("a\r\nb"), into: &$0) } == "$4\r\na\r\nb\r\n")
        #expect(encode { RESPWriter.bulk([UInt8](), into: &$0) } == "$0\r\n\r\n")
        #expect(encode { RESPWriter.null(resp3: false, into: &$0) } == "$-1\r\n")
        #expect(encode { RESPWriter.null(resp3: true, into: &$0) } == "_\r\n")
        #expect(encode { RESPWriter.nullArray(resp3: false, into: &$0) } == "*-1\r\n")
        #expect(encode { RESPWriter.array(2, into: &$0) } == "*2\r\n")
        #expect(encode { RESPWriter.map(2, resp3: true, into: &$0) } == "%2\r\n")
        #expect(encode { RESPWriter.map(2, resp3: false, into: &$0) } == "*4\r\n")
        #expect(encode { RESPWriter.set(3, resp3: true, into: &$0) } == "~3\r\n")
        #expect(encode { RESPWriter.push(3, resp3: true, into: &$0) } == ">3\r\n")
        #expect(encode { RESPWriter.push(3, resp3: false, into: &$0) } == "*3\r\n")
        #expect(encode { RESPWriter.boolean(true, resp3: true, into: &$0) } == "#t\r\n")
        #expect(encode { RESPWriter.boolean(false, resp3: false, into: &$0) } == ":0\r\n")
        #expect(encode { RESPWriter.double(1.5, resp3: true, into: &$0) } == ",1.5\r\n")
        #expect(encode { RESPWriter.double(1.5, resp3: false, into: &$0) } == "$3\r\n1.5\r\n")
        #expect(encode { RESPWriter.verbatim("a:1", resp3: true, into: &$0) } == "=7\r\ntxt:a:1\r\n")
        #expect(encode { RESPWriter.verbatim("a:1", resp3: false, into: &$0) } == "$3\r\na:1\r\n")
    }
}
