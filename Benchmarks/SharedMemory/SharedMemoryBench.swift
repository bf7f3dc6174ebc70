// Benchmarks of the shared-memory paths; they print numbers and never pass or fail.
//
//   shmkv-shm-bench fill DIR --keys N          writes N keys ("key:%08d", 32-byte values) into DIR's kv
//   shmkv-shm-bench read DIR --keys N --reads M  LocalStore.withValue on random keys (same sequence as c/mdb_get_bench)
//   shmkv-shm-bench ring                       one publisher, one subscriber process: events/s and latency
//   shmkv-shm-bench handoff --redis S --shmkv S --data-dir D   a list producer and consumer: BLPOP vs the local pop
//   shmkv-shm-bench replica --primary H:P --redis-replica H:P --store D   replication lag and local reads (Benchmarks/replication.sh)
//   shmkv-shm-bench collections DIR --keys N   LocalStore typed reads of hashes h:%012d (fields f0…f9) and
//                                              sorted sets z:%012d (members m0…m99): HGET, ZRANGE 0 9
import ArgumentParser
import Foundation
import Histogram
import LMDB
import NotifyRing
import ShmKV

@main
struct SharedMemoryBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shmkv-shm-bench", abstract: "Benchmarks of LocalStore reads and the notification ring.",
        subcommands: [Fill.self, Read.self, Ring.self, RingSubscriberProcess.self, Collections.self, Handoff.self, Replica.self])
}

/// The key of index `i`, written into `buffer` (12 bytes, "key:%08d"), with no allocation.
@inline(__always)
func writeKey(_ i: Int, into buffer: UnsafeMutableRawBufferPointer) {
    var n = i
    for p in stride(from: 11, through: 4, by: -1) {
        buffer[p] = UInt8(ascii: "0") + UInt8(n % 10)
        n /= 10
    }
}

/// xorshift64*: the same sequence as the C benchmark's.
struct XorShift {
    var state: UInt64
    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 2685821657736338717
    }
}

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

struct Fill: ParsableCommand {
    @Argument var directory: String
    @Option var keys = 1_000_000

    func run() throws {
        let env = try Environment(path: directory, options: .init(flags: [.noSync], mapSize: 4 << 30, maxDatabases: 8))
        let kv = try env.openDatabase(named: "kv", create: true)
        _ = try env.openDatabase(named: "__meta", create: true)
        var key = Array("key:00000000".utf8)
        let value = [UInt8](repeating: 0x76, count: 32)
        try env.write { txn in
            for i in 0..<keys {
                key.withUnsafeMutableBytes { writeKey(i, into: $0) }
                try txn.put(kv, key: key, value: value, flags: .append)
            }
        }
        try env.sync(force: true)
        print("filled \(directory) with \(keys) keys")
    }
}

struct Read: ParsableCommand {
    @Argument var directory: String
    @Option var keys = 1_000_000
    @Option var reads = 5_000_000

    func run() throws {
        let store = try LocalStore(directory: directory)
        var key = Array("key:00000000".utf8)
        // Warm the map once, then measure: one pooled read transaction per withValue, as the C
        // program does one renew/get/reset per mdb_get.
        for mode in ["warm-up", "withValue"] {
            var rng = XorShift(state: 0x9E37_79B9_7F4A_7C15)
            var bytes = 0
            let start = now()
            try key.withUnsafeMutableBytes { k in
                for _ in 0..<reads {
                    writeKey(Int(rng.next() % UInt64(keys)), into: k)
                    bytes &+= try store.withValue(UnsafeRawBufferPointer(k)) { $0?.count ?? 0 }
                }
            }
            let elapsed = now() - start
            if mode != "warm-up" {
                print(String(format: "swift LocalStore.withValue: %.0f reads/s (%.0f ns/read, %d bytes)",
                             Double(reads) / elapsed, elapsed / Double(reads) * 1e9, bytes))
            }
        }
        var rng = XorShift(state: 0x9E37_79B9_7F4A_7C15)
        var bytes = 0
        let start = now()
        try store.read { snapshot in
            for _ in 0..<reads {
                key.withUnsafeMutableBytes { writeKey(Int(rng.next() % UInt64(keys)), into: $0) }
                bytes &+= try snapshot.withValue(key) { $0?.count ?? 0 }
            }
        }
        let elapsed = now() - start
        print(String(format: "swift snapshot.withValue (one txn): %.0f reads/s (%.0f ns/read, %d bytes)",
                     Double(reads) / elapsed, elapsed / Double(reads) * 1e9, bytes))
    }
}

