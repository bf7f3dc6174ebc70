import Atomics
import CShim
import Posix
#if canImport(Glibc)
import Glibc
#endif

/// One reader of a ring with its own cursor. Any number may follow one ring, in any processes; the
/// publisher does not know they exist. Use one subscriber from one thread at a time.
///
/// Reading never blocks the publisher, so a subscriber can be overtaken. It detects that and every
/// other discontinuity and reports it as a `.resync` event naming the sequences it missed:
/// - **lapped**: its cursor is more than a capacity behind `tailIntent` (checked before and after
///   copying each record, with an acquire fence, so a record overwritten while being copied is never
///   delivered torn); it jumps to the latest record;
/// - **gap**: a record's sequence is not the previous plus one;
/// - **new epoch**: the path now names a different ring (checked when idle, at most every
///   `replacementCheckInterval`); it switches to the new ring.
public final class RingSubscriber {
    /// Where a new subscriber starts reading.
    public enum Start: Sendable, Equatable {
        /// After the newest record: only changes published from now on.
        case now
        /// At the oldest record still in the ring.
        case oldest
        /// At the record with this sequence, if it is still in the ring; otherwise at the oldest, after a
        /// `.resync` naming what is gone. A sequence not yet published means "from now".
        case sequence(UInt64)
    }

    /// The path the ring was opened at (watched for replacement).
    public let path: String
    private var mapping: RingMapping
    private var cursor: UInt64 = 0
    /// The sequence the next change should carry.
    private var expected: UInt64 = 0
    /// While positioning at a start sequence: skip records below `expected` silently.
    private var skipping = false
    /// Set after a lap, so that the resync that follows names the reason.
    private var lapped = false
    /// A change held back behind the resync that precedes it.
    private var pending: RingEvent?
    private var scratch: UnsafeMutableRawPointer
    private var scratchSize: Int
    private let replacementCheckNanoseconds: Int
    private var nextReplacementCheck = 0

    /// Test hook: runs after a record is copied and before it is validated.
    var afterCopy: (() -> Void)?

    /// The epoch of the ring being read.
    public var epoch: UInt64 { mapping.epoch }
    /// The sequence this subscriber expects next.
    public var nextSequence: UInt64 { expected }
    /// Laps, gaps and epoch changes seen so far.
    public private(set) var resyncCount = 0

    /// Opens the ring at `path` (read-only data area; the header is writable for futex registration).
    /// - Parameter replacementCheckMilliseconds: how often an idle subscriber looks whether `path` now
    ///   names a new ring (0: never).
    public init(path: String, start: Start = .now, replacementCheckMilliseconds: Int = 100) throws(RingError) {
        self.path = path
        mapping = try RingMapping.open(path: path, writableData: false)
        scratch = .allocate(byteCount: mapping.maxRecordSize, alignment: RingLayout.alignment)
        scratchSize = mapping.maxRecordSize
        replacementCheckNanoseconds = replacementCheckMilliseconds * 1_000_000
        position(at: start)
    }

    deinit { scratch.deallocate() }

    // MARK: Reading

    /// The next event if one is ready, without waiting.
    public func poll() -> RingEvent? {
        if let event = pending {
            pending = nil
            return event
        }
        while true {
            let tail = mapping.tail.load(ordering: .acquiring)
            guard cursor < tail else {
                skipping = false
                return replacementIfDue()
            }
            switch readRecord(at: cursor) {
            case .overwritten:
                jumpToLatest()
            case .padding(let length):
                cursor += length
            case .record(let event, let length):
                cursor += length
                if let event = accept(event) { return event }
            }
        }
    }

