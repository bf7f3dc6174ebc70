/// One event on a watching connection (an EVENT frame, code `0x80`, carrying the WATCH's request id).
///
/// Body: `u8` type, then for a change (type 1 put, 2 delete, 3 clear) `u64` sequence, `u64` LMDB
/// transaction id and a key field (empty for clear); for a resync (type `0x10`) `u8` reason (1 lapped,
/// 2 gap, 3 new epoch), `u64` first missed sequence and `u64` the sequence after the last missed.
public enum WatchEvent: Sendable, Equatable {
    /// A key changed: `type` 1 put, 2 delete, 3 clear (empty key).
    case change(type: UInt8, sequence: UInt64, transactionID: UInt64, key: [UInt8])
    /// Sequences `missedFrom..<missedUpTo` were missed; `reason` 1 lapped, 2 gap, 3 new epoch.
    case resync(reason: UInt8, missedFrom: UInt64, missedUpTo: UInt64)

    /// The frame code of an event (not a status: codes from `0x80` are server pushes).
    public static let frameCode: UInt8 = 0x80
    /// The type byte of a resync event.
    public static let resyncType: UInt8 = 0x10

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
        case 1, 2, 3:
            let sequence = try r.u64("sequence")
            let txn = try r.u64("transaction id")
            self = .change(type: type, sequence: sequence, transactionID: txn, key: Array(try r.key()))
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
