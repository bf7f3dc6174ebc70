/// A key and its value.
public struct KeyValue: Sendable, Equatable {
    public var key: [UInt8]
    public var value: [UInt8]
    public init(key: [UInt8], value: [UInt8]) { self.key = key; self.value = value }
}

/// A SCAN request: which keys, how many, and where to continue.
public struct ScanQuery: Sendable, Equatable {
    public var mode: ScanMode
    /// The prefix (prefix mode) or the inclusive lower bound (range mode).
    public var start: [UInt8]
    /// The exclusive upper bound in range mode; empty: none. Empty in prefix mode.
    public var end: [UInt8]
    /// At most this many entries in one reply; 0 asks for the server's default.
    public var limit: UInt32
    /// Continue after this key (the last key of the previous page); empty: from the start.
    public var after: [UInt8]

    public init(mode: ScanMode, start: [UInt8], end: [UInt8] = [], limit: UInt32 = 0, after: [UInt8] = []) {
        self.mode = mode
        self.start = start
        self.end = end
        self.limit = limit
        self.after = after
    }
}

/// A native request with its own storage: what clients encode and tests compare.
public enum Request: Sendable, Equatable {
    case ping(payload: [UInt8])
    case get(key: [UInt8])
    case mget(keys: [[UInt8]])
    case put(key: [UInt8], value: [UInt8], condition: PutCondition)
    case delete(key: [UInt8])
    /// One atomic batch: all pairs are stored or none.
    case mput([KeyValue])
    case scan(ScanQuery)
    case incrBy(key: [UInt8], delta: Int64)
    case stats
    /// Follow changes to keys starting with `prefix` (empty: all keys), from sequence `from`
    /// (0: from now).
    case watch(prefix: [UInt8], from: UInt64)
    /// Authenticate as `user` (empty: `default`).
    case auth(user: [UInt8], password: [UInt8])

    public var opcode: Opcode {
        switch self {
        case .ping: .ping
        case .get: .get
        case .mget: .mget
        case .put: .put
        case .delete: .delete
        case .mput: .mput
        case .scan: .scan
        case .incrBy: .incrBy
        case .stats: .stats
        case .watch: .watch
        case .auth: .auth
        }
    }

    /// Appends this request as one frame with `requestID`.
    public func encode(requestID: UInt32, into out: inout [UInt8]) {
        var flags: UInt8 = 0
        if case .put(_, _, let condition) = self { flags = condition.rawValue }
        if case .scan(let q) = self { flags = q.mode.rawValue }
        let start = Native.beginFrame(code: opcode.rawValue, flags: flags, requestID: requestID, into: &out)
        switch self {
        case .ping(let payload):
            out.append(contentsOf: payload)
        case .get(let key), .delete(let key):
            out.appendKey(key)
        case .mget(let keys):
            out.appendLE(UInt32(keys.count))
            for key in keys { out.appendKey(key) }
        case .put(let key, let value, _):
            out.appendKey(key)
            out.appendValue(value)
        case .mput(let pairs):
            out.appendLE(UInt32(pairs.count))
            for pair in pairs { out.appendKey(pair.key); out.appendValue(pair.value) }
        case .scan(let q):
            out.appendKey(q.start)
            out.appendKey(q.end)
            out.appendLE(q.limit)
            out.appendKey(q.after)
        case .incrBy(let key, let delta):
            out.appendKey(key)
            out.appendLE(UInt64(bitPattern: delta))
        case .stats:
            break
        case .watch(let prefix, let from):
            out.appendKey(prefix)
            out.appendLE(from)
        case .auth(let user, let password):
            out.appendKey(user)
            out.appendValue(password)
        }
        Native.endFrame(at: start, in: &out)
    }

    /// The encoded frame as a new array.
    public func encoded(requestID: UInt32) -> [UInt8] {
        var out: [UInt8] = []
        encode(requestID: requestID, into: &out)
        return out
    }

    /// An owned copy of a parsed request.
    public init(_ view: RequestView) {
        switch view {
        case .ping(let p): self = .ping(payload: Array(p))
        case .get(let k): self = .get(key: Array(k))
        case .mget(let keys): self = .mget(keys: keys.map { Array($0) })
        case .put(let k, let v, let c): self = .put(key: Array(k), value: Array(v), condition: c)
        case .delete(let k): self = .delete(key: Array(k))
        case .mput(let pairs): self = .mput(pairs.map { KeyValue(key: Array($0.key), value: Array($0.value)) })
        case .scan(let q):
            self = .scan(ScanQuery(mode: q.mode, start: Array(q.start), end: Array(q.end),
                                   limit: q.limit, after: Array(q.after)))
        case .incrBy(let k, let d): self = .incrBy(key: Array(k), delta: d)
        case .stats: self = .stats
        case .watch(let prefix, let from): self = .watch(prefix: Array(prefix), from: from)
        case .auth(let user, let password): self = .auth(user: Array(user), password: Array(password))
        }
    }
}

