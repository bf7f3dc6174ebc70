@testable import NotifyRing
import Posix
import Foundation
import Testing
import TestSupport

/// A key whose length and bytes follow from its sequence, so a torn or misplaced record shows.
func key(for sequence: UInt64) -> [UInt8] {
    Array(repeating: UInt8(truncatingIfNeeded: sequence &* 31), count: Int(sequence % 512))
}

/// Reads events until `poll` returns nil.
func drain(_ subscriber: RingSubscriber) -> [RingEvent] {
    var events: [RingEvent] = []
    while let event = subscriber.poll() { events.append(event) }
    return events
}

/// Checks that `events` account for every sequence from `first` to `last` exactly once, in order
/// (as a change or inside a resync's missed range), and that every change's key matches its sequence.
/// Returns the number of changes delivered.
@discardableResult
func checkCoverage(_ events: [RingEvent], from first: UInt64, through last: UInt64,
                   sourceLocation: SourceLocation = #_sourceLocation) -> Int {
    var expected = first
    var changes = 0
    for event in events {
        switch event {
        case .change(let c):
            #expect(c.sequence == expected, "change \(c.sequence) where \(expected) was due", sourceLocation: sourceLocation)
            #expect(c.key == key(for: c.sequence), "key of \(c.sequence) is wrong", sourceLocation: sourceLocation)
            expected = c.sequence + 1
            changes += 1
        case .message(let m):
            Issue.record("unexpected message \(m.sequence)", sourceLocation: sourceLocation)
        case .resync(let r):
            #expect(r.missed.lowerBound == expected, "resync \(r) where \(expected) was due", sourceLocation: sourceLocation)
            expected = r.missed.upperBound
        }
    }
    #expect(expected == last + 1, "coverage ended at \(expected - 1), not \(last)", sourceLocation: sourceLocation)
    return changes
}

@Suite("Notification ring")
final class RingTests {
    let directory = TemporaryDirectory("ring")
    var path: String { directory.file("test.ring") }
    deinit { directory.remove() }

    @Test("every key size 0…511 round trips in order across many wraps, with padding")
    func everySizeAcrossWraps() throws {
        let publisher = try RingPublisher(creatingAt: path, capacity: 4096)
        let subscriber = try RingSubscriber(path: path)
        var events: [RingEvent] = []
        var paddingNeeded = 0
        for seq in UInt64(1)...2048 {
            let before = publisher.nextSequence
            let k = key(for: seq)
            let record = RingLayout.aligned(RingLayout.recordHeaderSize + k.count)
            // Count the wraps that needed padding (the record did not fit before the end).
            if Int(publisherTail(publisher) % 4096) + record > 4096 { paddingNeeded += 1 }
            #expect(try publisher.publish(seq % 2 == 0 ? .put : .delete, key: k, transactionID: seq * 10) == before)
            publisher.wakeSubscribers()
            events += drain(subscriber)
        }
        #expect(paddingNeeded > 100)
        #expect(checkCoverage(events, from: 1, through: 2048) == 2048)
        #expect(events.allSatisfy { if case .change(let c) = $0 { c.transactionID == c.sequence * 10 } else { false } })
    }

    @Test("a subscriber that falls a capacity behind is told exactly which sequences it missed")
    func lapping() throws {
        let publisher = try RingPublisher(creatingAt: path, capacity: 4096)
        let subscriber = try RingSubscriber(path: path)
        for seq in UInt64(1)...5 { try publisher.publish(.put, key: key(for: seq), transactionID: 1) }
        #expect(checkCoverage(drain(subscriber), from: 1, through: 5) == 5)
        for seq in UInt64(6)...200 { try publisher.publish(.put, key: key(for: seq), transactionID: 1) }
        let events = drain(subscriber)
        guard case .resync(let r) = events.first else { Issue.record("no resync first: \(events.prefix(2))"); return }
        #expect(r.reason == .lapped)
        #expect(r.missed.lowerBound == 6)
        #expect(r.missed.upperBound > 6 && r.missed.upperBound <= 200)
        checkCoverage(events, from: 6, through: 200)
        #expect(subscriber.resyncCount == 1)
    }