    /// Waits up to `timeoutMilliseconds` (nil: for ever) for the next event: polls `spin` times, then
    /// sleeps on the ring's shared futex, which the publisher wakes after each batch. The sleep is cut
    /// into slices of at most 100 ms so that a replaced ring is noticed and a dead publisher cannot
    /// hang the caller.
    public func next(timeoutMilliseconds: Int?, spin: Int = 200) -> RingEvent? {
        for _ in 0..<spin {
            if let event = poll() { return event }
        }
        let deadline = timeoutMilliseconds.map { MonotonicClock.nanoseconds() + $0 * 1_000_000 }
        while true {
            if let event = poll() { return event }
            var slice = 100_000_000
            if let deadline {
                let left = deadline - MonotonicClock.nanoseconds()
                if left <= 0 { return nil }
                slice = min(slice, left)
            }
            let word = mapping.futexWord.load(ordering: .acquiring)
            mapping.waiters.wrappingIncrement(ordering: .sequentiallyConsistent)
            if mapping.tail.load(ordering: .sequentiallyConsistent) <= cursor {
                var ts = timespec(tv_sec: slice / 1_000_000_000, tv_nsec: slice % 1_000_000_000)
                _ = shim_futex_wait(mapping.futexAddress, word, &ts)
            }
            mapping.waiters.wrappingDecrement(ordering: .sequentiallyConsistent)
        }
    }

    // MARK: Internals

    private enum Read {
        case overwritten
        case padding(UInt64)
        /// A change or a message, and the record's aligned length.
        case record(RingEvent, UInt64)
    }

    /// Copies the record at `position`, then re-checks (after an acquire fence) that the publisher has
    /// not started to overwrite it.
    private func readRecord(at position: UInt64) -> Read {
        guard intact(position) else { return .overwritten }
        let offset = Int(position & mapping.mask)
        let source = UnsafeRawPointer(mapping.data + offset)
        // The first 8 bytes (length, kind) exist even in the shortest padding record.
        scratch.copyMemory(from: source, byteCount: 8)
        let length = Int(scratch.load(fromByteOffset: RingLayout.recordLengthOffset, as: UInt32.self))
        let kind = ChangeKind(rawValue: scratch.load(fromByteOffset: RingLayout.recordKindOffset, as: UInt8.self))
        if kind == .padding {
            Atomics.atomicMemoryFence(ordering: .acquiring)
            guard intact(position), length == mapping.capacity - offset else { return .overwritten }
            return .padding(UInt64(length))
        }
        // Fields read from a record being overwritten may be anything: bound them before copying more.
        guard let kind, length >= RingLayout.recordHeaderSize, length <= scratchSize,
              offset + RingLayout.aligned(length) <= mapping.capacity else {
            return .overwritten
        }
        (scratch + 8).copyMemory(from: source + 8, byteCount: length - 8)
        afterCopy?()
        Atomics.atomicMemoryFence(ordering: .acquiring)
        guard intact(position) else { return .overwritten }
        let keyLength = Int(scratch.load(fromByteOffset: RingLayout.recordKeyLengthOffset, as: UInt32.self))
        let sequence = scratch.load(fromByteOffset: RingLayout.recordSequenceOffset, as: UInt64.self)
        let body = scratch + RingLayout.recordHeaderSize
        let bodyLength = length - RingLayout.recordHeaderSize
        guard keyLength <= bodyLength else { return .overwritten }
        let event: RingEvent
        if kind == .message {
            event = .message(RingMessage(
                sequence: sequence,
                channel: Array(UnsafeRawBufferPointer(start: body, count: keyLength)),
                payload: Array(UnsafeRawBufferPointer(start: body + keyLength, count: bodyLength - keyLength))))
        } else {
            guard keyLength == bodyLength, keyLength <= RingLayout.maxKeySize else { return .overwritten }
            event = .change(RingChange(
                kind: kind,
                event: KeyEvent(rawValue: scratch.load(fromByteOffset: RingLayout.recordEventOffset, as: UInt8.self)) ?? .none,
                flags: ChangeFlags(rawValue: scratch.load(fromByteOffset: RingLayout.recordFlagsOffset, as: UInt8.self)),
                sequence: sequence,
                transactionID: scratch.load(fromByteOffset: RingLayout.recordTransactionOffset, as: UInt64.self),
                key: Array(UnsafeRawBufferPointer(start: body, count: keyLength)),
                origin: scratch.load(fromByteOffset: RingLayout.recordOriginOffset, as: UInt32.self),
                database: scratch.load(fromByteOffset: RingLayout.recordDatabaseOffset, as: UInt8.self)))
        }
        return .record(event, UInt64(RingLayout.aligned(length)))
    }

