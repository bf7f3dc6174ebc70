import TestSupport
import Testing
@testable import Wire

/// One request of every opcode and shape, for round trips and stream splits.
let everyRequest: [Request] = [
    .ping(payload: []),
    .ping(payload: Array("hello".utf8)),
    .get(key: Array("k".utf8)),
    .get(key: [UInt8](repeating: 0xFF, count: 511)),
    .mget(keys: [Array("a".utf8), Array("bb".utf8), [0, 1, 2]]),
    .mget(keys: []),
    .put(key: Array("k".utf8), value: Array("v".utf8), condition: .always),
    .put(key: Array("k".utf8), value: [], condition: .ifAbsent),
    .put(key: Array("k".utf8), value: [UInt8](repeating: 9, count: 70_000), condition: .ifPresent),
    .delete(key: Array("gone".utf8)),
    .mput([KeyValue(key: Array("x".utf8), value: Array("1".utf8)), KeyValue(key: Array("y".utf8), value: [])]),
    .mput([]),
    .scan(ScanQuery(mode: .prefix, start: Array("user:".utf8), limit: 10)),
    .scan(ScanQuery(mode: .range, start: Array("a".utf8), end: Array("m".utf8), limit: 0, after: Array("c".utf8))),
    .incrBy(key: Array("n".utf8), delta: -42),
    .incrBy(key: Array("n".utf8), delta: Int64.max),
    .stats,
    .transaction([
        .put(key: Array("a".utf8), value: Array("1".utf8)),
        .put(key: Array("b".utf8), value: [], expiry: .after(milliseconds: 1500), condition: .absent),
        .put(key: Array("c".utf8), value: [7], expiry: .keep, condition: .equals(Array("old".utf8))),
        .delete(key: Array("d".utf8), condition: .present),
        .incrBy(key: Array("n".utf8), delta: -3, condition: .equals([])),
    ]),
    .call(arguments: [Array("SET".utf8), Array("k".utf8), [], [0, 13, 10, 255]]),
    .call(arguments: [Array("PING".utf8)]),
]

/// Decodes every whole frame in `bytes` into owned requests; throws the first codec error.
func decodeRequests(_ bytes: [UInt8], maxFrameSize: Int = Native.defaultMaxFrameSize) throws -> (requests: [(UInt32, Request)], rest: Int) {
    var out: [(UInt32, Request)] = []
    var offset = 0
    try bytes.withUnsafeBytes { raw in
        while true {
            switch try Native.decodeFrame(UnsafeRawBufferPointer(rebasing: raw[offset...]), maxFrameSize: maxFrameSize) {
            case .needMore: return
            case .frame(let header, let body, let consumed):
                out.append((header.requestID, Request(try RequestView(header: header, body: body))))
                offset += consumed
            }
        }
    }
    return (out, bytes.count - offset)
}

@Suite struct NativeRequestTests {
    @Test(arguments: everyRequest.indices)
    func everyOperationRoundTrips(index: Int) throws {
        let request = everyRequest[index]
        let bytes = request.encoded(requestID: UInt32(1000 + index))
        let (decoded, rest) = try decodeRequests(bytes)
        #expect(rest == 0)
        #expect(decoded.count == 1)
        #expect(decoded.first?.0 == UInt32(1000 + index))
        #expect(decoded.first?.1 == request)
        #expect(bytes.count >= Native.headerSize)
        // The length field counts every byte after itself.
        let length = Int(bytes[0]) | Int(bytes[1]) << 8 | Int(bytes[2]) << 16 | Int(bytes[3]) << 24
        #expect(length == bytes.count - 4)
        #expect(bytes[4] == request.opcode.rawValue)
    }