    @Test("a record overwritten while it is being copied is never delivered torn")
    func tornReadDetected() throws {
        let publisher = try RingPublisher(creatingAt: path, capacity: 4096)
        let subscriber = try RingSubscriber(path: path)
        try publisher.publish(.put, key: key(for: 1), transactionID: 1)
        var next: UInt64 = 2
        var fired = false
        subscriber.afterCopy = {
            // Once: while the subscriber holds a copy of record 1, the publisher laps it.
            guard !fired else { return }
            fired = true
            while next < 200 {
                _ = try? publisher.publish(.put, key: key(for: next), transactionID: 1)
                next += 1
            }
        }
        let events = drain(subscriber)
        #expect(fired)
        guard case .resync(let r) = events.first else { Issue.record("expected a resync, got \(events.prefix(1))"); return }
        #expect(r.reason == .lapped)
        checkCoverage(events, from: 1, through: 199)
    }

    @Test("a new ring at the same path is a new epoch; a sequence jump is reported as missed")
    func epochChange() throws {
        var publisher = try RingPublisher(creatingAt: path, capacity: 4096)
        let subscriber = try RingSubscriber(path: path, replacementCheckMilliseconds: 1)
        let firstEpoch = subscriber.epoch
        for seq in UInt64(1)...3 { try publisher.publish(.put, key: key(for: seq), transactionID: 1) }
        #expect(checkCoverage(drain(subscriber), from: 1, through: 3) == 3)
        // The "daemon" restarts after committing 4…6 but publishing none of them.
        publisher = try RingPublisher(creatingAt: path, capacity: 4096, firstSequence: 7)
        for seq in UInt64(7)...9 { try publisher.publish(.put, key: key(for: seq), transactionID: 2) }
        // The subscriber notices the new file at its next replacement check (on a coarse clock):
        // poll until the last record arrives, bounded.
        var events: [RingEvent] = []
        let arrived = eventually(seconds: 10) {
            events += drain(subscriber)
            return events.contains { if case .change(let c) = $0 { c.sequence == 9 } else { false } }
        }
        #expect(arrived, "the subscriber did not switch to the new ring within 10 s: \(events)")
        #expect(events.first == .resync(RingResync(reason: .newEpoch, missed: 4..<7)))
        checkCoverage(events, from: 4, through: 9)
        #expect(subscriber.epoch != firstEpoch)
        #expect(subscriber.epoch == publisher.epoch)
        #expect(publisher.epoch < 1 << 53 && firstEpoch < 1 << 53)  // JSON-safe
    }

    @Test("a restart that continues the numbering is still reported, with nothing missed")
    func epochChangeWithoutGap() throws {
        var publisher = try RingPublisher(creatingAt: path, capacity: 4096)
        let subscriber = try RingSubscriber(path: path, replacementCheckMilliseconds: 1)
        try publisher.publish(.put, key: key(for: 1), transactionID: 1)
        _ = drain(subscriber)
        publisher = try RingPublisher(creatingAt: path, capacity: 4096, firstSequence: 2)
        var events: [RingEvent] = []
        #expect(eventually(seconds: 10) { events += drain(subscriber); return !events.isEmpty }, "no new epoch within 10 s")
        #expect(events == [.resync(RingResync(reason: .newEpoch, missed: 2..<2))])
        try publisher.publish(.delete, key: key(for: 2), transactionID: 1)
        #expect(drain(subscriber) == [.change(RingChange(kind: .delete, sequence: 2, transactionID: 1, key: key(for: 2)))])
    }

    @Test("start positions: now, oldest, a sequence still held, and one already overwritten")
    func startPositions() throws {
        let publisher = try RingPublisher(creatingAt: path, capacity: 4096, firstSequence: 100)
        #expect(try RingSubscriber(path: path).nextSequence == 100)
        for seq in UInt64(100)..<110 { try publisher.publish(.put, key: key(for: seq), transactionID: 1) }
        let now = try RingSubscriber(path: path)
        #expect(now.poll() == nil)
        #expect(now.nextSequence == 110)
        #expect(checkCoverage(drain(try RingSubscriber(path: path, start: .oldest)), from: 100, through: 109) == 10)
        #expect(checkCoverage(drain(try RingSubscriber(path: path, start: .sequence(105))), from: 105, through: 109) == 5)
        // A far-future sequence means "from now".
        #expect(try RingSubscriber(path: path, start: .sequence(5000)).poll() == nil)
        // Wrap many times: sequence 100 is long gone, and the resync says what is missing.
        for seq in UInt64(110)..<400 { try publisher.publish(.put, key: key(for: seq), transactionID: 1) }
        let old = drain(try RingSubscriber(path: path, start: .sequence(100)))
        guard case .resync(let r) = old.first else { Issue.record("no resync: \(old.prefix(1))"); return }
        #expect(r.missed.lowerBound == 100)
        checkCoverage(old, from: 100, through: 399)
    }

