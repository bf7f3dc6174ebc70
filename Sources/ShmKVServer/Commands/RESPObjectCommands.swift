import LMDB
import StoreLayout
import Wire

/// TYPE, RANDOMKEY, OBJECT and MEMORY: what Redis tells about a key, for a store whose only type is the
/// string. No access times or frequencies are kept (a read writes nothing), so OBJECT IDLETIME is 0 and
/// OBJECT FREQ answers Redis's error for a daemon without an LFU policy.
extension RESPSession {
    func type(_ args: RESPArguments) {
        read { keys in
            let live = self.keyProblem(args[1]) == nil ? try keys.contains(args[1]) : false
            RESPWriter.simple(live ? "string" : "none", into: &self.output)
        }
    }

    /// RANDOMKEY: the first live key at or after a random point of the key order (wrapping to the
    /// start); nil when there is none. Not uniform (keys after a wide gap come up more often), as cheap
    /// as one seek.
    func randomKey(_ args: RESPArguments) {
        read { keys in
            var random = SystemRandomNumberGenerator()
            let start = (0..<Int.random(in: 1...8, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            var found: [UInt8]? = nil
            for lower in [start, []] where found == nil {
                try keys.forEach(from: lower, to: nil) { key, _ in
                    found = Array(key)
                    return .stop
                }
            }
            if let found { RESPWriter.bulk(found, into: &self.output) } else { RESPWriter.null(resp3: self.resp3, into: &self.output) }
        }
    }

    /// Redis's OBJECT ENCODING rules for a string: `int` for a decimal integer of at most 20 bytes,
    /// `embstr` up to 44 bytes, `raw` beyond. (Redis keeps APPEND's and SETRANGE's results `raw` at any
    /// length; ShmKV stores bytes only and judges them as SET would.)
    static func encoding(of value: UnsafeRawBufferPointer) -> String {
        if RedisInteger.parse(value) != nil { return "int" }
        return value.count <= 44 ? "embstr" : "raw"
    }

    func object(_ args: RESPArguments) {
        let subcommands: [StaticString] = ["ENCODING", "FREQ", "IDLETIME", "REFCOUNT"]
        if args.is(1, "HELP") {
            return helpReply([
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
            return RESPWriter.error("ERR unknown subcommand '\(args.string(1))'. Try OBJECT HELP.", into: &output)
        }
        guard args.count == 3 else { _ = wrongArity(args, "object|" + args.string(1).lowercased()); return }
        read { keys in
            guard self.keyProblem(args[2]) == nil else { return RESPWriter.null(resp3: self.resp3, into: &self.output) }
            try keys.withValue(args[2]) { value in
                guard let value else { return RESPWriter.null(resp3: self.resp3, into: &self.output) }
                if args.is(1, "ENCODING") {
                    RESPWriter.bulk(RESPSession.encoding(of: value), into: &self.output)
                } else if args.is(1, "FREQ") {
                    RESPWriter.error("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.", into: &self.output)
                } else if args.is(1, "IDLETIME") {
                    RESPWriter.integer(0, into: &self.output)
                } else {
                    // Redis shares the integers 0…9999 (a reference count that means "shared").
                    let shared = RedisInteger.parse(value).map { $0 >= 0 && $0 < 10_000 } ?? false
                    RESPWriter.integer(shared ? 2_147_483_647 : 1, into: &self.output)
                }
            }
        }
    }

    /// MEMORY USAGE key [SAMPLES n]: the bytes the key takes in LMDB — key, value and node headers, a
    /// value too large for a page in whole overflow pages, and its deadline's two entries.
    func memory(_ args: RESPArguments) {
        if args.is(1, "HELP") {
            return helpReply([
                "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", "USAGE <key> [SAMPLES <count>]",
                "    Return memory in bytes used by <key> and its value. Nested values are",
                "    sampled up to <count> times (default: 5, 0 means sample all).", "HELP", "    Prints this help.",
            ])
        }
        guard args.is(1, "USAGE") else {
            return RESPWriter.error("ERR unknown subcommand '\(args.string(1))'. Try MEMORY HELP.", into: &output)
        }
        guard args.count >= 3 else { _ = wrongArity(args, "memory|usage"); return }
        var i = 3
        while i < args.count {
            guard args.is(i, "SAMPLES") && i + 1 < args.count else { return RESPWriter.error("ERR syntax error", into: &output) }
            guard args.integer(i + 1) != nil else { return RESPWriter.error("ERR value is not an integer or out of range", into: &output) }
            i += 2
        }
        read { keys in
            guard self.keyProblem(args[2]) == nil else { return RESPWriter.null(resp3: self.resp3, into: &self.output) }
            let pageSize = 4096
            let size: Int? = try keys.withValue(args[2]) { value in
                guard let value else { return nil }
                let node = 8 + args[2].count + value.count
                // LMDB moves a value that does not fit a quarter page to overflow pages of its own.
                return node <= pageSize / 4 ? node + 2 : 8 + args[2].count + 2 + (value.count + 16 + pageSize - 1) / pageSize * pageSize
            }
            guard let size else { return RESPWriter.null(resp3: self.resp3, into: &self.output) }
            let deadline = try keys.deadline(of: args[2]) != nil ? 2 * (8 + args[2].count + 8 + 2) : 0
            RESPWriter.integer(size + deadline, into: &self.output)
        }
    }

    /// A HELP reply: one status line per entry, as Redis sends them.
    func helpReply(_ lines: [String]) {
        RESPWriter.array(lines.count, into: &output)
        for line in lines { RESPWriter.simple(line, into: &output) }
    }
}
