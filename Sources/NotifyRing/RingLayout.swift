import Posix
/// The byte layout of a ring file, shared by publisher and subscribers (docs/ARCHITECTURE.md has the table).
///
/// A ring file is one header page followed by a power-of-two data area. Header fields that change are
/// each on their own 128-byte line, so the producer's stores do not bounce the lines subscribers poll.
/// Positions (`tailIntent`, `tail`, `latest`) are byte counts since the ring was created; they never
/// wrap, and `position & (capacity - 1)` is the offset in the data area. Because the producer pads to
/// the end of the data area before it wraps, every multiple of the capacity is a record boundary.
public enum RingLayout {
    /// "SHMKVRNG" read as a little-endian 64-bit integer; stored last when a ring is created.
    public static let magic: UInt64 = 0x474E_5256_4B4D_4853
    /// Version of this layout; a subscriber refuses any other. Version 2 added the event, the flags,
    /// message records and a per-ring maximum record size; version 3 the numbered database of a change.
    public static let version: UInt32 = 3
    /// Size of the header page; the data area starts here.
    public static let headerSize = 4096
    /// Records start and end on this alignment.
    public static let alignment = 8
    /// Bytes of a record before its key: length u32, kind u8, event u8, flags u8, database u8, key
    /// length u32, origin u32, sequence u64, transaction id u64.
    public static let recordHeaderSize = 32
    /// The longest key a change record carries (LMDB's key limit in Debian's build).
    public static let maxKeySize = 511
    /// The largest aligned change record: header plus the longest key. A ring's own maximum
    /// (`maxRecordSize(messageBytes:)`) is at least this.
    public static let maxChangeRecordSize = aligned(recordHeaderSize + maxKeySize)
    /// The largest record of a ring whose messages (channel and payload together) are at most
    /// `messageBytes` long.
    public static func maxRecordSize(messageBytes: Int) -> Int {
        max(maxChangeRecordSize, aligned(recordHeaderSize + messageBytes))
    }
    /// Smallest and largest data area accepted.
    public static let minCapacity = 4096
    /// Largest data area accepted: 1 GiB.
    public static let maxCapacity = 1 << 30
    /// Default data area: 4 MiB.
    public static let defaultCapacity = 4 << 20

    // Header offsets. Constant fields first, then one 128-byte line per field that changes.
    static let magicOffset = 0            // u64
    static let versionOffset = 8          // u32
    static let headerSizeOffset = 12      // u32
    static let capacityOffset = 16        // u64
    static let maxRecordOffset = 24       // u32: the largest record this ring may hold
    static let epochOffset = 32           // u64
    static let firstSequenceOffset = 40   // u64: the sequence of the first record this ring carries
    static let creatorPIDOffset = 48      // u32
    static let tailIntentOffset = 128     // u64
    static let tailOffset = 256           // u64
    static let latestOffset = 384         // u64: position of the most recent record
    static let nextSequenceOffset = 512   // u64: the sequence the next record will carry
    static let futexOffset = 640          // u32: bumped after every batch; subscribers FUTEX_WAIT on it
    static let waitersOffset = 768        // u32: subscribers inside FUTEX_WAIT (or about to be)

    // Record field offsets (from the record's start). The shortest record (padding) is 8 bytes: length
    // and kind only.
    static let recordLengthOffset = 0     // u32: unaligned length, header included
    static let recordKindOffset = 4       // u8: ChangeKind
    static let recordEventOffset = 5      // u8: KeyEvent
    static let recordFlagsOffset = 6      // u8: ChangeFlags
    static let recordDatabaseOffset = 7   // u8: the numbered database (SELECT) of a change; 0 for a message
    /// The database of a `clear` that cleared every database (FLUSHALL).
    public static let allDatabases: UInt8 = 255
    static let recordKeyLengthOffset = 8  // u32: key (or channel) bytes; a message's payload follows it
    static let recordOriginOffset = 12    // u32: the daemon's id of the connection that made the change (0: none)
    static let recordSequenceOffset = 16  // u64
    static let recordTransactionOffset = 24 // u64

    /// `n` rounded up to the record alignment.
    @inline(__always)
    public static func aligned(_ n: Int) -> Int { (n + alignment - 1) & ~(alignment - 1) }

    /// Whether a ring of `capacity` bytes may hold records of up to `size` bytes: at least a change with
    /// the longest key, at most a quarter of the data area (so that a lap holds several records).
    public static func isValidMaxRecordSize(_ size: Int, capacity: Int) -> Bool {
        size >= maxChangeRecordSize && size <= capacity / 4 && size == aligned(size)
    }

    /// Whether `capacity` is a power of two within the accepted bounds.
    public static func isValidCapacity(_ capacity: Int) -> Bool {
        capacity >= minCapacity && capacity <= maxCapacity && capacity & (capacity - 1) == 0
    }
}

/// What a record announces. Raw values are the `type` field of the record.
public enum ChangeKind: UInt8, Sendable, Hashable, CustomStringConvertible {
    /// Filler from the last record to the end of the data area; subscribers skip it.
    case padding = 0
    /// The key was stored (set, overwritten, incremented).
    case put = 1
    /// The key was deleted.
    case delete = 2
    /// Every key was deleted (the key field is empty).
    case clear = 3
    /// Only the key's deadline changed (set or removed); its value did not.
    case expiry = 4
    /// A PUBLISH: the key field is the channel, the payload follows it. Not a change of the store.
    case message = 5

    /// The lower-case name (`put`, `delete`, …) the CLI prints.
    public var description: String {
        switch self {
        case .padding: "padding"
        case .put: "put"
        case .delete: "delete"
        case .clear: "clear"
        case .expiry: "expiry"
        case .message: "message"
        }
    }
}

/// Errors opening, creating or reading a ring file.
public enum RingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A system call failed (the error names it).
    case system(SystemError)
    /// The file is not a ring this build understands.
    case invalidFile(String)
    /// A capacity that is not a power of two between 4 KiB and 1 GiB.
    case invalidCapacity(Int)
    /// A key longer than `RingLayout.maxKeySize`.
    case keyTooLong(Int)
    /// A message (channel and payload) longer than the ring takes (the limit is carried).
    case messageTooLarge(Int, limit: Int)
    /// Another live process (pid, as recorded by its creator) publishes to the ring at this path.
    case inUse(path: String, creatorPID: UInt32)

    /// One line naming the cause, for logs and error messages.
    public var description: String {
        switch self {
        case .system(let error): "\(error)"
        case .invalidFile(let why): "not a usable ring file: \(why)"
        case .invalidCapacity(let n): "ring capacity \(n) is not a power of two between 4 KiB and 1 GiB"
        case .keyTooLong(let n): "key of \(n) bytes is longer than \(RingLayout.maxKeySize)"
        case .messageTooLarge(let n, let limit): "message of \(n) bytes (channel and payload) exceeds the maximum of \(limit) bytes"
        case .inUse(let path, let pid):
            "the ring \(path) belongs to another running shmkvd (pid \(pid)): two stores must not share a ring; give this one its own ring.path"
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
