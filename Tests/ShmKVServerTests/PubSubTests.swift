import Foundation
import ShmKV
import TestSupport
import Testing
import Wire

/// The RESP push messages (message, pmessage, subscribe…) a connection has received so far, decoded.
private func pushes(_ connection: RawConnection, until done: ([[String]]) -> Bool) throws -> [[String]] {
    var bytes: [UInt8] = []
    var decoded: [[String]] = []
    let deadline = Date().addingTimeInterval(10)
    repeat {
        bytes += connection.readAvailable(quietMilliseconds: 100)
        decoded = []
        var offset = 0
        while let (reply, used) = try bytes[offset...].withUnsafeBytes({ try RESPReplyDecoder.decode($0) }) {
            offset += used
            guard case .array(let parts) = reply else { continue }
            decoded.append(parts.map { part in
                switch part {
                case .bulk(let b): String(decoding: b, as: UTF8.self)
                case .integer(let n): String(n)
                default: "\(part)"
                }
            })
        }
    } while !done(decoded) && Date() < deadline
    return decoded
}

@Suite("PUBLISH and SUBSCRIBE on the ring: RESP as redis-server, native, LocalStore and the CLI")
struct PubSubTests {
    @Test("PUBLISH's count, messages and pmessages, PUBSUB CHANNELS/NUMSUB/NUMPAT and their errors as redis-server")
    func respAsRedis() throws {
        let daemon = try Daemon()
        defer { _ = daemon.stop() }
        let redis = try RedisServer()
        let twin = try Twin(daemon, redis)
        var listeners: [(RawConnection, RawConnection)] = []
        for subscription in [["SUBSCRIBE", "ch1", "ch2"], ["PSUBSCRIBE", "ch*", "x?"], ["SUBSCRIBE", "ch1"]] {
            let pair = (try RawConnection(unixPath: daemon.socketPath), try RawConnection(unixPath: redis.socketPath))
            for c in [pair.0, pair.1] { c.send(respCommand(subscription)) }
            listeners.append(pair)
        }
        // Both servers have registered the subscriptions once PUBSUB NUMPAT and NUMSUB say so (each
        // connection's SUBSCRIBE is its own request: the patterns being there says nothing of the channels).
        #expect(try eventually { try twin.both(["PUBSUB", "NUMPAT"]) == (.integer(2), .integer(2)) })
        let counted = RESPReply.array([.bulk(Array("ch1".utf8)), .integer(2), .bulk(Array("ch2".utf8)), .integer(1)])
        #expect(try eventually { try twin.both(["PUBSUB", "NUMSUB", "ch1", "ch2"]) == (counted, counted) })
        let script: [[String]] = [
            ["PUBLISH", "ch1", "hello"], ["PUBLISH", "ch2", "two"], ["PUBLISH", "xy", "pattern only"], ["PUBLISH", "none", "x"],
            ["PUBLISH", "ch1", ""], ["PUBSUB", "NUMSUB", "ch1", "ch2", "ch3"], ["PUBSUB", "NUMSUB"], ["PUBSUB", "NUMPAT"],
            ["PUBSUB", "CHANNELS", "ch1*"], ["PUBSUB", "CHANNELS", "a", "b"], ["PUBSUB", "NUMPAT", "x"], ["PUBSUB", "FOO"],
            ["PUBSUB"], ["PUBLISH", "ch1"], ["PUBLISH", "ch1", "a", "b"],
        ]
        for words in script { try twin.expectSame(words) }
        let (mine, theirs) = try twin.both(["PUBSUB", "CHANNELS"])
        func sorted(_ reply: RESPReply) -> [RESPReply] {
            guard case .array(let items) = reply else { return [reply] }
            return items.sorted { "\($0)" < "\($1)" }
        }
        #expect(sorted(mine) == sorted(theirs))
        // Each subscriber saw the same confirmations and messages from both servers.
        for (index, expected) in [5, 6, 3].enumerated() {
            let a = try pushes(listeners[index].0) { $0.count >= expected }
            let b = try pushes(listeners[index].1) { $0.count >= expected }
            #expect(a == b && a.count == expected, "subscriber \(index): daemon \(a) vs redis-server \(b)")
        }
    }

