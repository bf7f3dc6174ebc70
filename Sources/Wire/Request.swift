/// A key and its value.
public struct KeyValue: Sendable, Equatable {
    /// The key's bytes (at most 511).
    public var key: [UInt8]
    /// The value's bytes.
    public var value: [UInt8]
    /// A pair; copies nothing beyond the arrays' own copy-on-write.
    public init(key: [UInt8], value: [UInt8]) { self.key = key; self.value = value }
}

/// A SCAN request: which keys, how many, and where to continue.
public struct ScanQuery: Sendable, Equatable {
    /// Prefix or range.
    public var mode: ScanMode
    /// The prefix (prefix mode) or the inclusive lower bound (range mode).
    public var start: [UInt8]
    /// The exclusive upper bound in range mode; empty: none. Empty in prefix mode.
    public var end: [UInt8]
    /// At most this many entries in one reply; 0 asks for the server's default.
    public var limit: UInt32
    /// Continue after this key (the last key of the previous page); empty: from the start.
    public var after: [UInt8]

    /// A query; `end`, `limit` and `after` default to none, the server's page size and the start.
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
    /// Echo `payload`.
    case ping(payload: [UInt8])
    /// Read one key.
    case get(key: [UInt8])
    /// Read several keys from one snapshot.
    case mget(keys: [[UInt8]])
    /// Store `value` under `key` if `condition` holds, with `expiry` deciding its deadline.
    case put(key: [UInt8], value: [UInt8], condition: PutCondition, expiry: PutExpiry = .persistent)
    /// Delete one key.
    case delete(key: [UInt8])
    /// One atomic batch: all pairs are stored or none.
    case mput([KeyValue])
    /// Read one page of a scan.
    case scan(ScanQuery)
    /// Add `delta` to a decimal value.
    case incrBy(key: [UInt8], delta: Int64)
    /// Read the daemon's statistics.
    case stats
    /// Follow changes to keys starting with `prefix` (empty: all keys), from sequence `from`
    /// (0: from now).
    case watch(prefix: [UInt8], from: UInt64)
    /// Authenticate as `user` (empty: `default`).
    case auth(user: [UInt8], password: [UInt8])
    /// How long `key` has left.
    case ttl(key: [UInt8])
    /// Set (`relative`, `absolute`) or remove (`persist`) a key's deadline; `milliseconds` as `mode` says.
    case expire(key: [UInt8], milliseconds: Int64, mode: ExpireMode)
    /// Stream messages of these channels and channel patterns (Redis's glob syntax).
    case subscribe(channels: [[UInt8]], patterns: [[UInt8]])
    /// Post `payload` to `channel`.
    case publish(channel: [UInt8], payload: [UInt8])
    /// Apply every operation, or none if a condition fails.
    case transaction([TransactionOperation])
    /// Run a RESP command (its name, then its arguments); the reply is the command's RESP2 reply.
    case call(arguments: [[UInt8]])

    /// The opcode the request is sent with.
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
        case .ttl: .ttl
        case .expire: .expire
        case .subscribe: .subscribe
        case .publish: .publish
        case .transaction: .transaction
        case .call: .call
        }
    }

    /// Appends this request as one frame with `requestID`.
    public func encode(requestID: UInt32, into out: inout [UInt8]) {
        var flags: UInt8 = 0
        if case .put(_, _, let condition, let expiry) = self {
            flags = condition.rawValue
            switch expiry {
            case .persistent: break
            case .keep: flags |= PutExpiry.keepFlag
            case .after: flags |= PutExpiry.ttlFlag
            }
        }
        if case .scan(let q) = self { flags = q.mode.rawValue }
        if case .expire(_, _, let mode) = self { flags = mode.rawValue }
        let start = Native.beginFrame(code: opcode.rawValue, flags: flags, requestID: requestID, into: &out)
        switch self {
        case .ping(let payload):
            out.append(contentsOf: payload)
        case .get(let key), .delete(let key), .ttl(let key):
            out.appendKey(key)
        case .mget(let keys):
            out.appendLE(UInt32(keys.count))
            for key in keys { out.appendKey(key) }
        case .put(let key, let value, _, let expiry):
            out.appendKey(key)
            out.appendValue(value)
            if case .after(let milliseconds) = expiry { out.appendLE(milliseconds) }
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
        case .expire(let key, let milliseconds, _):
            out.appendKey(key)
            out.appendLE(UInt64(bitPattern: milliseconds))
        case .subscribe(let channels, let patterns):
            for names in [channels, patterns] {
                out.appendLE(UInt32(names.count))
                for name in names { out.appendValue(name) }
            }
        case .publish(let channel, let payload):
            out.appendValue(channel)
            out.appendValue(payload)
        case .transaction(let operations):
            out.appendLE(UInt32(operations.count))
            for operation in operations { operation.encode(into: &out) }
        case .call(let arguments):
            out.appendLE(UInt32(arguments.count))
            for argument in arguments { out.appendValue(argument) }
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
        case .put(let k, let v, let c, let e): self = .put(key: Array(k), value: Array(v), condition: c, expiry: e)
        case .delete(let k): self = .delete(key: Array(k))
        case .mput(let pairs): self = .mput(pairs.map { KeyValue(key: Array($0.key), value: Array($0.value)) })
        case .scan(let q):
            self = .scan(ScanQuery(mode: q.mode, start: Array(q.start), end: Array(q.end),
                                   limit: q.limit, after: Array(q.after)))
        case .incrBy(let k, let d): self = .incrBy(key: Array(k), delta: d)
        case .stats: self = .stats
        case .watch(let prefix, let from): self = .watch(prefix: Array(prefix), from: from)
        case .auth(let user, let password): self = .auth(user: Array(user), password: Array(password))
        case .ttl(let k): self = .ttl(key: Array(k))
        case .expire(let k, let ms, let mode): self = .expire(key: Array(k), milliseconds: ms, mode: mode)
        case .subscribe(let channels, let patterns): self = .subscribe(channels: channels, patterns: patterns)
        case .publish(let c, let p): self = .publish(channel: Array(c), payload: Array(p))
        case .transaction(let operations): self = .transaction(operations.map(TransactionOperation.init))
        case .call(let base, let ranges): self = .call(arguments: ranges.map { Array(base[$0]) })
        }
    }
}

