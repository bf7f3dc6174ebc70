import NotifyRing

#if canImport(Glibc)
import Glibc
#endif

/// The key a test publishes under `sequence`: its length and bytes follow from the sequence, so a torn
/// or misplaced record shows (the ring tests use the same rule).
func ringKey(_ sequence: UInt64) -> [UInt8] {
    Array(repeating: UInt8(truncatingIfNeeded: sequence &* 31), count: Int(sequence % 512))
}

/// Writes a line to stdout at once (stdout may be a pipe the test is reading).
func say(_ line: String) {
    let bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
}

/// `ring-publish PATH COUNT CAPACITY BATCH`: creates the ring, says "ready", waits for a line on stdin,
/// then publishes COUNT records in batches (waking subscribers after each) and says "done NEXT".
func ringPublish(path: String, count: Int, capacity: Int, batch: Int) throws {
    let publisher = try RingPublisher(creatingAt: path, capacity: capacity)
    say("ready")
    _ = Swift.readLine()
    var sequence: UInt64 = 1
    while sequence <= UInt64(count) {
        for _ in 0..<batch where sequence <= UInt64(count) {
            try publisher.publish(sequence % 3 == 0 ? .delete : .put, key: ringKey(sequence), transactionID: sequence)
            sequence += 1
        }
        publisher.wakeSubscribers()
        if sequence % 4096 < UInt64(batch) { usleep(200) }
    }
    say("done \(publisher.nextSequence)")
}

/// `ring-subscribe PATH LAST`: follows the ring from its oldest record until it has accounted for every
/// sequence through LAST, checking order, keys and resync ranges; says "ok changes=N resyncs=M" or
/// "error …" (exit 1), or "timeout …" if nothing comes for 10 s.
func ringSubscribe(path: String, last: UInt64) throws -> Int32 {
    let subscriber = try RingSubscriber(path: path, start: .oldest)
    say("subscribed")
    var expected: UInt64 = 1
    var changes = 0
    var resyncs = 0
    while expected <= last {
        guard let event = subscriber.next(timeoutMilliseconds: 10_000) else {
            say("timeout expecting \(expected)")
            return 1
        }
        switch event {
        case .change(let c):
            guard c.sequence == expected else { say("error: change \(c.sequence) where \(expected) was due"); return 1 }
            guard c.key == ringKey(c.sequence), c.transactionID == c.sequence else {
                say("error: record \(c.sequence) is torn")
                return 1
            }
            changes += 1
            expected += 1
        case .message(let m):
            say("error: message \(m.sequence) where only changes are published")
            return 1
        case .resync(let r):
            guard r.missed.lowerBound == expected, r.missed.upperBound > expected else {
                say("error: resync \(r.missed) where \(expected) was due")
                return 1
            }
            resyncs += 1
            expected = r.missed.upperBound
        }
    }
    say("ok changes=\(changes) resyncs=\(resyncs)")
    return 0
}
