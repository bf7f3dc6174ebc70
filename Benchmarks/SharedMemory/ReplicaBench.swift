import ArgumentParser
import Foundation
import Histogram
import ShmKV

/// `shmkv-shm-bench replica`: shmkvd following a redis-server primary, beside a redis-server replica of
/// the same primary.
///   1. Lag: a writer SETs `lag` on the primary at `--rate` per second, each value the monotonic
///      nanoseconds it was sent at; one reader polls LocalStore on the replica's store (every 20 µs),
///      another GETs `lag` from the redis-server replica over TCP back to back; each new value seen is
///      one sample of (now − sent). p50, p99 and the largest, in µs.
///   2. Reads: random GETs of the dataset's string keys (`key:N`, N % 10 < 6) for `--seconds`, through
///      LocalStore and over one TCP connection to the primary.
struct Replica: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Replication lag and local reads against a redis-server replica.")
    @Option var primary: String
    @Option var redisReplica: String
    @Option var store: String
    @Option var rate = 2000
    @Option var seconds = 10
    @Option var keys = 1_000_000

    func address(_ text: String) throws -> ServerAddress {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]) else { throw ValidationError("HOST:PORT expected: \(text)") }
        return .tcp(host: String(parts[0]), port: port)
    }

    func run() throws {
        let local = try LocalStore(directory: store)
        let writer = try RESPClient(address: try address(primary), timeoutSeconds: 30)
        let redisReader = try RESPClient(address: try address(redisReplica), timeoutSeconds: 30)
        let stop = Stop()
        let rate = self.rate, seconds = self.seconds
        let writing = Thread {
            let start = Handoff.nanoseconds(), interval = 1_000_000_000 / UInt64(max(rate, 1))
            var sent: UInt64 = 0
            while Handoff.nanoseconds() - start < UInt64(seconds) * 1_000_000_000 {
                let due = start + sent * interval
                let now = Handoff.nanoseconds()
                if now < due { usleep(UInt32((due - now) / 1000)) }
                _ = try? writer.command([Array("SET".utf8), Array("lag".utf8), Array(String(Handoff.nanoseconds()).utf8)])
                sent += 1
            }
            stop.set()
        }
        let redisSamples = Samples()
        let polling = Thread {
            var last: UInt64 = 0
            while !stop.isSet {
                guard case .bulk(let bytes)? = try? redisReader.command([Array("GET".utf8), Array("lag".utf8)]),
                      let value = UInt64(String(decoding: bytes, as: UTF8.self)), value != last else { continue }
                last = value
                redisSamples.add(Handoff.nanoseconds() &- value)
            }
            stop.readerDone()
        }
        var shmkv = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        writing.start()
        polling.start()
        var last: UInt64 = 0
        while !stop.isSet {
            if let bytes = try local.get("lag"), let value = UInt64(String(decoding: bytes, as: UTF8.self)), value != last {
                last = value
                shmkv.record(Handoff.nanoseconds() &- value)
            }
            usleep(20)
        }
        stop.waitForReader()
        let redis = redisSamples.histogram
        func line(_ name: String, _ h: Histogram<UInt64>) {
            let padded = name.padding(toLength: 52, withPad: " ", startingAt: 0)
            print(padded + String(format: " %8d samples  p50 %8.0f µs  p99 %8.0f µs  max %9.0f µs", h.totalCount,
                                  Double(h.valueAtPercentile(50)) / 1000, Double(h.valueAtPercentile(99)) / 1000, Double(h.max) / 1000))
        }
        print("lag from a SET on the primary (\(rate)/s for \(seconds) s) to a reader seeing it:")
        line("shmkvd replica, LocalStore (polled every 20 µs)", shmkv)
        line("redis-server replica, GET over TCP (back to back)", redis)

        // Reads of the replicated dataset.
        var random = XorShift(state: 0x9E3779B97F4A7C15)
        func stringKey() -> [UInt8] {
            // A string: index % 10 in 0..<6.
            let i = Int(random.next() % UInt64(max(keys / 10, 1))) * 10 + Int(random.next() % 6)
            return Array("key:\(i)".utf8)
        }
        let keyList = (0..<100_000).map { _ in stringKey() }
        var found = 0, reads = 0
        var start = now()
        while now() - start < Double(seconds) {
            for key in keyList.prefix(10_000) {
                if try local.withValue(key, { $0 != nil }) { found += 1 }
                reads += 1
            }
        }
        let localRate = Double(reads) / (now() - start)
        print(String(format: "reads: LocalStore on the replica's store, 1 thread: %.0f reads/s (%.1f%% found)", localRate, 100 * Double(found) / Double(reads)))
        let reader = try RESPClient(address: try address(primary), timeoutSeconds: 30)
        reads = 0
        start = now()
        var index = 0
        while now() - start < Double(seconds) {
            _ = try reader.command([Array("GET".utf8), keyList[index % keyList.count]])
            index += 1
            reads += 1
        }
        let remoteRate = Double(reads) / (now() - start)
        print(String(format: "reads: GET to the primary over TCP, 1 connection:    %.0f reads/s", remoteRate))
        print(String(format: "ratio LocalStore / GET over one connection: %.0f", localRate / remoteRate))
    }
}

/// A flag the writer raises when it is done, and the reader thread's end.
final class Stop: @unchecked Sendable {
    // Invariant: every field is read and written under `lock`.
    private let lock = NSLock()
    private var stopped = false
    private let ended = DispatchSemaphore(value: 0)
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return stopped }
    func set() { lock.lock(); stopped = true; lock.unlock() }
    func readerDone() { ended.signal() }
    func waitForReader() { ended.wait() }
}

/// Latencies recorded by another thread.
final class Samples: @unchecked Sendable {
    // Invariant: `recorded` is touched only under `lock`.
    private let lock = NSLock()
    private var recorded = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
    func add(_ nanoseconds: UInt64) { lock.lock(); recorded.record(nanoseconds); lock.unlock() }
    var histogram: Histogram<UInt64> { lock.lock(); defer { lock.unlock() }; return recorded }
}
