import NotifyRing

/// One ring record a batch will publish after it commits: a change of a key, or a message. Its key (a
/// message's channel) and payload are ranges of the list's byte store.
struct Change {
    let kind: ChangeKind
    let event: KeyEvent
    let flags: ChangeFlags
    /// The RESP client id of the connection whose write made it (0: none); the ring's `origin`.
    let origin: UInt32
    /// The numbered database of the key.
    let database: UInt8
    fileprivate let keyStart: Int
    fileprivate let keyCount: Int
    fileprivate let payloadCount: Int
}

/// The ring records of a batch, in the order the changes were made. Keys and payloads are copied into
/// one byte store that the writer reuses batch after batch, so recording a change allocates nothing
/// (once the store has grown to a batch's size) and holds no reference to the operation's bytes — the
/// key may be a slice of a reactor's write arena, or of the map, that is gone by the time it is published.
struct ChangeList {
    private(set) var entries: [Change] = []
    private var bytes: [UInt8] = []
    /// The numbered database the changes appended now are in (the writer's selected one).
    var database: UInt8 = 0

    var isEmpty: Bool { entries.isEmpty }
    var count: Int { entries.count }

    mutating func append(kind: ChangeKind, event: KeyEvent, flags: ChangeFlags = [], key: UnsafeRawBufferPointer,
                         payload: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0), origin: UInt32 = 0) {
        let start = bytes.count
        bytes.append(contentsOf: key)
        bytes.append(contentsOf: payload)
        entries.append(Change(kind: kind, event: event, flags: flags, origin: origin, database: kind == .message ? 0 : database,
                              keyStart: start, keyCount: key.count, payloadCount: payload.count))
    }

    /// `append` for a key (and payload) held in arrays.
    mutating func append(kind: ChangeKind, event: KeyEvent, flags: ChangeFlags = [], key: [UInt8],
                         payload: [UInt8] = [], origin: UInt32 = 0) {
        key.withUnsafeBytes { k in
            payload.withUnsafeBytes { p in append(kind: kind, event: event, flags: flags, key: k, payload: p, origin: origin) }
        }
    }

    /// Calls `body` with the change's key (channel) and payload, valid only inside it.
    func withBytes<R>(of change: Change, _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try bytes.withUnsafeBytes { all in
            let key = UnsafeRawBufferPointer(rebasing: all[change.keyStart..<(change.keyStart + change.keyCount)])
            let payloadStart = change.keyStart + change.keyCount
            let payload = UnsafeRawBufferPointer(rebasing: all[payloadStart..<(payloadStart + change.payloadCount)])
            return try body(key, payload)
        }
    }

    /// Whether the change's key is `key`.
    func key(of change: Change, equals key: [UInt8]) -> Bool {
        withBytes(of: change) { k, _ in k.elementsEqual(key) }
    }

    /// Drops the changes after the first `count` (what a full sync's staging recorded: nothing of it
    /// is announced until it is adopted).
    mutating func truncate(to count: Int) {
        guard count < entries.count else { return }
        bytes.removeSubrange(entries[count].keyStart...)
        entries.removeSubrange(count...)
    }

    mutating func removeAll() {
        entries.removeAll(keepingCapacity: true)
        bytes.removeAll(keepingCapacity: true)
    }
}
