import Foundation
import Locks
import ShmKV
import TestSupport
import Testing

/// The write path under load from many connections on both reactors: in volatile mode reactors commit
/// writes themselves (flat combining), in durable mode the writer thread does; either way each
/// connection's replies come in the order it sent, each read sees the connection's earlier writes, and
/// no write is lost or applied twice.
@Suite("Write path: commits from every reactor, replies in order, nothing lost")
struct WritePathTests {
    @Test("8 connections pipelining INCR and GET at once", arguments: ["volatile", "durable"])
    func pipelinedFromEveryReactor(durability: String) throws {
        let daemon = try Daemon(extraArguments: ["--durability", durability])
        defer { daemon.stop() }
        let connections = 8, rounds = 300
        let failures = Locked<[String]>([])
        DispatchQueue.concurrentPerform(iterations: connections) { c in
            do {
                let connection = try RawConnection(unixPath: daemon.socketPath)
                var request: [UInt8] = []
                for _ in 0..<rounds {
                    request += respCommand("INCR", "own:\(c)") + respCommand("INCR", "shared") + respCommand("GET", "own:\(c)")
                }
                connection.send(request)
                // Shared counter values are unknown; compare the connection's own replies around them.
                var received: [UInt8] = []
                let deadline = Date().addingTimeInterval(60)
                while replies(in: received) < rounds * 3 && Date() < deadline {
                    received += connection.readAvailable(quietMilliseconds: 200)
                }
                let lines = String(decoding: received, as: UTF8.self).components(separatedBy: "\r\n")
                var at = 0
                for i in 1...rounds {
                    guard at + 3 < lines.count, lines[at] == ":\(i)", lines[at + 1].hasPrefix(":"),
                          lines[at + 2] == "$\(String(i).count)", lines[at + 3] == "\(i)" else {
                        failures.withLock { $0.append("connection \(c), round \(i): \(lines[at..<min(at + 4, lines.count)])") }
                        return
                    }
                    at += 4
                }
            } catch {
                failures.withLock { $0.append("connection \(c): \(error)") }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 }.prefix(3))")
        let client = try RESPClient(address: .unix(path: daemon.socketPath), timeoutSeconds: 10)
        #expect(try client.command([Array("GET".utf8), Array("shared".utf8)]) == .bulk(Array(String(connections * rounds).utf8)))
    }

    /// Replies in RESP2 bytes of integers and bulk strings: `:` lines and `$` headers each count one.
    private func replies(in bytes: [UInt8]) -> Int {
        var count = 0
        var lineStart = true
        for b in bytes {
            if lineStart && (b == UInt8(ascii: ":") || b == UInt8(ascii: "$")) { count += 1 }
            lineStart = b == UInt8(ascii: "\n")
        }
        return count
    }
}
