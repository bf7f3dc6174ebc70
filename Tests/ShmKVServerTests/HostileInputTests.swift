import Foundation
import ShmKV
import TestSupport
import Testing
import Wire

/// Bytes no well-behaved client sends, compared byte for byte with what a real redis-server answers.
@Suite("Hostile input, against redis-server")
struct HostileInputTests {
    func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test("the 22-byte request that used to kill the daemon gets Redis's error, and every other connection lives on")
    func nineteenDigitCount() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let bystander = try RawConnection(unixPath: daemon.socketPath)
        bystander.send(respCommand("SET", "k", "v"))
        #expect(text(bystander.read(5)) == "+OK\r\n")
        let request = Array("*9999999999999999999\r\n".utf8)
        #expect(request.count == 22)
        let attacker = try RawConnection(unixPath: daemon.socketPath)
        attacker.send(request)
        let (reply, closed) = attacker.readUntilClosed()
        #expect(text(reply) == "-ERR Protocol error: invalid multibulk length\r\n")
        #expect(closed)
        bystander.send(respCommand("GET", "k"))
        #expect(text(bystander.read(7)) == "$1\r\nv\r\n")
        #expect(daemon.process.isRunning)
    }

    @Test("malformed header integers close the connection with Redis's exact error")
    func headerIntegersMatchRedis() throws {
        let redis = try RedisServer()
        let daemon = try Daemon()
        defer { daemon.stop() }
        let cases = [
            "*9999999999999999999\r\n", "*99999999999999999999\r\n", "*9223372036854775808\r\n", "*+1\r\n", "* 1\r\n",
            "*\r\n", "*01\r\n", "*-0\r\n", "*1x\r\n", "*1\r\n$9999999999999999999\r\n", "*1\r\n$99999999999999999999\r\n",
            "*1\r\n$-1\r\n", "*1\r\n$-9223372036854775808\r\n", "*1\r\n$+4\r\nPING\r\n", "*1\r\n$ 4\r\nPING\r\n",
            "*1\r\n$\r\n", "*1\r\n$04\r\nPING\r\n", "*1\r\n$-0\r\n", "*1\r\n$600000000\r\n",
        ]
        for input in cases {
            let bytes = Array(input.utf8)
            let expected = try RawConnection.exchange(unixPath: redis.socketPath, bytes)
            let got = try RawConnection.exchange(unixPath: daemon.socketPath, bytes)
            #expect(text(got) == text(expected), "\(input.debugDescription)")
        }
        // A negative count is an empty command: skipped, and the connection goes on.
        let skipped = Array("*-9223372036854775808\r\n*-1\r\nPING\r\n".utf8)
        #expect(text(try RawConnection.exchange(unixPath: daemon.socketPath, skipped))
                == text(try RawConnection.exchange(unixPath: redis.socketPath, skipped)))
    }

    @Test("numeric command arguments (INCRBY, DECRBY, GETRANGE, SCAN, SELECT, HELLO), multibulk and inline, answer as redis-server does")
    func numericArgumentsMatchRedis() throws {
        let redis = try RedisServer()
        let daemon = try Daemon()
        defer { daemon.stop() }
        let numbers = ["9999999999999999999", "99999999999999999999", "9223372036854775807", "9223372036854775808",
                       "-9223372036854775808", "-9223372036854775809", "+1", " 1", "1 ", "", "-0", "01", "1.5", "0x10"]
        var requests: [[UInt8]] = [respCommand("SET", "n", "10"), respCommand("SET", "s", "hello")]
        for x in numbers {
            requests.append(respCommand("INCRBY", "n", x))
            requests.append(respCommand("DECRBY", "n", x))
            requests.append(respCommand("SET", "n", "10"))
            requests.append(respCommand("GETRANGE", "s", x, "3"))
            requests.append(respCommand("GETRANGE", "s", "1", x))
            requests.append(respCommand("SCAN", "0", "MATCH", "none*", "COUNT", x))
            requests.append(respCommand("SELECT", x))
            requests.append(respCommand("HELLO", x))
        }
        for cursor in ["99999999999999999999", "18446744073709551616", " 1", "1 ", "x", "+", "-"] {
            requests.append(respCommand("SCAN", cursor))
        }
        requests.append(respCommand("SET", "max", "9223372036854775807"))
        requests.append(respCommand("INCR", "max"))
        requests.append(respCommand("INCRBY", "max", "-9223372036854775808"))
        requests.append(respCommand("SET", "min", "-9223372036854775808"))
        requests.append(respCommand("DECR", "min"))
        requests.append(respCommand("SET", "min", "-9223372036854775808"))
        requests.append(respCommand("DECRBY", "min", "1"))
        requests.append(respCommand("SET", "big", "99999999999999999999"))
        requests.append(respCommand("INCR", "big"))
        // Inline commands read their numbers the same way.
        for line in ["INCRBY n 99999999999999999999", "INCRBY n -9223372036854775808", "GETRANGE s -9223372036854775808 9223372036854775807",
                     "DECRBY n -9223372036854775808", "SCAN 0 COUNT 99999999999999999999", "SELECT 99999999999999999999"] {
            requests.append(Array("\(line)\r\n".utf8))
        }
        requests.append(respCommand("PING", "end"))
        let stream = requests.flatMap { $0 }
        let expected = text(try RawConnection.exchange(unixPath: redis.socketPath, stream, quietMilliseconds: 500))
        let got = text(try RawConnection.exchange(unixPath: daemon.socketPath, stream, quietMilliseconds: 500))
        #expect(expected.hasSuffix("$3\r\nend\r\n"))
        let expectedLines = expected.split(separator: "\r\n", omittingEmptySubsequences: false)
        let gotLines = got.split(separator: "\r\n", omittingEmptySubsequences: false)
        #expect(gotLines.count == expectedLines.count)
        for (i, (g, e)) in zip(gotLines, expectedLines).enumerated() {
            #expect(g == e, "reply line \(i)")
        }
        #expect(daemon.process.isRunning)
    }

    @Test("CONFIG, CLIENT and ACL without a subcommand (a fuzz finding that trapped the daemon) answer as redis-server does")
    func subcommandCommandsAlone() throws {
        let redis = try RedisServer()
        let daemon = try Daemon()
        defer { daemon.stop() }
        let stream = ["CONFIG", "CLIENT", "ACL", "PING"].flatMap { respCommand($0) }
        let expected = text(try RawConnection.exchange(unixPath: redis.socketPath, stream))
        #expect(text(try RawConnection.exchange(unixPath: daemon.socketPath, stream)) == expected)
        #expect(daemon.process.isRunning)
    }

    @Test("every fuzz regression and seed replays through the fuzz targets without a trap")
    func fuzzRegressionsReplay() throws {
        let root = FileManager.default.currentDirectoryPath + "/Tests/Fuzz"
        func files(_ folder: String) throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: root + "/" + folder).sorted().map { root + "/" + folder + "/" + $0 }
        }
        let regressions = try files("regressions")
        #expect(!regressions.isEmpty)
        let dir = TemporaryDirectory("shmkv-fuzz-replay")
        defer { dir.remove() }
        for (target, seeds) in [("fuzz-resp-decoder", "corpus/resp"), ("fuzz-native-decoder", "corpus/native"), ("fuzz-server", "corpus/server"),
                                ("fuzz-collection-records", "corpus/records"), ("fuzz-scripts", "corpus/scripts"), ("fuzz-rdb-decoder", "corpus/rdb"),
                                ("fuzz-replication-stream", "corpus/replication")] {
            let inputs = try files(seeds) + regressions
            let result = try runProcess(Products.path(target), inputs, environment: ["SHMKV_FUZZ_DIR": dir.file(target)])
            #expect(result.status == 0, "\(target): \(result.stderr)")
            #expect(result.stdout == "replayed \(inputs.count) inputs\n", "\(target)")
        }
    }

    @Test("native counts and lengths at their largest (u32 max, u16 max, a frame of 4 GiB) get BAD_REQUEST or FRAME_TOO_LARGE, never a trap")
    func nativeExtremes() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        func frame(_ op: UInt8, _ body: [UInt8], flags: UInt8 = 0, id: UInt32 = 1) -> [UInt8] {
            var out: [UInt8] = []
            out.appendLE(UInt32(6 + body.count)); out.append(op); out.append(flags); out.appendLE(id)
            return out + body
        }
        func le32(_ v: UInt32) -> [UInt8] { var o: [UInt8] = []; o.appendLE(v); return o }
        func le16(_ v: UInt16) -> [UInt8] { var o: [UInt8] = []; o.appendLE(v); return o }
        let cases: [(String, [UInt8], Status)] = [
            ("MGET of 2^32-1 keys", frame(Opcode.mget.rawValue, le32(.max) + le16(1) + [0x61]), .badRequest),
            ("MPUT of 2^32-1 pairs", frame(Opcode.mput.rawValue, le32(.max) + le16(1) + [0x61] + le32(0)), .badRequest),
            ("a key of 65535 bytes in 1", frame(Opcode.get.rawValue, le16(.max) + [0x61]), .badRequest),
            ("a value of 2^32-1 bytes in 1", frame(Opcode.put.rawValue, le16(1) + [0x61] + le32(.max) + [0x62]), .badRequest),
            ("SCAN with the largest limit", frame(Opcode.scan.rawValue, le16(0) + le16(0) + le32(.max) + le16(0)), .ok),
            ("INCRBY by Int64.min on nothing", frame(Opcode.incrBy.rawValue, le16(1) + [0x6e] + [0, 0, 0, 0, 0, 0, 0, 0x80]), .ok),
            ("INCRBY by Int64.min again", frame(Opcode.incrBy.rawValue, le16(1) + [0x6e] + [0, 0, 0, 0, 0, 0, 0, 0x80]), .overflow),
            ("an unknown PUT condition", frame(Opcode.put.rawValue, le16(1) + [0x61] + le32(0), flags: 255), .badRequest),
            ("an opcode past the last", frame(0xFF, []), .unknownOpcode),
        ]
        let connection = try RawConnection(unixPath: daemon.socketPath)
        connection.send(Native.clientHello())
        #expect(connection.read(Native.serverHelloSize).count == Native.serverHelloSize)
        for (what, bytes, status) in cases {
            connection.send(bytes)
            let header = connection.read(Native.headerSize)
            guard header.count == Native.headerSize else { Issue.record("\(what): no reply"); return }
            let length = Int(UInt32(header[0]) | UInt32(header[1]) << 8 | UInt32(header[2]) << 16 | UInt32(header[3]) << 24)
            let rest = connection.read(length - 6)
            #expect(header[4] == status.rawValue, "\(what): status \(header[4]) \(String(decoding: rest.dropFirst(2), as: UTF8.self))")
        }
        // A frame that says it is 4 GiB long: refused from its length field, then closed.
        connection.send([0xFF, 0xFF, 0xFF, 0xFF, 1, 0, 1, 0, 0, 0])
        let (reply, closed) = connection.readUntilClosed()
        #expect(closed)
        #expect(reply.count > 4 && reply[4] == Status.frameTooLarge.rawValue)
        #expect(try Client(socketPath: daemon.socketPath, timeoutSeconds: 10).ping(Array("alive".utf8)) == Array("alive".utf8))
    }
}
