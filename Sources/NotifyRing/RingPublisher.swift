import Atomics
import CShim
#if canImport(Glibc)
import Glibc
#endif

/// The single producer of a ring: the daemon's writer thread.
///
/// Publishing never waits for subscribers (there is no back-pressure, by design): a subscriber that
/// falls more than a capacity behind is lapped and told so. Use from one thread at a time.
public final class RingPublisher {
    private let mapping: RingMapping
    /// This process's copy of `tail` (only the publisher writes it).
    private var tail: UInt64
    private var sequence: UInt64

    /// The path the ring was created at.
    public let path: String
    /// The random epoch of this ring; a new ring at the same path has a new one.
    public var epoch: UInt64 { mapping.epoch }
    /// Bytes in the data area.
    public var capacity: Int { mapping.capacity }
    /// The sequence the next record will carry.
    public var nextSequence: UInt64 { sequence }
    /// The longest message (channel and payload together) `publishMessage` takes.
    public var maxMessageBytes: Int { mapping.maxRecordSize - RingLayout.recordHeaderSize }

    /// Creates a new ring at `path` whose first record will carry `firstSequence`, replacing a ring there
    /// only when no live process publishes to it (`RingError.inUse` otherwise). The ring stays locked
    /// (`flock`) as this publisher's while it lives.
    /// - Parameters:
    ///   - capacity: bytes in the data area, a power of two between 4 KiB and 1 GiB.
    ///   - maxMessageBytes: the longest message (channel and payload) it will carry; records may be up to
    ///     a quarter of the capacity.
    ///   - mode: file permission bits (the daemon uses 0600, or 0660 with a shared group: subscribers
    ///     write the header to register as futex waiters).
    ///   - group: the file's group, set before the file appears at `path`; nil keeps the creator's.
    public init(creatingAt path: String, capacity: Int = RingLayout.defaultCapacity, maxMessageBytes: Int = 0,
                firstSequence: UInt64 = 1, mode: mode_t = 0o600, group: gid_t? = nil) throws(RingError) {
        mapping = try RingMapping.create(path: path, capacity: capacity,
                                         maxRecordSize: RingLayout.maxRecordSize(messageBytes: maxMessageBytes),
                                         firstSequence: firstSequence, mode: mode, group: group)
        self.path = path
        tail = 0
        sequence = firstSequence
    }

    /// Removes the ring file if `path` still names this ring (never another's that replaced it); returns
    /// whether it did. Subscribers that map it keep their mapping.
    @discardableResult
    public func removeFile() -> Bool {
        guard FileIdentity.of(path: path) == mapping.identity else { return false }
        return unlink(path) == 0
    }

    /// Appends one change record and returns its sequence number. Subscribers see it at once if they
    /// poll; those asleep in `FUTEX_WAIT` are woken by `wakeSubscribers()`, called once per batch.
    /// - Throws: `.keyTooLong` for a key over 511 bytes (nothing is published).
    @discardableResult
    public func publish(_ kind: ChangeKind, event: KeyEvent = .none, flags: ChangeFlags = [],
                        key: UnsafeRawBufferPointer, transactionID: UInt64, origin: UInt32 = 0, database: UInt8 = 0) throws(RingError) -> UInt64 {
        guard key.count <= RingLayout.maxKeySize else { throw .keyTooLong(key.count) }
        return append(kind, event: event, flags: flags, key: key, payload: UnsafeRawBufferPointer(start: nil, count: 0),
                      transactionID: transactionID, origin: origin, database: database)
    }

    /// `publish` for a key held in an array.
    @discardableResult
    public func publish(_ kind: ChangeKind, event: KeyEvent = .none, flags: ChangeFlags = [],
                        key: [UInt8], transactionID: UInt64, origin: UInt32 = 0, database: UInt8 = 0) throws(RingError) -> UInt64 {
        // `withUnsafeBytes` rethrows untyped errors; the Result keeps this one typed.
        try key.withUnsafeBytes { k in
            Result { () throws(RingError) in
                try publish(kind, event: event, flags: flags, key: k, transactionID: transactionID, origin: origin, database: database)
            }
        }.get()
    }