    @Test("a message published after a write on the same connection arrives after the write's change, over RESP and in shared memory")
    func messagesFollowWrites() throws {
        let daemon = try Daemon()
        defer { _ = daemon.stop() }
        let store = try LocalStore(directory: daemon.dataDirectory)
        let changes = try store.subscribe(prefix: Array("k".utf8))
        let messages = try store.subscribeMessages(channels: [Array("c".utf8)])
        let subscriber = try RawConnection(unixPath: daemon.socketPath)
        subscriber.send(respCommand("SUBSCRIBE", "c", "__keyspace@0__:k"))
        _ = try pushes(subscriber) { $0.count >= 2 }
        // One pipelined write of SET then PUBLISH on one connection, over and over.
        let writer = try RawConnection(unixPath: daemon.socketPath)
        var pipeline: [UInt8] = []
        for i in 0..<20 { pipeline += respCommand("SET", "k", "v\(i)") + respCommand("PUBLISH", "c", "m\(i)") }
        writer.send(pipeline)
        let received = try pushes(subscriber) { $0.count >= 40 }
        var expected: [[String]] = []
        for i in 0..<20 { expected += [["message", "__keyspace@0__:k", "set"], ["message", "c", "m\(i)"]] }
        #expect(Array(received) == expected)
        // Locally: every message's sequence is above the change before it.
        var lastChange: UInt64 = 0
        for i in 0..<20 {
            guard case .change(let change)? = changes.next(timeoutMilliseconds: 10_000),
                  case .message(let message)? = messages.next(timeoutMilliseconds: 10_000) else {
                Issue.record("event \(i) missing")
                return
            }
            #expect(change.sequence > lastChange && message.sequence == change.sequence + 1)
            #expect(message.payload == Array("m\(i)".utf8))
            lastChange = change.sequence
        }
    }

    @Test("native SUBSCRIBE and PUBLISH, LocalStore.messages, AsyncClient, counts that leave out local readers, a message too large")
    func nativeAndLocal() async throws {
        let daemon = try Daemon(environment: ["SHMKV_RING_MAX_MESSAGE_SIZE": "1000"])
        defer { _ = daemon.stop() }
        let client = try Client(address: .unix(path: daemon.socketPath), timeoutSeconds: 10)
        let store = try LocalStore(directory: daemon.dataDirectory)
        let local = try store.subscribeMessages(channels: [Array("news".utf8)], patterns: [Array("n*".utf8)])
        #expect(try client.publish(Array("news".utf8), Array("nobody counted".utf8)) == 0)
        let remote = try client.subscribe(channels: [Array("news".utf8)], patterns: [Array("ne?s".utf8)])
        #expect(try client.publish(Array("news".utf8), Array("two".utf8)) == 2)
        guard case .message(let first)? = local.next(timeoutMilliseconds: 10_000),
              case .message(let second)? = local.next(timeoutMilliseconds: 10_000),
              case .message(let third)? = local.next(timeoutMilliseconds: 10_000) else {
            Issue.record("local messages missing")
            return
        }
        #expect(first.payload == Array("nobody counted".utf8) && first.pattern == nil)
        #expect(second.pattern == Array("n*".utf8) && third.payload == Array("two".utf8))
        guard case .message(let byName)? = try remote.next(timeoutMilliseconds: 10_000),
              case .message(let byPattern)? = try remote.next(timeoutMilliseconds: 10_000) else {
            Issue.record("remote messages missing")
            return
        }
        #expect(byName.payload == Array("two".utf8) && byName.pattern == nil)
        #expect(byPattern.pattern == Array("ne?s".utf8) && byPattern.sequence == byName.sequence)
        #expect(try redisCLI(daemon, ["PUBSUB", "NUMSUB", "news"]) == "news\n1")
        remote.close()
        #expect(eventually { (try? redisCLI(daemon, ["PUBSUB", "NUMSUB", "news"])) == "news\n0" })
        // Too large: channel and payload together over ring.maxMessageSize.
        #expect(try redisCLI(daemon, ["PUBLISH", "news", String(repeating: "x", count: 1000)])
            == "ERR message of 1004 bytes (channel and payload) exceeds the maximum of 1000 bytes (ring.maxMessageSize)")
        #expect(throws: ShmKVError.self) { try client.publish(Array("news".utf8), [UInt8](repeating: 1, count: 1000)) }
        // The async client.
        let pool = AsyncClient(address: .unix(path: daemon.socketPath), connections: 2)
        let stream = try pool.messages(channels: [Array("async".utf8)])
        #expect(try await pool.publish(Array("async".utf8), Array("hi".utf8)) == 1)
        var iterator = stream.makeAsyncIterator()
        guard case .message(let m)? = try await iterator.next() else { Issue.record("no async message"); return }
        #expect(m.payload == Array("hi".utf8))
        // The CLI: publish, subscribe locally (not counted) and over the socket.
        let cli = Products.path("shmkv")
        let socket = ["--socket", daemon.socketPath]
        let localCLI = try ChildProcess(cli, socket + ["subscribe", "cli", "--data-dir", daemon.dataDirectory, "--count", "1"])
        let remoteCLI = try ChildProcess(cli, socket + ["subscribe", "--pattern", "c?i", "--remote", "--count", "1", "--json"])
        #expect(eventually { (try? redisCLI(daemon, ["PUBSUB", "NUMPAT"])) == "1" })
        usleep(300_000)  // the local reader has no registration to wait for; give it time to open the ring
        #expect(try runProcess(cli, socket + ["publish", "cli", "hello there"]).stdout == "1\n")
        #expect(localCLI.readLine()?.hasPrefix("message ") == true)
        let json = remoteCLI.readLine() ?? ""
        #expect(json.contains("\"pattern\":\"c?i\"") && json.contains("\"payload\":\"hello there\""), "\(json)")
        #expect(localCLI.wait() == 0 && remoteCLI.wait() == 0)
    }
}
