import Foundation
import ShmKV
import StoreLayout
import TestSupport
import Testing
import Wire

/// Lists written through the daemon and read in place by `LocalStore` (small and large, every index
/// from both ends), and the local blocking pop: its wait is on the ring, the pop the daemon's.
@Suite("Lists read in place by LocalStore; the local blocking pop")
struct LocalStoreListTests {
    @Test("lists pushed at both ends read the same through LocalStore's views as through LRANGE, small and large")
    func views() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
        let store = try LocalStore(directory: daemon.dataDirectory)
        for size in [5, 3000] {
            let key = bytes("l\(size)")
            var expected: [[UInt8]] = []
            for i in 0..<size {
                let item = bytes(String(repeating: "x", count: i % 37) + "\(i)")
                if i % 3 == 0 { expected.insert(item, at: 0); try client.push(key, [item], atHead: true) } else { expected.append(item); try client.push(key, [item]) }
            }
            #expect(try client.lrange(key, 0, -1) == expected)
            #expect(try store.listLength(key) == size)
            #expect(try store.listRange(key, 0, -1) == expected)
            #expect(try store.listRange(key, -3, -1) == Array(expected.suffix(3)))
            _ = try store.read { snapshot throws in
                try snapshot.withList(key) { list throws in
                    guard let list else {
                        Issue.record("no list \(size)")
                        return
                    }
                    for i in stride(from: 0, to: size, by: max(1, size / 200)) {
                        #expect(try list.item(at: i) == expected[i], "item \(i) of \(size)")
                        #expect(try list.item(at: -1 - i) == expected[size - 1 - i], "item -\(i + 1) of \(size)")
                    }
                    #expect(try list.item(at: size) == nil)
                    var backwards: [[UInt8]] = []
                    try list.forEach(reverse: true) { backwards.append(Array($0)); return .proceed }
                    #expect(backwards == expected.reversed())
                }
            }
        }
        _ = try client.put(bytes("s"), bytes("v"))
        #expect(throws: ShmKVError.self) { try store.listLength(bytes("s")) }
    }

    @Test("the local blocking pop waits on the ring, is served by a push, times out, and two local workers never pop one item twice")
    func blockingPop() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let store = try LocalStore(directory: daemon.dataDirectory)
        let producer = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
        let key = bytes("jobs")
        // A timeout with nothing pushed.
        let worker = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
        let started = Date()
        #expect(try store.blockingPop([key], timeoutSeconds: 0.2, through: worker) == nil)
        #expect(Date().timeIntervalSince(started) >= 0.2)
        // Served by a push made while it waits.
        let pusher = Thread {
            Thread.sleep(forTimeInterval: 0.2)
            _ = try? producer.push(key, [bytes("first")])
        }
        pusher.start()
        let popped = try store.blockingPop([bytes("other"), key], timeoutSeconds: 10, through: worker)
        #expect(popped?.key == key && popped?.value == bytes("first"))
        // Two workers race for 500 items pushed in bursts: each item is popped exactly once.
        let total = 500
        let results = Results()
        let workers = (0..<2).map { _ in
            Thread {
                do {
                    let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
                    // One LocalStore per process (LMDB's rule), shared by the worker threads; a waiter each.
                    let waiter = try store.listWaiter([key], through: client)
                    while let item = try waiter.pop(timeoutSeconds: 2) { results.append(item.value) }
                } catch {
                    results.fail("a worker: \(error)")
                }
                results.fail("")
            }
        }
        workers.forEach { $0.start() }
        for burst in 0..<50 {
            try producer.push(key, (0..<(total / 50)).map { bytes("job-\(burst)-\($0)") })
            if burst % 10 == 0 { Thread.sleep(forTimeInterval: 0.01) }
        }
        let deadline = Date().addingTimeInterval(60)
        while results.all.count < total && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        let got = results.all
        #expect(got.count == total, "popped \(got.count) of \(total)")
        #expect(Set(got).count == got.count, "an item popped twice")
        #expect(try producer.llen(key) == 0)
        // Each worker ends at its 2 s timeout once the list stays empty (and says so, with "").
        while results.errors.count < 2 && Date() < deadline.addingTimeInterval(10) { Thread.sleep(forTimeInterval: 0.05) }
        #expect(results.errors == ["", ""], "\(results.errors)")
    }
}


/// What the workers popped, shared between their threads.
private final class Results: @unchecked Sendable {
    // Invariant: `items` is only touched under `lock`.
    private let lock = NSLock()
    private var items: [[UInt8]] = []
    private var failures: [String] = []
    func append(_ item: [UInt8]) { lock.withLock { items.append(item) } }
    func fail(_ why: String) { lock.withLock { failures.append(why) } }
    var errors: [String] { lock.withLock { failures } }
    var all: [[UInt8]] { lock.withLock { items } }
}