    @Test("futex wait is woken by a publish from another thread, and times out when nothing comes")
    func futexWakeAndTimeout() throws {
        let publisher = try RingPublisher(creatingAt: path, capacity: 4096)
        let subscriber = try RingSubscriber(path: path)
        #expect(subscriber.next(timeoutMilliseconds: 30, spin: 0) == nil)
        nonisolated(unsafe) let sub = subscriber
        let result = Mutex<RingEvent?>(nil)
        let waiter = Thread {
            let event = sub.next(timeoutMilliseconds: 60_000, spin: 0)
            result.withLock { $0 = event }
        }
        waiter.start()
        // Wait until the subscriber is registered as a futex waiter, then publish.
        let mapping = try RingMapping.open(path: path, writableData: false)
        try #require(eventually(seconds: 10) { mapping.waiters.load(ordering: .acquiring) > 0 }, "the subscriber never waited on the futex")
        try publisher.publish(.put, key: key(for: 1), transactionID: 7)
        publisher.wakeSubscribers()
        try #require(eventually(seconds: 10) { result.withLock { $0 } != nil }, "the waiting subscriber was not woken within 10 s")
        #expect(result.withLock { $0 } == .change(RingChange(kind: .put, sequence: 1, transactionID: 7, key: key(for: 1))))
        #expect(mapping.waiters.load(ordering: .acquiring) == 0)
    }

    @Test("files that are not rings, bad capacities and long keys are refused clearly")
    func refusals() throws {
        _ = FileManager.default.createFile(atPath: path, contents: Data(repeating: 0, count: 16384))
        #expect(throws: RingError.self) { try RingSubscriber(path: path) }
        do {
            _ = try RingSubscriber(path: path)
        } catch {
            #expect("\(error)".contains("bad magic"))
        }
        #expect(throws: RingError.invalidCapacity(5000)) { try RingPublisher(creatingAt: path, capacity: 5000) }
        #expect(throws: RingError.system(SystemError(call: "open(\(directory.file("missing")))", errno: .noSuchFileOrDirectory))) {
            try RingSubscriber(path: directory.file("missing"))
        }
        let publisher = try RingPublisher(creatingAt: path, capacity: 4096)
        #expect(throws: RingError.keyTooLong(512)) {
            try publisher.publish(.put, key: [UInt8](repeating: 1, count: 512), transactionID: 1)
        }
        #expect(publisher.nextSequence == 1)
        var st = stat()
        stat(path, &st)
        #expect(st.st_mode & 0o777 == 0o600)
    }

    /// Without its blocks allocated up front the ring would be created on a full /dev/shm and the
    /// publisher would die of SIGBUS at its first write into a page the file system cannot back.
    @Test("a ring that does not fit its file system is refused at creation, not faulted on later")
    func ringOnAFullFileSystemIsRefused() throws {
        let mountPoint = try SmallFileSystem(size: "1m", label: "shmkv-ring-fs")
        defer { mountPoint.remove() }
        let path = mountPoint.file("big.ring")
        do {
            _ = try RingPublisher(creatingAt: path, capacity: 4 << 20)
            Issue.record("a 4 MiB ring was created on a 1 MiB file system")
        } catch RingError.system(let error) {
            #expect(error.errno == .noSpace, "\(error)")
        }
        // Nothing is left behind, and a ring that fits is made there as usual.
        #expect(try FileManager.default.contentsOfDirectory(atPath: mountPoint.path).isEmpty)
        let small = try RingPublisher(creatingAt: mountPoint.file("small.ring"), capacity: 64 << 10)
        _ = try small.publish(.put, key: [1, 2, 3], transactionID: 1)
    }
}

/// The publisher's tail as subscribers see it.
func publisherTail(_ publisher: RingPublisher) -> UInt64 {
    guard let mapping = try? RingMapping.open(path: publisher.path, writableData: false) else { return 0 }
    return withExtendedLifetime(mapping) { mapping.tail.load(ordering: .acquiring) }
}

import Synchronization
