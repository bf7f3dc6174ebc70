import Logging
import ShmKV
@testable import ShmKVServer
import TestSupport
import Testing
import Wire

/// A command stream applied as a replica applies its primary's: every write through the same handler
/// and plan as over RESP, replies discarded, in one batch of the writer's; anything else skipped.
@Suite("A command stream applied on the writer: the write handlers' plans, replies discarded")
struct StreamApplyTests {
    @Test("writes apply, refused writes and other commands change nothing, clients see the result")
    func appliesTheWritesOfAStream() throws {
        let dir = TemporaryDirectory("stream")
        defer { dir.remove() }
        var config = ServerConfiguration()
        config.dataDirectory = dir.file("data")
        config.socketPath = dir.file("s.sock")
        config.listen = nil
        config.threads = 1
        config.mapSize = 64 << 20
        config.ringPath = dir.file("ring")
        var logger = Logger(label: "stream-test")
        logger.logLevel = .critical
        let server = Server(configuration: config, logger: logger)
        try server.start()
        defer { server.stop(graceSeconds: 5) }
        guard let context = server.context else { Issue.record("no context after start"); return }
        let client = try Client(socketPath: dir.file("s.sock"), timeoutSeconds: 30)
        defer { client.close() }
        let messages = try client.subscribe(channels: [Array("ch".utf8)])
        defer { messages.close() }

        let stream: [[String]] = [
            ["SELECT", "0"], ["SET", "k", "v"], ["APPEND", "k", "w"], ["INCRBY", "n", "5"], ["incr", "n"],
            ["MSET", "a", "1", "b", "2"], ["DEL", "a", "nosuch"], ["EXPIRE", "b", "100"], ["GET", "k"], ["PING"],
            ["MULTI"], ["SET", "t", "x", "PX", "100000"], ["EXEC"], ["PUBLISH", "ch", "hi"],
            // Refused: not an integer (at the writer), a wrong number of arguments, an invalid time.
            ["INCR", "k"], ["SET", "k"], ["SETEX", "z", "-1", "v"],
            ["NOSUCHCOMMAND", "x"],
        ]
        let commands = stream.map { words in
            let bytes = words.flatMap { Array($0.utf8) }
            var ranges: [Range<Int>] = []
            var start = 0
            for word in words { ranges.append(start..<(start + word.utf8.count)); start += word.utf8.count }
            return bytes.withUnsafeBytes { OwnedArguments(RESPArguments(base: $0, ranges: ranges)) }
        }
        let result = try context.batcher.applyStream(commands, context: context)
        #expect(result == StreamApplied(applied: 9, refused: 3, skipped: 6))

        #expect(try client.get("k") == Array("vw".utf8))
        #expect(try client.get("n") == Array("6".utf8))
        #expect(try client.get("a") == nil)
        #expect(try client.get("z") == nil)
        guard case .expires(_, let left) = try client.ttl(Array("b".utf8)) else { Issue.record("b has no deadline"); return }
        #expect(left > 90_000 && left <= 100_000)
        guard case .expires = try client.ttl(Array("t".utf8)) else { Issue.record("t has no deadline"); return }
        // The stream's PUBLISH went out on the ring like any batch's message.
        let event = try messages.next(timeoutMilliseconds: 10_000)
        guard case .message(let message)? = event else { Issue.record("expected the stream's message, got \(String(describing: event))"); return }
        #expect(message.channel == Array("ch".utf8) && message.payload == Array("hi".utf8))
    }
}
