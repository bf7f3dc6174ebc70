import Foundation
import ShmKV
import TestSupport
import Testing

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

@Suite struct ClientTests {
    @Test func scanSequenceFetchesEveryPage() async throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
        let keys = (0..<2500).map { String(format: "user:%05d", $0) }
        for chunk in stride(from: 0, to: keys.count, by: 500) {
            try client.mput(keys[chunk..<min(chunk + 500, keys.count)].map { KeyValue(key: bytes($0), value: bytes("v")) })
        }
        try client.put("other", "x")
        var seen: [String] = []
        for try await entry in client.scan(prefix: bytes("user:"), pageSize: 64) {
            seen.append(String(decoding: entry.key, as: UTF8.self))
        }
        #expect(seen == keys)
        // Range: half-open, across pages.
        var ranged = 0
        for try await _ in client.scan(from: bytes("user:00100"), to: bytes("user:00300"), pageSize: 7) { ranged += 1 }
        #expect(ranged == 200)
        // A page honours the limit and says whether more follows.
        let page = try client.scanPage(ScanQuery(mode: .prefix, start: bytes("user:"), limit: 10))
        #expect(page.entries.count == 10 && page.more)
        let last = try client.scanPage(ScanQuery(mode: .prefix, start: bytes("user:"), limit: 10, after: bytes("user:02495")))
        #expect(last.entries.map { String(decoding: $0.key, as: UTF8.self) } == (2496...2499).map { String(format: "user:%05d", $0) })
        #expect(!last.more)
        // Asking for more than the server's maximum is capped, not refused.
        let capped = try client.scanPage(ScanQuery(mode: .prefix, start: bytes("user:"), limit: 1_000_000))
        #expect(capped.entries.count == 1000 && capped.more)
    }

    @Test func oneClientIsSafeFromManyThreads() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            for i in 0..<100 {
                _ = try? client.put(bytes("t\(worker)-\(i)"), bytes("\(worker * 1000 + i)"))
            }
        }
        for worker in 0..<8 {
            for i in [0, 50, 99] {
                #expect(try client.get(bytes("t\(worker)-\(i)")) == bytes("\(worker * 1000 + i)"))
            }
        }
    }

    @Test func errorsAreTyped() throws {
        #expect {
            _ = try Client(socketPath: "/nonexistent/dir/shmkvd.sock")
        } throws: { error in
            guard case ShmKVError.connection(let text) = error else { return false }
            return text.contains("No such file or directory")
        }
        let daemon = try Daemon()
        let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
        #expect(throws: ShmKVError.server(.invalidKey, "key must not be empty")) { try client.delete([]) }
        daemon.stop()
        #expect {
            try client.ping()
        } throws: { error in
            if case ShmKVError.connection = error { return true }
            return false
        }
        client.close()
        #expect(throws: ShmKVError.connection("the client is closed")) { try client.ping() }
    }

    @Test func largeValuesRoundTrip() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let client = try Client(host: daemon.tcpHost, port: daemon.tcpPort, timeoutSeconds: 30)
        let big = (0..<((2 << 20) + 1)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try client.put(bytes("big"), big)
        #expect(try client.get(bytes("big")) == big)
        #expect(try client.mget([bytes("big"), bytes("big")]) == [big, big])
    }
}