/// Keys packed in a request body (MGET), walked in place. The body was validated when parsed.
public struct PackedKeys: Sequence {
    /// How many keys the body holds.
    public let count: Int
    let bytes: UnsafeRawBufferPointer

    init(count: Int, bytes: UnsafeRawBufferPointer) {
        self.count = count
        self.bytes = bytes
    }

    /// `count` keys packed as a request body packs them, in bytes already validated (or written by
    /// the caller itself): the iterator stops at the first key it cannot read.
    public init(count: Int, trusting bytes: UnsafeRawBufferPointer) {
        self.init(count: count, bytes: bytes)
    }

    /// Reads one key per step from the body; never fails, the body was validated.
    public struct Iterator: IteratorProtocol {
        var reader: ByteReader
        var left: Int
        /// The next key, borrowed from the body; nil after the last.
        public mutating func next() -> UnsafeRawBufferPointer? {
            guard left > 0 else { return nil }
            left -= 1
            return try? reader.key()
        }
    }

    /// An iterator from the first key; no allocation.
    public func makeIterator() -> Iterator { Iterator(reader: ByteReader(bytes), left: count) }
}

/// Key/value pairs packed in a request body (MPUT), walked in place.
public struct PackedPairs: Sequence {
    /// How many pairs the body holds.
    public let count: Int
    let bytes: UnsafeRawBufferPointer

    init(count: Int, bytes: UnsafeRawBufferPointer) {
        self.count = count
        self.bytes = bytes
    }

    /// `count` pairs packed as a request body packs them, in bytes already validated (or written by
    /// the caller itself): the iterator stops at the first pair it cannot read.
    public init(count: Int, trusting bytes: UnsafeRawBufferPointer) {
        self.init(count: count, bytes: bytes)
    }

    /// The pairs as they lie packed (what `init(count:trusting:)` reads back).
    public var packed: UnsafeRawBufferPointer { bytes }

    /// Reads one pair per step from the body; never fails, the body was validated.
    public struct Iterator: IteratorProtocol {
        var reader: ByteReader
        var left: Int
        /// The next pair, borrowed from the body; nil after the last.
        public mutating func next() -> (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)? {
            guard left > 0 else { return nil }
            left -= 1
            guard let k = try? reader.key(), let v = try? reader.value() else { return nil }
            return (k, v)
        }
    }

    /// An iterator from the first pair; no allocation.
    public func makeIterator() -> Iterator { Iterator(reader: ByteReader(bytes), left: count) }
}

/// A SCAN request as it lies in the input buffer.
public struct ScanQueryView {
    /// Prefix or range.
    public var mode: ScanMode
    /// The prefix (prefix mode) or the inclusive lower bound (range mode).
    public var start: UnsafeRawBufferPointer
    /// The exclusive upper bound in range mode; empty: none.
    public var end: UnsafeRawBufferPointer
    /// At most this many entries; 0 asks for the server's default.
    public var limit: UInt32
    /// Continue after this key; empty: from the start.
    public var after: UnsafeRawBufferPointer
}