struct Collections: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "LocalStore's typed views: a hash field, a sorted set's first ten.")
    @Argument var directory: String
    @Option var keys = 1000
    @Option var reads = 1_000_000

    func run() throws {
        let store = try LocalStore(directory: directory)
        // The names redis-benchmark's __rand_int__ makes (12 digits), so that both benchmarks read the same keys.
        let hashKeys = (0..<keys).map { Array(String(format: "h:%012d", $0).utf8) }
        let zsetKeys = (0..<keys).map { Array(String(format: "z:%012d", $0).utf8) }
        let field = Array("f5".utf8)
        for (name, body) in [
            ("HGET (snapshot.withHash, field in place)", { (snapshot: LocalStore.Snapshot, i: Int) throws -> Int in
                try snapshot.withHash(hashKeys[i]) { try $0?.withField(field) { $0?.count ?? 0 } ?? 0 }
            }),
            ("ZRANGE 0 9 (snapshot.withSortedSet, members in place)", { (snapshot: LocalStore.Snapshot, i: Int) throws -> Int in
                try snapshot.withSortedSet(zsetKeys[i]) { zset in
                    var n = 0
                    try zset?.forEach(in: .rank(0, 9)) { member, _ in n += member.count; return .proceed }
                    return n
                }
            }),
        ] {
            // One read transaction per operation, as a process doing one lookup at a time would.
            for round in 0..<2 {
                var rng = XorShift(state: 0x9E37_79B9_7F4A_7C15)
                var bytes = 0
                let start = now()
                for _ in 0..<reads { bytes &+= try store.read { try body($0, Int(rng.next() % UInt64(keys))) } }
                let elapsed = now() - start
                if round == 1 {
                    print(String(format: "LocalStore %@: %.0f reads/s (%.0f ns/read, %d bytes)", name, Double(reads) / elapsed,
                                 elapsed / Double(reads) * 1e9, bytes))
                }
            }
        }
    }
}

struct Ring: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "One publisher (this process) and one subscriber process.")
    @Option var events = 2_000_000
    @Option var samples = 5_000
    @Option var path = "/dev/shm/shmkv-bench.ring"

    func run() throws {
        for mode in ["throughput", "futex", "spin"] {
            let publisher = try RingPublisher(creatingAt: path, capacity: 4 << 20)
            let child = Process()
            child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
            let count = mode == "throughput" ? events : samples
            child.arguments = ["ring-subscriber-process", path, mode, String(count)]
            let out = Pipe()
            child.standardOutput = out
            try child.run()
            let handle = out.fileHandleForReading
            _ = handle.readData(ofLength: 6)  // "ready\n"
            var key = [UInt8](repeating: 0, count: 16)
            if mode == "throughput" {
                let start = now()
                var sent = 0
                while sent < count {
                    for _ in 0..<64 where sent < count {
                        try publisher.publish(.put, key: key, transactionID: UInt64(sent))
                        sent += 1
                    }
                    publisher.wakeSubscribers()
                }
                let elapsed = now() - start
                print(String(format: "ring publish: %.0f events/s", Double(count) / elapsed))
            } else {
                for i in 0..<count {
                    // Pause so the subscriber has gone to sleep (futex) or is spinning (spin).
                    let until = now() + 0.0002
                    while now() < until {}
                    var ts = timespec()
                    clock_gettime(CLOCK_MONOTONIC, &ts)
                    let stamp = UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
                    withUnsafeBytes(of: stamp.littleEndian) { for j in 0..<8 { key[j] = $0[j] } }
                    try publisher.publish(.put, key: key, transactionID: UInt64(i))
                    publisher.wakeSubscribers()
                }
            }
            child.waitUntilExit()
            print(String(decoding: handle.readDataToEndOfFile(), as: UTF8.self), terminator: "")
        }
        unlink(path)
    }
}

struct RingSubscriberProcess: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ring-subscriber-process", shouldDisplay: false)
    @Argument var path: String
    @Argument var mode: String
    @Argument var count: Int

    func run() throws {
        let subscriber = try RingSubscriber(path: path)
        FileHandle.standardOutput.write(Data("ready\n".utf8))
        let spin = mode == "spin" ? Int.max : 200
        var histogram = Histogram<UInt64>(highestTrackableValue: 10_000_000_000, numberOfSignificantValueDigits: .three)
        var received = 0
        var missed = 0
        var start = 0.0
        while received + missed < count {
            guard let event = subscriber.next(timeoutMilliseconds: 10_000, spin: spin) else { break }
            switch event {
            case .change(let c):
                if received == 0 { start = now() }
                received += 1
                if mode != "throughput" {
                    var ts = timespec()
                    clock_gettime(CLOCK_MONOTONIC, &ts)
                    let t = UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
                    let stamp = c.key.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
                    histogram.record(t &- stamp)
                }
            case .message:
                break
            case .resync(let r):
                missed += r.missed.count
            }
        }
        if mode == "throughput" {
            let elapsed = now() - start
            print(String(format: "ring subscriber (other process): %.0f events/s received, %d delivered, %d missed (lapped)",
                         Double(received) / elapsed, received, missed))
        } else {
            print(String(format: "ring latency publish→receive, %@ (%d samples): p50 %.1f µs, p99 %.1f µs, p99.9 %.1f µs, max %.1f µs",
                         mode == "spin" ? "spinning" : "futex wake", received,
                         Double(histogram.valueAtPercentile(50)) / 1000, Double(histogram.valueAtPercentile(99)) / 1000,
                         Double(histogram.valueAtPercentile(99.9)) / 1000, Double(histogram.max) / 1000))
        }
    }
}
