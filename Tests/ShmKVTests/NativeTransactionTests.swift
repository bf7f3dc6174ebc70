import Foundation
import ShmKV
import TestSupport
import Testing

@Suite("Native TXN: operations under conditions, all or none, the failing one named")
struct NativeTransactionTests {
    @Test("every operation applies when every condition holds; results per operation; change events follow")
    func committed() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
        let store = try LocalStore(directory: daemon.dataDirectory)
        let changes = try store.subscribe(prefix: bytes("t:"))
        try client.put("t:old", "v1")
        try client.put("t:gone", "x")
        let result = try client.transaction([
            .put(key: bytes("t:old"), value: bytes("v2"), condition: .equals(bytes("v1"))),
            .put(key: bytes("t:new"), value: bytes("n"), expiry: .after(milliseconds: 60_000), condition: .absent),
            .delete(key: bytes("t:gone"), condition: .present),
            .delete(key: bytes("t:never")),
            .incrBy(key: bytes("t:count"), delta: 5),
            .incrBy(key: bytes("t:count"), delta: -2, condition: .equals(bytes("5"))),
        ])
        #expect(result == .committed([1, 1, 1, 0, 5, 3]))
        #expect(try client.get(bytes("t:old")) == bytes("v2"))
        #expect(try client.get(bytes("t:gone")) == nil)
        #expect(try client.get(bytes("t:count")) == bytes("3"))
        guard case .expires(_, let remaining) = try client.ttl(bytes("t:new")) else { Issue.record("t:new has no deadline"); return }
        #expect(remaining > 50_000)
        #expect(try store.get(bytes("t:new")) == bytes("n"))
        // One LMDB transaction: every change carries the same transaction id, in operation order.
        var seen: [(String, UInt64)] = []
        while seen.count < 7, let event = changes.next(timeoutMilliseconds: 5_000) {
            if case .change(let change) = event { seen.append((String(decoding: change.key, as: UTF8.self), change.transactionID)) }
        }
        #expect(seen.map(\.0) == ["t:old", "t:gone", "t:old", "t:new", "t:gone", "t:count", "t:count"])
        #expect(Set(seen.suffix(5).map(\.1)).count == 1, "\(seen)")
    }

    @Test("a failing condition or a failing INCRBY applies nothing and names the operation")
    func allOrNone() async throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
        try client.put("a", "1")
        try client.put("text", "hello")
        let before = try client.stats().first { $0.name == "ring_next_sequence" }?.value
        // Operation 2's condition sees operation 0's write (absent after the delete).
        #expect(try client.transaction([
            .delete(key: bytes("a")),
            .put(key: bytes("b"), value: bytes("2")),
            .put(key: bytes("c"), value: bytes("3"), condition: .present),
        ]) == .conditionFailed(index: 2))
        #expect(try client.get(bytes("a")) == bytes("1"))
        #expect(try client.get(bytes("b")) == nil)
        #expect(try client.transaction([.put(key: bytes("b"), value: bytes("2")), .delete(key: bytes("a"), condition: .equals(bytes("2")))])
            == .conditionFailed(index: 1))
        #expect(try client.get(bytes("b")) == nil)
        // A value that is not an integer: the error names the operation; the PUT before it is undone.
        #expect {
            try client.transaction([.put(key: bytes("b"), value: bytes("2")), .incrBy(key: bytes("text"), delta: 1)])
        } throws: { error in
            guard case ShmKVError.server(.notInteger, let message) = error else { return false }
            return message.hasPrefix("operation 1: ")
        }
        #expect(try client.get(bytes("b")) == nil)
        // A bad key in any operation refuses the whole request before anything is queued.
        #expect {
            try client.transaction([.put(key: bytes("b"), value: bytes("2")), .delete(key: [])])
        } throws: { error in
            guard case ShmKVError.server(.invalidKey, let message) = error else { return false }
            return message.hasPrefix("operation 1: ")
        }
        // Nothing was published for any of them.
        let after = try client.stats().first { $0.name == "ring_next_sequence" }?.value
        #expect(before == after)
        // The async client sends the same request.
        let async = AsyncClient(address: .unix(path: daemon.socketPath), connections: 1)
        defer { async.close() }
        #expect(try await async.transaction([.incrBy(key: bytes("a"), delta: 41, condition: .present)]) == .committed([42]))
        #expect(try await async.transaction([.delete(key: bytes("zz"), condition: .present)]) == .conditionFailed(index: 0))
    }

    @Test("a compare-and-set loop from many threads loses no increment")
    func compareAndSetLoop() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
        try client.put("counter", "0")
        let workers = 4, rounds = 50
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            guard let mine = try? Client(socketPath: daemon.socketPath, timeoutSeconds: 10) else { return }
            var done = 0
            while done < rounds {
                guard let current = try? mine.get(bytes("counter")) else { return }
                let next = Int(String(decoding: current, as: UTF8.self))! + 1
                let result = try? mine.transaction([.put(key: bytes("counter"), value: bytes(String(next)), condition: .equals(current))])
                if result == .committed([1]) { done += 1 }
            }
        }
        #expect(try client.get(bytes("counter")) == bytes(String(workers * rounds)))
    }
}