    @Test func getFrameIsByteExact() {
        // As docs/PROTOCOL.md shows: length 9, opcode 2, flags 0, id 7, key length 1, 'a'.
        #expect(Request.get(key: [0x61]).encoded(requestID: 7) ==
                [0x09, 0, 0, 0, 0x02, 0x00, 0x07, 0, 0, 0, 0x01, 0x00, 0x61])
    }

    @Test func everyByteSplitOfAPipelinedStreamDecodesTheSame() throws {
        var stream: [UInt8] = []
        // Smaller requests only, so that every split point is affordable.
        let requests = everyRequest.filter { $0.encoded(requestID: 0).count < 2048 }
        for (i, r) in requests.enumerated() { r.encode(requestID: UInt32(i), into: &stream) }
        let whole = try decodeRequests(stream).requests.map(\.1)
        #expect(whole == requests)
        for split in 0...stream.count {
            // Feed the first part, decode what is whole, then append the rest and continue.
            var buffer = Array(stream[..<split])
            let first = try decodeRequests(buffer)
            buffer.removeFirst(buffer.count - first.rest)
            buffer += stream[split...]
            let second = try decodeRequests(buffer)
            #expect(second.rest == 0)
            #expect(first.requests.map(\.1) + second.requests.map(\.1) == requests, "split at \(split)")
        }
    }

    @Test func oneByteAtATimeDecodesTheSame() throws {
        var stream: [UInt8] = []
        for (i, r) in everyRequest.enumerated() { r.encode(requestID: UInt32(i), into: &stream) }
        var buffer: [UInt8] = []
        var decoded: [Request] = []
        for byte in stream {
            buffer.append(byte)
            let step = try decodeRequests(buffer)
            decoded += step.requests.map(\.1)
            buffer.removeFirst(buffer.count - step.rest)
        }
        #expect(decoded == everyRequest)
        #expect(buffer.isEmpty)
    }

    @Test func truncatedFramesAskForMore() throws {
        let bytes = Request.put(key: Array("key".utf8), value: Array("value".utf8), condition: .always).encoded(requestID: 1)
        for cut in 0..<bytes.count {
            let (decoded, rest) = try decodeRequests(Array(bytes[..<cut]))
            #expect(decoded.isEmpty)
            #expect(rest == cut)
        }
    }

    @Test func oversizedFrameIsRefusedFromItsLengthAlone() {
        // Only the 4-byte length has arrived: the decoder must refuse without waiting for 1 GiB.
        let header: [UInt8] = [0x00, 0x00, 0x00, 0x40]
        #expect(throws: WireError.frameTooLarge(length: 0x4000_0004, limit: 1 << 20)) {
            _ = try decodeRequests(header, maxFrameSize: 1 << 20)
        }
        let big = Request.put(key: [1], value: [UInt8](repeating: 0, count: 2000), condition: .always).encoded(requestID: 1)
        #expect(throws: WireError.self) { _ = try decodeRequests(big, maxFrameSize: 1024) }
    }

    @Test func lengthBelowTheHeaderIsMalformed() {
        #expect(throws: WireError.malformed("frame length 3 is below the minimum 6")) {
            _ = try decodeRequests([3, 0, 0, 0, 1, 0, 0])
        }
    }

    @Test func unknownOpcodeIsReportedWithTheFrameIntact() throws {
        var bytes: [UInt8] = []
        let start = Native.beginFrame(code: 0x7E, requestID: 5, into: &bytes)
        Native.endFrame(at: start, in: &bytes)
        #expect(throws: WireError.unknownOpcode(0x7E)) { _ = try decodeRequests(bytes) }
    }

    @Test func bodiesThatLieAboutTheirLengthsAreMalformed() {
        // GET whose key length says 10 but carries 2 bytes.
        var bytes: [UInt8] = []
        var s = Native.beginFrame(code: Opcode.get.rawValue, requestID: 1, into: &bytes)
        bytes += [10, 0, 0x61, 0x62]
        Native.endFrame(at: s, in: &bytes)
        #expect(throws: WireError.malformed("truncated key")) { _ = try decodeRequests(bytes) }
        // MGET claiming four billion keys in a tiny body: refused without reserving anything.
        bytes = []
        s = Native.beginFrame(code: Opcode.mget.rawValue, requestID: 2, into: &bytes)
        bytes += [0xFF, 0xFF, 0xFF, 0xFF, 1, 0, 0x61]
        Native.endFrame(at: s, in: &bytes)
        #expect(throws: WireError.self) { _ = try decodeRequests(bytes) }
        // Trailing bytes after a complete body.
        bytes = []
        s = Native.beginFrame(code: Opcode.stats.rawValue, requestID: 3, into: &bytes)
        bytes += [1, 2, 3]
        Native.endFrame(at: s, in: &bytes)
        #expect(throws: WireError.malformed("3 unexpected trailing bytes")) { _ = try decodeRequests(bytes) }
        // PUT with both conditions set.
        bytes = []
        s = Native.beginFrame(code: Opcode.put.rawValue, flags: 3, requestID: 4, into: &bytes)
        bytes.appendKey([1]); bytes.appendValue([2])
        Native.endFrame(at: s, in: &bytes)
        #expect(throws: WireError.malformed("unknown PUT flags 3")) { _ = try decodeRequests(bytes) }
        // TXN: no operation, an unknown kind, an unknown condition, a count beyond the body.
        for (body, error) in [([0, 0, 0, 0], "TXN holds no operation"), ([1, 0, 0, 0, 9, 0, 1, 0, 0x61], "unknown TXN operation kind"),
                              ([1, 0, 0, 0, 2, 4, 1, 0, 0x61], "unknown TXN condition 4"),
                              ([0xFF, 0xFF, 0, 0, 2, 0, 1, 0, 0x61], "operation count 65535 exceeds the body")] as [([UInt8], String)] {
            bytes = []
            s = Native.beginFrame(code: Opcode.transaction.rawValue, requestID: 5, into: &bytes)
            bytes += body
            Native.endFrame(at: s, in: &bytes)
            #expect(throws: WireError.malformed(error)) { _ = try decodeRequests(bytes) }
        }
    }

    @Test func randomGarbageIsDecodedOrRefusedAsMalformed() {
        let seed: UInt64 = 0x5EED
        var rng = SplitMix64(seed: seed)
        var refused = 0
        for round in 0..<20_000 {
            let count = Int(rng.next() % 64)
            var bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            // Half the rounds get a plausible length so bodies are parsed too.
            if round % 2 == 0, bytes.count >= 10 {
                let length = UInt32(bytes.count - 4)
                bytes.storeLE(length, at: 0)
                bytes[4] = UInt8(rng.next() % 12)
            }
            do {
                _ = try decodeRequests(bytes, maxFrameSize: 4096)
            } catch let error as WireError {
                refused += 1
                // Only these: the decoder never mistakes garbage for a handshake.
                switch error {
                case .malformed, .unknownOpcode, .frameTooLarge: break
                case .badMagic: Issue.record("seed \(seed), round \(round): \(error) from a frame decoder")
                }
            } catch {
                Issue.record("seed \(seed), round \(round): \(error) is not a WireError")
            }
        }
        // Garbage is mostly refused: a decoder that accepted everything would be wrong too.
        #expect(refused > 1000, "seed \(seed): only \(refused) of 20000 garbage inputs refused")
    }
}