/// A parsed request that borrows the input buffer: no copy, no allocation. Valid only until the
/// buffer changes, so the server uses it at once (and copies what it queues for the writer).
public enum RequestView {
    /// Echo `payload`.
    case ping(payload: UnsafeRawBufferPointer)
    /// Read one key.
    case get(key: UnsafeRawBufferPointer)
    /// Read several keys from one snapshot.
    case mget(keys: PackedKeys)
    /// Store `value` under `key` if `condition` holds, with `expiry` deciding its deadline.
    case put(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, condition: PutCondition, expiry: PutExpiry)
    /// Delete one key.
    case delete(key: UnsafeRawBufferPointer)
    /// Store every pair in one transaction.
    case mput(pairs: PackedPairs)
    /// Read one page of a scan.
    case scan(ScanQueryView)
    /// Add `delta` to a decimal value.
    case incrBy(key: UnsafeRawBufferPointer, delta: Int64)
    /// Read the daemon's statistics.
    case stats
    /// Follow changes to keys starting with `prefix` from sequence `from` (0: from now).
    case watch(prefix: UnsafeRawBufferPointer, from: UInt64)
    /// Authenticate as `user` (empty: `default`).
    case auth(user: UnsafeRawBufferPointer, password: UnsafeRawBufferPointer)
    /// How long `key` has left.
    case ttl(key: UnsafeRawBufferPointer)
    /// Set or remove a key's deadline.
    case expire(key: UnsafeRawBufferPointer, milliseconds: Int64, mode: ExpireMode)
    /// Stream messages of channels and patterns (copied: a subscription outlives the request).
    case subscribe(channels: [[UInt8]], patterns: [[UInt8]])
    /// Post a message to a channel.
    case publish(channel: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer)
    /// Apply operations under conditions, all or none.
    case transaction(PackedTransaction)
    /// CALL: the command's arguments as ranges of `base` (the body), the name first.
    case call(base: UnsafeRawBufferPointer, ranges: [Range<Int>])

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
            let expiryFlags = header.flags & (PutExpiry.keepFlag | PutExpiry.ttlFlag)
            guard let condition = PutCondition(rawValue: header.flags & ~expiryFlags) else {
                throw .malformed("unknown PUT flags \(header.flags)")
            }
            let key = try r.key()
            let value = try r.value()
            let expiry: PutExpiry
            switch expiryFlags {
            case 0: expiry = .persistent
            case PutExpiry.keepFlag: expiry = .keep
            case PutExpiry.ttlFlag:
                let milliseconds = try r.u64("time to live")
                guard milliseconds > 0, milliseconds <= UInt64(Int64.max / 2) else {
                    throw .malformed("time to live \(milliseconds) ms is not between 1 and 2^62")
                }
                expiry = .after(milliseconds: milliseconds)
            default: throw .malformed("PUT cannot both keep and set a time to live")
            }
            self = .put(key: key, value: value, condition: condition, expiry: expiry)
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
        case .ttl:
            self = .ttl(key: try r.key())
        case .expire:
            guard let mode = ExpireMode(rawValue: header.flags) else { throw .malformed("unknown EXPIRE mode \(header.flags)") }
            let key = try r.key()
            self = .expire(key: key, milliseconds: Int64(bitPattern: try r.u64("time")), mode: mode)
        case .subscribe:
            var lists: [[[UInt8]]] = []
            for what in ["channel count", "pattern count"] {
                let count = Int(try r.u32(what))
                // Each name takes at least four bytes: a count beyond that cannot be honest.
                guard count <= r.remaining / 4 else { throw .malformed("\(what) \(count) exceeds the body") }
                var names: [[UInt8]] = []
                for _ in 0..<count { names.append(Array(try r.value())) }
                lists.append(names)
            }
            guard !lists[0].isEmpty || !lists[1].isEmpty else { throw .malformed("SUBSCRIBE names no channel and no pattern") }
            self = .subscribe(channels: lists[0], patterns: lists[1])
        case .publish:
            let channel = try r.value()
            self = .publish(channel: channel, payload: try r.value())
        case .transaction:
            self = .transaction(try PackedTransaction.parse(&r, body: body))
        case .call:
            let count = Int(try r.u32("argument count"))
            // Each argument takes at least four bytes: a count beyond that cannot be honest.
            guard count >= 1 else { throw .malformed("CALL names no command") }
            guard count <= r.remaining / 4 else { throw .malformed("argument count \(count) exceeds the body") }
            var ranges: [Range<Int>] = []
            ranges.reserveCapacity(count)
            for _ in 0..<count {
                let length = try r.value().count
                ranges.append((r.offset - length)..<r.offset)
            }
            self = .call(base: body, ranges: ranges)
        }
        try r.finish()
    }
}
