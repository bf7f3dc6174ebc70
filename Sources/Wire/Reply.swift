/// The result part of a native reply, by the opcode of the request it answers.
public enum ReplyBody: Sendable, Equatable {
    /// OK with nothing more (PUT, MPUT), or NOT_FOUND / CONDITION_FAILED.
    case empty
    /// PING's echoed payload.
    case payload([UInt8])
    /// GET's value.
    case value([UInt8])
    /// MGET's values in request order; `nil` where a key is absent.
    case values([[UInt8]?])
    /// DELETE: whether the key existed.
    case deleted(Bool)
    /// INCRBY's new value.
    case integer(Int64)
    /// One SCAN page; when `more`, continue after the last key.
    case scanPage(entries: [KeyValue], more: Bool)
    /// STATS: named counters, in the server's order.
    case stats([StatEntry])
    /// WATCH accepted: the ring's epoch and the sequence the first event will carry.
    case watching(epoch: UInt64, nextSequence: UInt64)
    /// An error status's message.
    case message(String)
    /// TTL: the deadline (wall-clock ms since the epoch) and the milliseconds left; -1 and -1 for a key
    /// without one.
    case ttl(deadline: Int64, remaining: Int64)
    /// TXN applied: one result per operation.
    case results([Int64])
    /// TXN's CONDITION_FAILED: the index of the operation whose condition did not hold.
    case failedCondition(index: UInt32)
    /// CALL: the command's reply, as RESP2 carries it (an error reply is a result, not a status).
    case resp(RESPReply)
}

/// One STATS counter.
public struct StatEntry: Sendable, Equatable {
    /// The counter's name (`keys`, `writes_committed`…; PROTOCOL.md lists them).
    public var name: String
    /// Its value now.
    public var value: Int64
    /// A counter.
    public init(name: String, value: Int64) { self.name = name; self.value = value }
}

/// A decoded native reply.
public struct Reply: Sendable, Equatable {
    /// OK, or why not (the protocol's status table).
    public var status: Status
    /// The id of the request this answers (replies come in request order).
    public var requestID: UInt32
    /// What the reply carries (decoded for the request's opcode).
    public var body: ReplyBody

    /// A reply.
    public init(status: Status, requestID: UInt32, body: ReplyBody) {
        self.status = status
        self.requestID = requestID
        self.body = body
    }

    /// Decodes a reply frame to a request with opcode `op`.
    public init(header: FrameHeader, body: UnsafeRawBufferPointer, answering op: Opcode) throws(WireError) {
        guard let status = Status(rawValue: header.code) else { throw .malformed("unknown status \(header.code)") }
        self.status = status
        self.requestID = header.requestID
        var r = ByteReader(body)
        if status.carriesMessage {
            let n = try r.u16("message length")
            self.body = .message(String(decoding: try r.slice(Int(n), "message"), as: UTF8.self))
        } else if status == .conditionFailed, op == .transaction {
            self.body = .failedCondition(index: try r.u32("operation index"))
        } else if status != .ok {
            self.body = .empty
        } else {
            switch op {
            case .ping:
                self.body = .payload(Array(r.rest()))
            case .get:
                self.body = .value(Array(try r.value()))
            case .mget:
                let count = Int(try r.u32("value count"))
                guard count <= r.remaining else { throw .malformed("value count \(count) exceeds the body") }
                var values: [[UInt8]?] = []
                values.reserveCapacity(count)
                for _ in 0..<count {
                    values.append(try r.u8("presence") == 0 ? nil : Array(try r.value()))
                }
                self.body = .values(values)
            case .put, .mput, .auth:
                self.body = .empty
            case .ttl:
                let deadline = Int64(bitPattern: try r.u64("deadline"))
                self.body = .ttl(deadline: deadline, remaining: Int64(bitPattern: try r.u64("remaining")))
            case .delete:
                self.body = .deleted(try r.u8("deleted") != 0)
            case .incrBy, .expire, .publish:
                self.body = .integer(Int64(bitPattern: try r.u64("integer")))
            case .scan:
                let count = Int(try r.u32("entry count"))
                guard count <= r.remaining / 6 else { throw .malformed("entry count \(count) exceeds the body") }
                var entries: [KeyValue] = []
                entries.reserveCapacity(count)
                for _ in 0..<count {
                    let k = try r.key()
                    entries.append(KeyValue(key: Array(k), value: Array(try r.value())))
                }
                self.body = .scanPage(entries: entries, more: try r.u8("more") != 0)
            case .stats:
                let count = Int(try r.u32("stat count"))
                guard count <= r.remaining / 10 else { throw .malformed("stat count \(count) exceeds the body") }
                var stats: [StatEntry] = []
                for _ in 0..<count {
                    let name = String(decoding: try r.key(), as: UTF8.self)
                    stats.append(StatEntry(name: name, value: Int64(bitPattern: try r.u64("stat value"))))
                }
                self.body = .stats(stats)
            case .watch, .subscribe:
                let epoch = try r.u64("epoch")
                self.body = .watching(epoch: epoch, nextSequence: try r.u64("next sequence"))
            case .transaction:
                let count = Int(try r.u32("result count"))
                guard count <= r.remaining / 8 else { throw .malformed("result count \(count) exceeds the body") }
                var results: [Int64] = []
                results.reserveCapacity(count)
                for _ in 0..<count { results.append(Int64(bitPattern: try r.u64("result"))) }
                self.body = .results(results)
            case .call:
                let rest = r.rest()
                guard let (reply, used) = try RESPReplyDecoder.decode(rest), used == rest.count else {
                    throw .malformed("CALL's body is not one whole RESP reply")
                }
                self.body = .resp(reply)
            }
        }
        try r.finish()
    }

