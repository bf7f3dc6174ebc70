import LMDB
import StoreLayout
import Wire

/// TYPE, RANDOMKEY, OBJECT and MEMORY: what Redis tells about a key. No access times or frequencies are kept (a read writes nothing), so OBJECT IDLETIME is 0 and
/// OBJECT FREQ answers Redis's error for a daemon without an LFU policy.
extension KeyCommands {
    static func type(_ c: CommandCall) throws {
        c.reply.status(try c.keys.type(of: c.args[1])?.name ?? "none")
    }

    /// RANDOMKEY: the first live key at or after a random point of the key order (wrapping to the
    /// start); nil when there is none. Not uniform (keys after a wide gap come up more often), as cheap
    /// as one seek.
    static func randomKey(_ c: CommandCall) throws {
        var random = SystemRandomNumberGenerator()
        let start = (0..<Int.random(in: 1...8, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
        var found: [UInt8]? = nil
        for after in [start, nil] where found == nil {
            try c.keys.forEachKey(prefix: [], after: after) { key, _ in
                found = Array(key)
                return .stop
            }
        }
        if let found { c.reply.bulk(found) } else { c.reply.null() }
    }

    /// Redis's OBJECT ENCODING rules for a string: `int` for a decimal integer of at most 20 bytes,
    /// `embstr` up to 44 bytes, `raw` beyond. (Redis keeps APPEND's and SETRANGE's results `raw` at any
    /// length; ShmKV stores bytes only and judges them as SET would.)
    static func encoding(of value: UnsafeRawBufferPointer) -> String {
        if RedisInteger.parse(value) != nil { return "int" }
        return value.count <= 44 ? "embstr" : "raw"
    }

    static func object(_ c: CommandCall) throws {
        let args = c.args
        let subcommands: [StaticString] = ["ENCODING", "FREQ", "IDLETIME", "REFCOUNT"]
        if args.is(1, "HELP") {
            return c.reply.help([
                "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", "ENCODING <key>",
                "    Return the kind of internal representation used in order to store the value",
                "    associated with a <key>.", "FREQ <key>",
                "    Return the access frequency index of the <key>. The returned integer is",
                "    proportional to the logarithm of the recent access frequency of the key.", "IDLETIME <key>",
                "    Return the idle time of the <key>, that is the approximated number of",
                "    seconds elapsed since the last access to the key.", "REFCOUNT <key>",
                "    Return the number of references of the value associated with the specified", "    <key>.",
                "HELP", "    Prints this help.",
            ])
        }
        guard subcommands.contains(where: { args.is(1, $0) }) else {
            return c.reply.error("ERR unknown subcommand '\(args.string(1))'. Try OBJECT HELP.")
        }
        guard args.count == 3 else {
            return c.reply.error(RESPError.wrongArity("object|" + args.string(1).lowercased()).message)
        }
        let collectionEncoding: String? = try c.keys.withCollection(args[2]) { $0?.header.encoding.name }
        if let collectionEncoding {
            if args.is(1, "ENCODING") { return c.reply.bulk(collectionEncoding) }
            return try object(c, integer: nil)
        }
        try c.keys.withValue(args[2]) { value in
            guard let value else { return c.reply.null() }
            if args.is(1, "ENCODING") { return c.reply.bulk(encoding(of: value)) }
            try object(c, integer: RedisInteger.parse(value))
        }
    }

    /// OBJECT FREQ, IDLETIME, REFCOUNT of a live key (`integer`: its value when a string holding one).
    private static func object(_ c: CommandCall, integer: Int64?) throws {
        if c.args.is(1, "FREQ") {
            c.reply.error("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
        } else if c.args.is(1, "IDLETIME") {
            c.reply.integer(0)
        } else {
            // Redis shares the integers 0…9999 (a reference count that means "shared").
            let shared = integer.map { $0 >= 0 && $0 < 10_000 } ?? false
            c.reply.integer(shared ? 2_147_483_647 : 1)
        }
    }

    /// MEMORY USAGE key [SAMPLES n]: the bytes the key takes in LMDB — key, value and node headers, a
    /// value too large for a page in whole overflow pages, and its deadline's two entries.
    static func memory(_ c: CommandCall) throws {
        let args = c.args
        if args.is(1, "HELP") {
            return c.reply.help([
                "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", "USAGE <key> [SAMPLES <count>]",
                "    Return memory in bytes used by <key> and its value. Nested values are",
                "    sampled up to <count> times (default: 5, 0 means sample all).", "HELP", "    Prints this help.",
            ])
        }
        guard args.is(1, "USAGE") else {
            return c.reply.error("ERR unknown subcommand '\(args.string(1))'. Try MEMORY HELP.")
        }
        guard args.count >= 3 else { return c.reply.error(RESPError.wrongArity("memory|usage").message) }
        var i = 3
        while i < args.count {
            guard args.is(i, "SAMPLES") && i + 1 < args.count else { return c.reply.error("ERR syntax error") }
            guard args.integer(i + 1) != nil else { return c.reply.error("ERR value is not an integer or out of range") }
            i += 2
        }
        let key = args[2]
        var samples = 5
        if args.count == 5 { samples = Int(clamping: args.integer(4)!) }
        let size: Int? = try c.keys.withCollection(key) { view in
            guard let view else { return nil }
            let record = recordSize(key: key.count, value: CollectionHeader.size + view.items.count)
            guard !view.header.isPacked else { return record }
            // A large collection: its records, sampled as Redis samples (SAMPLES 0: all of them).
            var seen = 0, bytes = 0
            try view.forEachRecord(after: nil) { elementKey, _, value in
                bytes += recordSize(key: elementKey.count, value: value.count) * (view.type == .zset ? 2 : 1)
                seen += 1
                return samples > 0 && seen >= samples ? .stop : .proceed
            }
            return record + (seen == 0 ? 0 : bytes * view.count / seen)
        }
        let stringSize: Int? = size != nil ? nil : try c.keys.withValue(key) { $0.map { recordSize(key: key.count, value: $0.count) } }
        guard let size = size ?? stringSize else { return c.reply.null() }
        let deadline = try c.keys.deadline(of: key) != nil ? 2 * (8 + key.count + 8 + 2) : 0
        c.reply.integer(size + deadline)
    }
}

extension KeyCommands {
    /// Bytes a record takes in an LMDB page: node header, key and value, and its slot; a value too large
    /// for a quarter page moves to whole overflow pages of its own.
    static func recordSize(key: Int, value: Int) -> Int {
        let pageSize = 4096
        let node = 8 + key + value
        return node <= pageSize / 4 ? node + 2 : 8 + key + 2 + (value + 16 + pageSize - 1) / pageSize * pageSize
    }
}

extension RESPSession {
    /// A HELP reply: one status line per entry, as Redis sends them.
    func helpReply(_ lines: [String]) {
        RESPWriter.array(lines.count, into: &output)
        for line in lines { RESPWriter.simple(line, into: &output) }
    }
}
