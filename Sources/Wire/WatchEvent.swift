/// One event on a watching or subscribed connection (an EVENT frame, code `0x80`, carrying the WATCH's
/// or SUBSCRIBE's request id).
///
/// Body: `u8` type, then for a change (type 1 put, 2 delete, 3 clear, 4 deadline set or removed) `u64`
/// sequence, `u64` LMDB transaction id and a key field (empty for clear); for a message (type 5) `u64`
/// sequence, a value field with the channel, a value field with the payload, and a value field with the
/// pattern that matched (empty when the channel itself was subscribed); for a resync (type `0x10`) `u8`
/// reason (1 lapped, 2 gap, 3 new epoch), `u64` first missed sequence and `u64` the sequence after the
/// last missed.
public enum WatchEvent: Sendable, Equatable {
    /// A key changed: `type` 1 put, 2 delete, 3 clear (empty key), 4 deadline changed.
    case change(type: UInt8, sequence: UInt64, transactionID: UInt64, key: [UInt8])
    /// A message on `channel`, delivered for `pattern` (empty: the channel was subscribed by name).
    case message(sequence: UInt64, channel: [UInt8], payload: [UInt8], pattern: [UInt8])
    /// Sequences `missedFrom..<missedUpTo` were missed; `reason` 1 lapped, 2 gap, 3 new epoch.
    case resync(reason: UInt8, missedFrom: UInt64, missedUpTo: UInt64)

    /// The frame code of an event (not a status: codes from `0x80` are server pushes).
    public static let frameCode: UInt8 = 0x80
    /// The type byte of a resync event.
    public static let resyncType: UInt8 = 0x10
    /// The type byte of a message event.
    public static let messageType: UInt8 = 5

    /// Appends a message event frame.
    public static func writeMessage(sequence: UInt64, channel: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer,
                                    pattern: UnsafeRawBufferPointer, requestID: UInt32, into out: inout [UInt8]) {
        let start = Native.beginFrame(code: frameCode, requestID: requestID, into: &out)
        out.append(messageType)
        out.appendLE(sequence)
        out.appendValue(channel)
        out.appendValue(payload)
        out.appendValue(pattern)
        Native.endFrame(at: start, in: &out)
    }

    /// Appends a change event frame; the key is copied straight from `key`.
    public static func writeChange(type: UInt8, sequence: UInt64, transactionID: UInt64, key: UnsafeRawBufferPointer,
                                   requestID: UInt32, into out: inout [UInt8]) {
        let start = Native.beginFrame(code: frameCode, requestID: requestID, into: &out)
        out.append(type)
        out.appendLE(sequence)
        out.appendLE(transactionID)
        out.appendKey(key)
        Native.endFrame(at: start, in: &out)
    }

    /// Appends a resync event frame.
    public static func writeResync(reason: UInt8, missedFrom: UInt64, missedUpTo: UInt64, requestID: UInt32,
                                   into out: inout [UInt8]) {
        let start = Native.beginFrame(code: frameCode, requestID: requestID, into: &out)
        out.append(resyncType)
        out.append(reason)
        out.appendLE(missedFrom)
        out.appendLE(missedUpTo)
        Native.endFrame(at: start, in: &out)
    }

    /// Decodes an EVENT frame's body.
    public init(body: UnsafeRawBufferPointer) throws(WireError) {
        var r = ByteReader(body)
        let type = try r.u8("event type")
        switch type {
        case 1, 2, 3, 4:
            let sequence = try r.u64("sequence")
            let txn = try r.u64("transaction id")
            self = .change(type: type, sequence: sequence, transactionID: txn, key: Array(try r.key()))
        case WatchEvent.messageType:
            let sequence = try r.u64("sequence")
            let channel = Array(try r.value())
            let payload = Array(try r.value())
            self = .message(sequence: sequence, channel: channel, payload: payload, pattern: Array(try r.value()))
        case WatchEvent.resyncType:
            let reason = try r.u8("resync reason")
            let from = try r.u64("missed from")
            self = .resync(reason: reason, missedFrom: from, missedUpTo: try r.u64("missed up to"))
        default:
            throw .malformed("unknown event type \(type)")
        }
        try r.finish()
    }
}