/// Keys packed in a request body (MGET), walked in place. The body was validated when parsed.
public struct PackedKeys: Sequence {
    public let count: Int
    let bytes: UnsafeRawBufferPointer

    public struct Iterator: IteratorProtocol {
        var reader: ByteReader
        var left: Int
        public mutating func next() -> UnsafeRawBufferPointer? {
            guard left > 0 else { return nil }
            left -= 1
            return try? reader.key()
        }
    }

    public func makeIterator() -> Iterator { Iterator(reader: ByteReader(bytes), left: count) }
}

/// Key/value pairs packed in a request body (MPUT), walked in place.
public struct PackedPairs: Sequence {
    public let count: Int
    let bytes: UnsafeRawBufferPointer

    public struct Iterator: IteratorProtocol {
        var reader: ByteReader
        var left: Int
        public mutating func next() -> (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)? {
            guard left > 0 else { return nil }
            left -= 1
            guard let k = try? reader.key(), let v = try? reader.value() else { return nil }
            return (k, v)
        }
    }

    public func makeIterator() -> Iterator { Iterator(reader: ByteReader(bytes), left: count) }
}

/// A SCAN request as it lies in the input buffer.
public struct ScanQueryView {
    public var mode: ScanMode
    public var start: UnsafeRawBufferPointer
    public var end: UnsafeRawBufferPointer
    public var limit: UInt32
    public var after: UnsafeRawBufferPointer
}

/// A parsed request that borrows the input buffer: no copy, no allocation. Valid only until the
/// buffer changes, so the server uses it at once (and copies what it queues for the writer).
public enum RequestView {
    case ping(payload: UnsafeRawBufferPointer)
    case get(key: UnsafeRawBufferPointer)
    case mget(keys: PackedKeys)
    case put(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, condition: PutCondition)
    case delete(key: UnsafeRawBufferPointer)
    case mput(pairs: PackedPairs)
    case scan(ScanQueryView)
    case incrBy(key: UnsafeRawBufferPointer, delta: Int64)
    case stats
    case watch(prefix: UnsafeRawBufferPointer, from: UInt64)
    case auth(user: UnsafeRawBufferPointer, password: UnsafeRawBufferPointer)

    /// Parses and fully validates a request body. Throws `.unknownOpcode` or `.malformed`.
    public init(header: FrameHeader, body: UnsafeRawBufferPointer) throws(WireError) {
        guard let op = Opcode(rawValue: header.code) else { throw .unknownOpcode(header.code) }
        var r = ByteReader(body)
        switch op {
        case .ping:
            self = .ping(payload: r.rest())
        case .get:
            self = .get(key: try r.key())
        case .delete:
            self = .delete(key: try r.key())
        case .mget:
            let count = Int(try r.u32("key count"))
            let start = r.offset
            // Each key takes at least two bytes: a count beyond that cannot be honest.
            guard count <= r.remaining / 2 else { throw .malformed("key count \(count) exceeds the body") }
            for _ in 0..<count { _ = try r.key() }
            self = .mget(keys: PackedKeys(count: count, bytes: UnsafeRawBufferPointer(rebasing: body[start..<r.offset])))
        case .put:
            guard let condition = PutCondition(rawValue: header.flags) else {
                throw .malformed("unknown PUT condition \(header.flags)")
            }
            let key = try r.key()
            self = .put(key: key, value: try r.value(), condition: condition)
        case .mput:
            let count = Int(try r.u32("pair count"))
            let start = r.offset
            guard count <= r.remaining / 6 else { throw .malformed("pair count \(count) exceeds the body") }
            for _ in 0..<count { _ = try r.key(); _ = try r.value() }
            self = .mput(pairs: PackedPairs(count: count, bytes: UnsafeRawBufferPointer(rebasing: body[start..<r.offset])))
        case .scan:
            guard let mode = ScanMode(rawValue: header.flags) else { throw .malformed("unknown SCAN mode \(header.flags)") }
            let start = try r.key(), end = try r.key(), limit = try r.u32("limit"), after = try r.key()
            self = .scan(ScanQueryView(mode: mode, start: start, end: end, limit: limit, after: after))
        case .incrBy:
            let key = try r.key()
            self = .incrBy(key: key, delta: Int64(bitPattern: try r.u64("delta")))
        case .stats:
            self = .stats
        case .watch:
            let prefix = try r.key()
            self = .watch(prefix: prefix, from: try r.u64("start sequence"))
        case .auth:
            let user = try r.key()
            self = .auth(user: user, password: try r.value())
        }
        try r.finish()
    }
}
