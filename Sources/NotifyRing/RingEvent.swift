/// One change read from the ring.
public struct RingChange: Sendable, Hashable {
    /// What happened to the key.
    public let kind: ChangeKind
    /// Consecutive across the whole life of a data directory (the daemon keeps the last one in LMDB).
    public let sequence: UInt64
    /// The LMDB transaction that made the change: a read snapshot with at least this id sees it.
    public let transactionID: UInt64
    /// The key (empty for `.clear`). The record carries no value: read it from LMDB if you need it.
    public let key: [UInt8]

    /// A change as a subscriber decoded it (tests and `LocalStore` build them too).
    public init(kind: ChangeKind, sequence: UInt64, transactionID: UInt64, key: [UInt8]) {
        self.kind = kind
        self.sequence = sequence
        self.transactionID = transactionID
        self.key = key
    }
}

/// Why a subscriber lost track, and which sequence numbers it did not see.
public struct RingResync: Sendable, Hashable {
    /// The three ways a subscriber loses track; `rawValue` is the name logs and the CLI print.
    public enum Reason: String, Sendable, Hashable {
        /// The subscriber fell a whole capacity behind and was overtaken.
        case lapped
        /// A record's sequence was not the previous one plus one (changes committed but never published,
        /// e.g. the daemon was killed between commit and publish).
        case gap
        /// The ring was replaced by a new one (the daemon restarted).
        case newEpoch = "new-epoch"
    }

    /// How the subscriber lost track.
    public let reason: Reason
    /// The sequences the subscriber did not see (may be empty for `.newEpoch`). Anything in it may have
    /// changed: reread what you care about from LMDB.
    public let missed: Range<UInt64>

    /// A resync over `missed` for `reason`.
    public init(reason: Reason, missed: Range<UInt64>) {
        self.reason = reason
        self.missed = missed
    }
}

/// What a subscriber reads: a change, or notice that it must resynchronise.
public enum RingEvent: Sendable, Hashable {
    /// A key changed.
    case change(RingChange)
    /// Changes were missed; reread what you care about.
    case resync(RingResync)
}
