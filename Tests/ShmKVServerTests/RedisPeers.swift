import Foundation
import ShmKV
import TestSupport
import Testing
import Wire

/// Two RESP connections, one to the daemon and one to a real redis-server, fed the same commands.
final class Twin: @unchecked Sendable {
    // Invariant: used from one test at a time.
    let daemon: RESPClient
    let redis: RESPClient

    init(_ daemon: Daemon, _ redis: RedisServer) throws {
        self.daemon = try RESPClient(address: .unix(path: daemon.socketPath), timeoutSeconds: 10)
        self.redis = try RESPClient(address: .unix(path: redis.socketPath), timeoutSeconds: 10)
    }

    /// Both replies to one command.
    func both(_ words: [String]) throws -> (daemon: RESPReply, redis: RESPReply) {
        let args = words.map { Array($0.utf8) }
        return (try daemon.command(args), try redis.command(args))
    }

    /// Sends `words` to both and expects the same reply; an integer reply may differ by `tolerance`
    /// (times to live: the two servers read their clocks a moment apart).
    func expectSame(_ words: [String], tolerance: Int64 = 0, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let (mine, theirs) = try both(words)
        if tolerance > 0, case .integer(let a) = mine, case .integer(let b) = theirs {
            #expect((a - b).magnitude <= UInt64(tolerance), "\(words): \(a) vs redis-server \(b)", sourceLocation: sourceLocation)
        } else {
            #expect(mine == theirs, "\(words)", sourceLocation: sourceLocation)
        }
    }
}

/// The `__keyevent@0__:*` pmessages a PSUBSCRIBEd connection received, as "channel key", read until
/// `last` is among them (at most 10 s).
func keyEvents(_ listener: RawConnection, until last: String) throws -> [String] {
    var events: [String] = []
    var bytes: [UInt8] = []
    let deadline = Date().addingTimeInterval(10)
    while !events.contains(last) && Date() < deadline {
        bytes += listener.readAvailable(quietMilliseconds: 100)
        events = []
        var offset = 0
        while let (reply, used) = try bytes[offset...].withUnsafeBytes({ try RESPReplyDecoder.decode($0) }) {
            offset += used
            if case .array(let parts) = reply, parts.count == 4, case .bulk(let channel) = parts[2], case .bulk(let key) = parts[3] {
                events.append(String(decoding: channel, as: UTF8.self) + " " + String(decoding: key, as: UTF8.self))
            }
        }
    }
    return events
}

/// The Python of the virtual environment `make test` makes with redis-py, or nil after recording why
/// the test cannot run.
func redisPyPython(sourceLocation: SourceLocation = #_sourceLocation) -> String? {
    let python = FileManager.default.currentDirectoryPath + "/.build/pyvenv/bin/python"
    guard FileManager.default.isExecutableFile(atPath: python) else {
        Issue.record("redis-py is not installed: run `make test` (it creates .build/pyvenv)", sourceLocation: sourceLocation)
        return nil
    }
    return python
}
