import ShmKV
import TestSupport
import Testing
import Wire

/// CALL (opcode 0x11): the table's commands over the native protocol, through the same handlers and
/// checks as over RESP, answered with the same RESP2 reply.
@Suite("CALL: the RESP command table over the native protocol, reply for reply as over RESP")
struct NativeCallTests {
    /// Reads and writes of every kind, their errors, and commands not available over the native protocol.
    static let script: [[String]] = [
        ["SET", "k", "v"], ["GET", "k"], ["SET", "k", "w", "NX", "GET"], ["SET", "k", "x", "XX", "GET"], ["APPEND", "k", "yz"],
        ["STRLEN", "k"], ["GETRANGE", "k", "1", "-1"], ["INCR", "n"], ["INCRBY", "n", "41"], ["DECRBY", "n", "2"],
        ["INCRBYFLOAT", "f", "1.5"], ["INCR", "k"], ["MSET", "a", "1", "b", "2"], ["MGET", "a", "nosuch", "b"],
        ["MSETNX", "a", "3", "c", "4"], ["EXISTS", "a", "b", "c"], ["DEL", "a", "c"], ["TYPE", "b"], ["TYPE", "a"],
        ["RENAME", "b", "bb"], ["COPY", "bb", "cc"], ["EXPIRE", "cc", "1000"], ["PERSIST", "cc"], ["TTL", "cc"],
        ["SETRANGE", "k", "1", "AB"], ["GETDEL", "bb"], ["LCS", "k", "cc"], ["GETEX", "k", "PERSIST"], ["DBSIZE"],
        ["KEYS", "*"], ["SCAN", "0", "COUNT", "100"], ["OBJECT", "ENCODING", "n"], ["SETNX", "k", "q"],
        // Errors: Redis's texts, as results.
        ["SET", "k"], ["SET", "k", "v", "EX", "0"], ["GETRANGE", "k", "x", "1"], ["NOSUCH", "a", "b"], ["OBJECT", "NOSUCH", "k"],
        ["EXPIRE", "k", "10", "NX", "XX"], ["INCRBYFLOAT", "k", "x"],
    ]

    @Test("every command of the script answers over CALL exactly as over RESP (two daemons, same script)")
    func callMatchesRESP() throws {
        let native = try Daemon()
        defer { native.stop() }
        let resp = try Daemon()
        defer { resp.stop() }
        let client = try Client(socketPath: native.socketPath, timeoutSeconds: 30)
        defer { client.close() }
        let redis = try RESPClient(address: .unix(path: resp.socketPath), timeoutSeconds: 30)
        defer { redis.close() }
        for words in NativeCallTests.script {
            let arguments = words.map { Array($0.utf8) }
            let overCall = try client.call(arguments)
            let overRESP = try redis.command(arguments)
            #expect(overCall == overRESP, "\(words.joined(separator: " "))")
        }
    }

    @Test("commands about a RESP connection or the server are refused as results; AsyncClient calls too; a bad body is BAD_REQUEST")
    func notAvailableAndMalformed() async throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 30)
        defer { client.close() }
        guard case .error(let message) = try client.call("MULTI") else { Issue.record("MULTI was not refused"); return }
        #expect(message.hasPrefix("ERR 'multi' is not available over the native protocol"))
        guard case .error = try client.call("CLIENT", "ID") else { Issue.record("CLIENT ID was not refused"); return }
        let async = AsyncClient(address: .unix(path: daemon.socketPath), connections: 1)
        defer { async.close() }
        #expect(try await async.call("SET", "a", "1") == .simple("OK"))
        #expect(try await async.call("INCRBY", "a", "4") == .integer(5))
        #expect(try client.get("a") == Array("5".utf8))
        // Pipelined with native writes: replies in order, each seeing the writes before it.
        let replies = try client.pipeline([.put(key: Array("p".utf8), value: Array("1".utf8), condition: .always),
                                           .call(arguments: [Array("INCR".utf8), Array("p".utf8)]), .get(key: Array("p".utf8))])
        #expect(replies.map(\.body) == [.empty, .resp(.integer(2)), .value(Array("2".utf8))])
        // A CALL naming no command, or whose argument overruns the body, is BAD_REQUEST.
        var frame: [UInt8] = []
        let start = Native.beginFrame(code: Opcode.call.rawValue, requestID: 9, into: &frame)
        frame.appendLE(UInt32(0))
        Native.endFrame(at: start, in: &frame)
        let raw = try RawConnection(unixPath: daemon.socketPath)
        raw.send(Native.clientHello())
        #expect(raw.read(Native.serverHelloSize).count == Native.serverHelloSize)
        raw.send(frame)
        let header = raw.read(Native.headerSize)
        #expect(header.count == Native.headerSize && header[4] == Status.badRequest.rawValue)
    }
}
