import ArgumentParser
import Foundation
import Histogram
import ShmKV

/// A producer and a consumer of one list: messages per second and the hand-off latency (push sent →
/// item in the consumer's hands) of BLPOP to redis-server, BLPOP to shmkvd, and LocalStore's blocking
/// pop (woken by the ring, popped through the daemon). Both servers on Unix sockets; the producer is a
/// RESP client (RPUSH) in each case.
///   shmkv-shm-bench handoff --redis SOCK --shmkv SOCK --data-dir DIR [--messages N] [--rounds M]
struct Handoff: ParsableCommand {
    @Option var redis: String
    @Option var shmkv: String
    @Option(name: .customLong("data-dir")) var dataDirectory: String
    @Option var messages = 50_000
    @Option var rounds = 20_000

    enum Consumer { case blpop(String), local(LocalStore.ListWaiter) }

    func run() throws {
        let store = try LocalStore(directory: dataDirectory)
        let local = try Client(socketPath: shmkv, timeoutSeconds: 30)
        print("consumer                           messages/s   p50 µs   p99 µs  p99.9 µs   (\(messages) messages; \(rounds) one-at-a-time rounds)")
        for (label, server, consumer) in [("redis-server BLPOP (unix socket)", redis, Consumer.blpop(redis)),
                                          ("shmkvd BLPOP (unix socket)", shmkv, Consumer.blpop(shmkv)),
                                          ("shmkvd LocalStore ListWaiter", shmkv, Consumer.local(try store.listWaiter([Array("handoff".utf8)], through: local)))] {
            let rate = try throughput(server, consumer)
            let h = try latency(server, consumer)
            print(String(format: "%-34@ %10.0f %8.1f %8.1f %9.1f", label as NSString, rate, Double(h.valueAtPercentile(50)) / 1000,
                         Double(h.valueAtPercentile(99)) / 1000, Double(h.valueAtPercentile(99.9)) / 1000))
        }
    }

    private func pop(_ consumer: Consumer, _ client: RESPClient?) throws -> [UInt8] {
        switch consumer {
        case .blpop:
            guard case .array(let pair)? = try client?.command([Array("BLPOP".utf8), Array("handoff".utf8), Array("0".utf8)]),
                  pair.count == 2, case .bulk(let item) = pair[1] else { throw ValidationError("BLPOP answered no item") }
            return item
        case .local(let waiter):
            guard let item = try waiter.pop() else { throw ValidationError("no item") }
            return item.value
        }
    }

    private func consumerClient(_ consumer: Consumer) throws -> RESPClient? {
        if case .blpop(let socket) = consumer { return try RESPClient(address: .unix(path: socket), timeoutSeconds: 30) }
        return nil
    }

    /// The producer pushes `messages` items back to back; the consumer pops them all.
    private func throughput(_ server: String, _ consumer: Consumer) throws -> Double {
        let producer = try RESPClient(address: .unix(path: server), timeoutSeconds: 30)
        _ = try producer.command([Array("DEL".utf8), Array("handoff".utf8)])
        let client = try consumerClient(consumer)
        let count = messages
        let thread = Thread {
            for i in 0..<count { _ = try? producer.command([Array("RPUSH".utf8), Array("handoff".utf8), Array(String(i).utf8)]) }
        }
        let start = now()
        thread.start()
        for _ in 0..<messages { _ = try pop(consumer, client) }
        return Double(messages) / (now() - start)
    }

    /// One item at a time: pushed with the producer's clock in it, popped, the next pushed once it arrived.
    private func latency(_ server: String, _ consumer: Consumer) throws -> Histogram<UInt64> {
        let producer = try RESPClient(address: .unix(path: server), timeoutSeconds: 30)
        let client = try consumerClient(consumer)
        let arrived = DispatchSemaphore(value: 0)
        let count = rounds
        let thread = Thread {
            for _ in 0..<count {
                usleep(50)   // the consumer is asleep in its wait by now
                _ = try? producer.command([Array("RPUSH".utf8), Array("handoff".utf8), Array(String(Handoff.nanoseconds()).utf8)])
                arrived.wait()
            }
        }
        var histogram = Histogram<UInt64>(highestTrackableValue: 10_000_000_000, numberOfSignificantValueDigits: .three)
        thread.start()
        for _ in 0..<rounds {
            let item = try pop(consumer, client)
            let sent = UInt64(String(decoding: item, as: UTF8.self)) ?? 0
            histogram.record(Handoff.nanoseconds() &- sent)
            arrived.signal()
        }
        return histogram
    }

    static func nanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