    /// Whether the bytes at `position` have not been reached by the publisher's next lap.
    @inline(__always)
    private func intact(_ position: UInt64) -> Bool {
        mapping.tailIntent.load(ordering: .acquiring) <= position + UInt64(mapping.capacity)
    }

    /// Checks a record's sequence; returns what to deliver now (a resync first, if it does not follow).
    private func accept(_ event: RingEvent) -> RingEvent? {
        let sequence: UInt64
        switch event {
        case .change(let change): sequence = change.sequence
        case .message(let message): sequence = message.sequence
        case .resync: return event
        }
        if skipping {
            if sequence < expected { return nil }
            skipping = false
        }
        let wasLapped = lapped
        lapped = false
        guard sequence == expected else {
            let missed = expected..<max(expected, sequence)
            expected = sequence &+ 1
            resyncCount += 1
            pending = event
            return .resync(RingResync(reason: wasLapped ? .lapped : .gap, missed: missed))
        }
        expected = sequence &+ 1
        return event
    }

    private func jumpToLatest() {
        lapped = true
        skipping = false
        cursor = mapping.latest.load(ordering: .acquiring)
    }

    private func position(at start: Start) {
        switch start {
        case .now:
            // Find the sequence of the record just before `tail`: `latest` is stored before `tail`, so
            // when latest < tail it is that record.
            while true {
                let tail = mapping.tail.load(ordering: .acquiring)
                if tail == 0 {
                    cursor = 0
                    expected = mapping.firstSequence
                    return
                }
                let latest = mapping.latest.load(ordering: .acquiring)
                guard latest < tail, case .record(let event, _) = readRecord(at: latest) else { continue }
                cursor = tail
                switch event {
                case .change(let change): expected = change.sequence &+ 1
                case .message(let message): expected = message.sequence &+ 1
                case .resync: continue
                }
                return
            }
        case .oldest:
            cursor = oldestPosition()
            expected = mapping.firstSequence
            skipping = true
        case .sequence(let wanted):
            cursor = oldestPosition()
            expected = min(wanted, mapping.nextSequence.load(ordering: .acquiring))
            skipping = true
        }
    }

    /// A record boundary from which the ring can be read: 0 before the first wrap, else the start of the
    /// lap that holds the newest byte (every multiple of the capacity is a boundary, thanks to padding).
    private func oldestPosition() -> UInt64 {
        let tail = mapping.tail.load(ordering: .acquiring)
        let capacity = UInt64(mapping.capacity)
        if tail <= capacity { return 0 }
        return (tail - 1) & ~mapping.mask
    }

    /// When idle, at most every `replacementCheckInterval`: if `path` names another file that is a valid
    /// ring, switch to it and report a new epoch.
    private func replacementIfDue() -> RingEvent? {
        guard replacementCheckNanoseconds > 0 else { return nil }
        let now = MonotonicClock.nanoseconds(coarse: true)
        guard now >= nextReplacementCheck else { return nil }
        nextReplacementCheck = now + replacementCheckNanoseconds
        guard let identity = FileIdentity.of(path: path), identity != mapping.identity,
              let replacement = try? RingMapping.open(path: path, writableData: false) else { return nil }
        mapping = replacement
        if replacement.maxRecordSize > scratchSize {
            scratch.deallocate()
            scratch = .allocate(byteCount: replacement.maxRecordSize, alignment: RingLayout.alignment)
            scratchSize = replacement.maxRecordSize
        }
        let first = replacement.firstSequence
        let missed = expected..<max(expected, first)
        expected = first
        cursor = oldestPosition()
        skipping = cursor != 0
        lapped = false
        resyncCount += 1
        return .resync(RingResync(reason: .newEpoch, missed: missed))
    }
}