@Suite struct HandshakeTests {
    @Test func clientHelloRoundTrip() throws {
        let hello = Native.clientHello()
        #expect(hello == [0xA5, 0x53, 0x4B, 0x56, 1, 0, 0, 0])
        let version = try hello.withUnsafeBytes { try Native.parseClientHello($0) }
        #expect(version == 1)
        let partial = try hello.withUnsafeBytes { try Native.parseClientHello(UnsafeRawBufferPointer(rebasing: $0[..<5])) }
        #expect(partial == nil)
    }

    @Test func badMagicIsRefusedAtTheFirstWrongByte() {
        #expect(throws: WireError.badMagic) { try [0xA5, 0x00].withUnsafeBytes { try Native.parseClientHello($0) } }
        #expect(throws: WireError.badMagic) {
            try Array("GET / HTTP/1.1".utf8).withUnsafeBytes { try Native.parseClientHello($0) }
        }
    }

    @Test func serverHelloCarriesStatusAndFrameLimit() throws {
        let hello = Native.serverHello(status: .ok, maxFrameSize: 123_456)
        #expect(hello.count == Native.serverHelloSize)
        let parsed = try hello.withUnsafeBytes { try Native.parseServerHello($0) }
        #expect(parsed?.status == .ok)
        #expect(parsed?.maxFrameSize == 123_456)
        let refused = try Native.serverHello(status: .unsupportedVersion, maxFrameSize: 0).withUnsafeBytes { try Native.parseServerHello($0) }
        #expect(refused?.status == .unsupportedVersion)
    }
}