    /// Appends this reply as one frame (used by tests and by anything that builds replies whole;
    /// the server writes the same bytes piecewise with `ReplyWriter`).
    public func encode(into out: inout [UInt8]) {
        let start = Native.beginFrame(code: status.rawValue, requestID: requestID, into: &out)
        switch body {
        case .empty: break
        case .payload(let p): out.append(contentsOf: p)
        case .value(let v): out.appendValue(v)
        case .values(let values):
            out.appendLE(UInt32(values.count))
            for v in values {
                if let v { out.append(1); out.appendValue(v) } else { out.append(0) }
            }
        case .deleted(let d): out.append(d ? 1 : 0)
        case .integer(let i): out.appendLE(UInt64(bitPattern: i))
        case .scanPage(let entries, let more):
            out.appendLE(UInt32(entries.count))
            for e in entries { out.appendKey(e.key); out.appendValue(e.value) }
            out.append(more ? 1 : 0)
        case .stats(let stats):
            out.appendLE(UInt32(stats.count))
            for s in stats { out.appendKey(Array(s.name.utf8)); out.appendLE(UInt64(bitPattern: s.value)) }
        case .watching(let epoch, let next):
            out.appendLE(epoch)
            out.appendLE(next)
        case .ttl(let deadline, let remaining):
            out.appendLE(UInt64(bitPattern: deadline))
            out.appendLE(UInt64(bitPattern: remaining))
        case .message(let m):
            ReplyWriter.appendMessage(m, into: &out)
        case .results(let results):
            out.appendLE(UInt32(results.count))
            for r in results { out.appendLE(UInt64(bitPattern: r)) }
        case .failedCondition(let index):
            out.appendLE(index)
        case .resp(let reply):
            reply.encode(into: &out)
        }
        Native.endFrame(at: start, in: &out)
    }
}

/// The server's reply encoders: they write straight into a connection's output buffer.
public enum ReplyWriter {
    /// A reply with an empty body (OK for PUT/MPUT, NOT_FOUND, CONDITION_FAILED).
    @inlinable
    public static func status(_ status: Status, requestID: UInt32, into out: inout [UInt8]) {
        let s = Native.beginFrame(code: status.rawValue, requestID: requestID, into: &out)
        Native.endFrame(at: s, in: &out)
    }

    /// An error reply carrying `message` (cut to 65,535 bytes).
    public static func error(_ status: Status, _ message: String, requestID: UInt32, into out: inout [UInt8]) {
        let s = Native.beginFrame(code: status.rawValue, requestID: requestID, into: &out)
        appendMessage(message, into: &out)
        Native.endFrame(at: s, in: &out)
    }

    static func appendMessage(_ message: String, into out: inout [UInt8]) {
        let utf8 = message.utf8.prefix(Int(UInt16.max))
        out.appendLE(UInt16(utf8.count))
        out.append(contentsOf: utf8)
    }

    /// GET's OK reply: the value copied once, from wherever it lies (the map) into `out`.
    @inlinable
    public static func value(_ value: UnsafeRawBufferPointer, requestID: UInt32, into out: inout [UInt8]) {
        let s = Native.beginFrame(code: Status.ok.rawValue, requestID: requestID, into: &out)
        out.appendValue(value)
        Native.endFrame(at: s, in: &out)
    }

    /// PING's reply.
    @inlinable
    public static func payload(_ payload: UnsafeRawBufferPointer, requestID: UInt32, into out: inout [UInt8]) {
        let s = Native.beginFrame(code: Status.ok.rawValue, requestID: requestID, into: &out)
        out.append(contentsOf: payload)
        Native.endFrame(at: s, in: &out)
    }

    /// INCRBY's reply.
    @inlinable
    public static func integer(_ value: Int64, requestID: UInt32, into out: inout [UInt8]) {
        let s = Native.beginFrame(code: Status.ok.rawValue, requestID: requestID, into: &out)
        out.appendLE(UInt64(bitPattern: value))
        Native.endFrame(at: s, in: &out)
    }

    /// TXN's OK reply: one result per operation.
    public static func results(_ results: [Int64], requestID: UInt32, into out: inout [UInt8]) {
        let s = Native.beginFrame(code: Status.ok.rawValue, requestID: requestID, into: &out)
        out.appendLE(UInt32(results.count))
        for r in results { out.appendLE(UInt64(bitPattern: r)) }
        Native.endFrame(at: s, in: &out)
    }

    /// TXN's CONDITION_FAILED reply: which operation's condition did not hold.
    public static func conditionFailed(at index: Int, requestID: UInt32, into out: inout [UInt8]) {
        let s = Native.beginFrame(code: Status.conditionFailed.rawValue, requestID: requestID, into: &out)
        out.appendLE(UInt32(index))
        Native.endFrame(at: s, in: &out)
    }

    /// DELETE's reply.
    @inlinable
    public static func deleted(_ existed: Bool, requestID: UInt32, into out: inout [UInt8]) {
        let s = Native.beginFrame(code: Status.ok.rawValue, requestID: requestID, into: &out)
        out.append(existed ? 1 : 0)
        Native.endFrame(at: s, in: &out)
    }
}
