import Testing
import Wire

/// The client side of RESP2: replies decoded from any split of the bytes, hostile input refused with an
/// error, and redis-cli's two output forms (compared with redis-cli itself in CLIRawTests).
@Suite struct RESPReplyTests {
    func decode(_ text: String) throws -> (RESPReply, Int)? {
        try Array(text.utf8).withUnsafeBytes { raw in
            Result { () throws(WireError) in try RESPReplyDecoder.decode(raw) }
        }.get()
    }

    @Test func everyTypeDecodesAndEveryPrefixAsksForMore() throws {
        let stream = "*6\r\n+OK\r\n-ERR bad\r\n:-42\r\n$5\r\na\r\nbc\r\n$-1\r\n*2\r\n*0\r\n*-1\r\n"
        let expected = RESPReply.array([.simple("OK"), .error("ERR bad"), .integer(-42), .bulk(Array("a\r\nbc".utf8)),
                                         .null, .array([.array([]), .null])])
        let whole = try #require(try decode(stream))
        #expect(whole.0 == expected && whole.1 == stream.utf8.count)
        for cut in 0..<stream.utf8.count {
            let prefix = String(decoding: Array(stream.utf8)[..<cut], as: UTF8.self)
            #expect(try decode(prefix) == nil, "a prefix of \(cut) bytes decoded")
        }
        // Trailing bytes of the next reply are left alone.
        #expect(try decode(":1\r\n:2\r\n")?.1 == 4)
    }

    @Test(arguments: ["!oops\r\n", ":12x\r\n", "$-2\r\n", "$3\r\nabcd\r\n", "*-2\r\n", "$536870913\r\n", ":99999999999999999999\r\n"])
    func malformedRepliesThrow(_ text: String) {
        #expect(throws: WireError.self) { try decode(text) }
    }

    @Test func nestingAndCountsAreBounded() throws {
        let deep = String(repeating: "*1\r\n", count: RESPReplyDecoder.maxDepth + 1) + ":1\r\n"
        #expect(throws: WireError.self) { try decode(deep) }
        let fine = String(repeating: "*1\r\n", count: RESPReplyDecoder.maxDepth) + ":1\r\n"
        #expect(try decode(fine) != nil)
        // A huge count with nothing behind it waits for bytes; it reserves nothing.
        #expect(try decode("*9223372036854775807\r\n") == nil)
    }

    @Test func redisCLIForms() {
        let reply = RESPReply.array([.bulk(Array("a\"\\\n\u{1}é".utf8)), .null, .integer(7), .array([.simple("x"), .array([])])])
        #expect(String(decoding: reply.redisCLIText(tty: true), as: UTF8.self)
                == "1) \"a\\\"\\\\\\n\\x01\\xc3\\xa9\"\n2) (nil)\n3) (integer) 7\n4) 1) x\n   2) (empty array)\n")
        #expect(String(decoding: reply.redisCLIText(tty: false), as: UTF8.self) == "a\"\\\n\u{1}é\n\n7\nx\n\n")
        #expect(String(decoding: RESPReply.error("ERR x").redisCLIText(tty: true), as: UTF8.self) == "(error) ERR x\n")
        #expect(String(decoding: RESPReply.error("ERR x").redisCLIText(tty: false), as: UTF8.self) == "ERR x\n\n")
    }
}