/// Reply bodies of every kind, with the opcode each answers.
let everyReply: [(Opcode, Reply)] = [
    (.ping, Reply(status: .ok, requestID: 1, body: .payload(Array("pong".utf8)))),
    (.get, Reply(status: .ok, requestID: 2, body: .value([0, 1, 2]))),
    (.get, Reply(status: .notFound, requestID: 3, body: .empty)),
    (.mget, Reply(status: .ok, requestID: 4, body: .values([[1], nil, []]))),
    (.put, Reply(status: .ok, requestID: 5, body: .empty)),
    (.put, Reply(status: .conditionFailed, requestID: 6, body: .empty)),
    (.delete, Reply(status: .ok, requestID: 7, body: .deleted(true))),
    (.mput, Reply(status: .ok, requestID: 8, body: .empty)),
    (.scan, Reply(status: .ok, requestID: 9, body: .scanPage(entries: [KeyValue(key: [1], value: [2])], more: true))),
    (.incrBy, Reply(status: .ok, requestID: 10, body: .integer(-7))),
    (.stats, Reply(status: .ok, requestID: 11, body: .stats([StatEntry(name: "keys", value: 3)]))),
    (.get, Reply(status: .invalidKey, requestID: 12, body: .message("key must not be empty"))),
    (.incrBy, Reply(status: .notInteger, requestID: 13, body: .message("value is not an integer or out of range"))),
    (.transaction, Reply(status: .ok, requestID: 14, body: .results([1, 0, -5]))),
    (.transaction, Reply(status: .conditionFailed, requestID: 15, body: .failedCondition(index: 2))),
    (.transaction, Reply(status: .overflow, requestID: 16, body: .message("operation 1: increment or decrement would overflow"))),
    (.call, Reply(status: .ok, requestID: 17, body: .resp(.array([.simple("OK"), .error("WRONGTYPE Operation against a key holding the wrong kind of value"),
                                                                 .integer(-3), .bulk([0, 13, 10]), .null, .array([])])))),
]

@Suite struct NativeReplyTests {
    @Test func everyReplyRoundTrips() throws {
        for (op, reply) in everyReply {
            var bytes: [UInt8] = []
            reply.encode(into: &bytes)
            let decoded = try bytes.withUnsafeBytes { raw -> Reply in
                guard case .frame(let header, let body, let consumed) = try Native.decodeFrame(raw, maxFrameSize: 1 << 20) else {
                    Issue.record("incomplete"); return reply
                }
                #expect(consumed == bytes.count)
                return try Reply(header: header, body: body, answering: op)
            }
            #expect(decoded == reply)
        }
    }

    @Test func replyWriterMatchesWholeReplies() {
        var piecewise: [UInt8] = []
        var whole: [UInt8] = []
        [UInt8]([4, 5]).withUnsafeBytes { ReplyWriter.value($0, requestID: 9, into: &piecewise) }
        Reply(status: .ok, requestID: 9, body: .value([4, 5])).encode(into: &whole)
        ReplyWriter.integer(12, requestID: 1, into: &piecewise)
        Reply(status: .ok, requestID: 1, body: .integer(12)).encode(into: &whole)
        ReplyWriter.error(.badRequest, "nope", requestID: 2, into: &piecewise)
        Reply(status: .badRequest, requestID: 2, body: .message("nope")).encode(into: &whole)
        #expect(piecewise == whole)
    }
}