    /// Appends a message record (PUBLISH) and returns its sequence number; woken as `publish`.
    /// - Throws: `.messageTooLarge` when channel and payload together exceed `maxMessageBytes`.
    @discardableResult
    public func publishMessage(channel: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer) throws(RingError) -> UInt64 {
        let size = channel.count + payload.count
        guard size <= maxMessageBytes else { throw .messageTooLarge(size, limit: maxMessageBytes) }
        return append(.message, event: .none, flags: [], key: channel, payload: payload, transactionID: 0, origin: 0, database: 0)
    }

    private func append(_ kind: ChangeKind, event: KeyEvent, flags: ChangeFlags, key: UnsafeRawBufferPointer,
                        payload: UnsafeRawBufferPointer, transactionID: UInt64, origin: UInt32, database: UInt8) -> UInt64 {
        let length = RingLayout.recordHeaderSize + key.count + payload.count
        let alignedLength = UInt64(RingLayout.aligned(length))
        var position = tail
        var offset = Int(position & mapping.mask)
        let toEnd = UInt64(mapping.capacity - offset)
        if alignedLength > toEnd {
            // Announce the padding and the record together, then fill to the end of the data area.
            signalIntent(position + toEnd + alignedLength)
            // Padding may be as short as 8 bytes: it has only the length and kind fields.
            let pad = mapping.data + offset
            pad.storeBytes(of: UInt32(toEnd), toByteOffset: RingLayout.recordLengthOffset, as: UInt32.self)
            pad.storeBytes(of: ChangeKind.padding.rawValue, toByteOffset: RingLayout.recordKindOffset, as: UInt8.self)
            position += toEnd
            offset = 0
        } else {
            signalIntent(position + alignedLength)
        }
        let seq = sequence
        let r = mapping.data + offset
        r.storeBytes(of: UInt32(length), toByteOffset: RingLayout.recordLengthOffset, as: UInt32.self)
        r.storeBytes(of: kind.rawValue, toByteOffset: RingLayout.recordKindOffset, as: UInt8.self)
        r.storeBytes(of: event.rawValue, toByteOffset: RingLayout.recordEventOffset, as: UInt8.self)
        r.storeBytes(of: flags.rawValue, toByteOffset: RingLayout.recordFlagsOffset, as: UInt8.self)
        r.storeBytes(of: database, toByteOffset: RingLayout.recordDatabaseOffset, as: UInt8.self)
        r.storeBytes(of: UInt32(key.count), toByteOffset: RingLayout.recordKeyLengthOffset, as: UInt32.self)
        r.storeBytes(of: origin, toByteOffset: RingLayout.recordOriginOffset, as: UInt32.self)
        r.storeBytes(of: seq, toByteOffset: RingLayout.recordSequenceOffset, as: UInt64.self)
        r.storeBytes(of: transactionID, toByteOffset: RingLayout.recordTransactionOffset, as: UInt64.self)
        if let base = key.baseAddress, key.count > 0 {
            (r + RingLayout.recordHeaderSize).copyMemory(from: base, byteCount: key.count)
        }
        if let base = payload.baseAddress, payload.count > 0 {
            (r + RingLayout.recordHeaderSize + key.count).copyMemory(from: base, byteCount: payload.count)
        }
        sequence = seq &+ 1
        // `latest` before `tail`: a subscriber that loads `tail` and then `latest` and finds
        // latest < tail knows it is the record just before tail.
        mapping.latest.store(position, ordering: .releasing)
        tail = position + alignedLength
        mapping.tail.store(tail, ordering: .releasing)
        mapping.nextSequence.store(sequence, ordering: .releasing)
        return seq
    }

    /// Bumps the futex word and wakes subscribers sleeping on it; costs a system call only when some
    /// subscriber is waiting. Call after each batch of `publish` calls.
    public func wakeSubscribers() {
        mapping.futexWord.wrappingIncrement(ordering: .sequentiallyConsistent)
        if mapping.waiters.load(ordering: .sequentiallyConsistent) > 0 {
            _ = shim_futex_wake(mapping.futexAddress, Int32.max)
        }
    }

    /// Stores the position the producer is about to write up to, and fences so that no store of the
    /// record can become visible before it: a subscriber that copied overwritten bytes then sees the
    /// new intent when it re-checks.
    @inline(__always)
    private func signalIntent(_ newTail: UInt64) {
        mapping.tailIntent.store(newTail, ordering: .relaxed)
        Atomics.atomicMemoryFence(ordering: .releasing)
    }
}
