import FuzzReplay
import FuzzServer
#if canImport(Glibc)
import Glibc
#endif

/// libFuzzer target: each input is read as a program of a small grammar and becomes Lua scripts sent
/// to a whole daemon in this process (`FuzzServer`) with EVAL, EVAL_RO, FCALL and FUNCTION LOAD:
/// `redis.call` and `redis.pcall` of commands over every type with right and wrong arguments, loops,
/// pcall, error values, every reply shape returned, RESP2 and RESP3, and the decoders (cmsgpack,
/// struct, cjson) fed the input's own bytes. The input's tail is also sent as a script body as it is.
/// A trap in the daemon (Lua error crossing a Swift frame, memory, stack) is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzScripts(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var program = Program(UnsafeRawBufferPointer(start: data, count: size))
    var commands: [[[UInt8]]] = []
    let raw = Array(UnsafeRawBufferPointer(start: data, count: size).suffix(64))
    for _ in 0..<(1 + Int(program.byte() % 3)) {
        let body = program.script()
        switch program.byte() % 6 {
        case 0: commands.append([bytes("EVAL_RO"), bytes(body), bytes("2"), bytes("k0"), bytes("k1"), raw, program.string()])
        case 1:
            let flags = program.byte() % 2 == 0 ? "'no-writes'" : ""
            commands.append([bytes("FUNCTION"), bytes("LOAD"), bytes("REPLACE"),
                             bytes("#!lua name=fz\nredis.register_function{function_name='fz', callback=function(KEYS, ARGV)\n" + body + "\nend, flags={" + flags + "}}")])
            commands.append([bytes(program.byte() % 2 == 0 ? "FCALL" : "FCALL_RO"), bytes("fz"), bytes("1"), bytes("k2"), raw])
        case 2: commands.append([bytes("EVAL"), bytes("#!lua flags=no-writes\n" + body), bytes("1"), bytes("k3"), raw])
        default: commands.append([bytes("EVAL"), bytes(body), bytes("2"), bytes("k1"), bytes("h1"), raw, program.string()])
        }
    }
    commands.append([bytes("EVAL"), raw, bytes("0")])
    var wire: [UInt8] = program.byte() % 4 == 0 ? Array("HELLO 3\r\n".utf8) : []
    for words in commands {
        wire += Array("*\(words.count)\r\n".utf8)
        for word in words { wire += Array("$\(word.count)\r\n".utf8) + word + [13, 10] }
    }
    // SHMKV_FUZZ_PRINT=1: the scripts an input makes, to read a finding.
    if getenv("SHMKV_FUZZ_PRINT") != nil {
        for words in commands { print(words.map { String(decoding: $0, as: UTF8.self) }.joined(separator: " | ")) }
    }
    wire.withUnsafeBytes { FuzzServer.exchange($0) }
    return 0
}

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// The input read a byte at a time (zeros once it runs out), choosing the grammar's branches.
struct Program {
    let input: [UInt8]
    var at = 0
    var depth = 0

    init(_ data: UnsafeRawBufferPointer) { input = Array(data) }

    mutating func byte() -> UInt8 {
        defer { at += 1 }
        return at < input.count ? input[at] : 0
    }

    mutating func pick<T>(_ items: [T]) -> T { items[Int(byte()) % items.count] }

    static let commands: [(String, Int)] = [
        ("SET", 2), ("GET", 1), ("INCR", 1), ("INCRBY", 2), ("INCRBYFLOAT", 2), ("APPEND", 2), ("SETRANGE", 3), ("GETRANGE", 3),
        ("DEL", 1), ("EXISTS", 2), ("TYPE", 1), ("EXPIRE", 2), ("PEXPIRE", 2), ("TTL", 1), ("PERSIST", 1), ("RENAME", 2), ("COPY", 2),
        ("HSET", 3), ("HGET", 2), ("HINCRBY", 3), ("HDEL", 2), ("HGETALL", 1), ("HLEN", 1), ("HSCAN", 2),
        ("SADD", 2), ("SREM", 2), ("SMEMBERS", 1), ("SISMEMBER", 2), ("SPOP", 1), ("SINTER", 2), ("SUNIONSTORE", 3), ("SRANDMEMBER", 2),
        ("ZADD", 3), ("ZINCRBY", 3), ("ZRANGE", 3), ("ZRANGEBYSCORE", 3), ("ZSCORE", 2), ("ZPOPMIN", 2), ("ZUNIONSTORE", 3),
        ("LPUSH", 2), ("RPUSH", 3), ("LPOP", 1), ("LRANGE", 3), ("LINDEX", 2), ("LSET", 3), ("LREM", 3), ("LMOVE", 4), ("BLPOP", 2),
        ("SORT", 1), ("MGET", 3), ("MSET", 4), ("SCAN", 1), ("DBSIZE", 0), ("TIME", 0), ("PING", 1), ("ECHO", 1), ("SELECT", 1),
        ("PUBLISH", 2), ("OBJECT", 2), ("NOSUCH", 1), ("EVAL", 2), ("SHUTDOWN", 0), ("MULTI", 0), ("FLUSHALL", 0), ("CONFIG", 2),
    ]

    static let arguments = [
        "KEYS[1]", "KEYS[2]", "'k0'", "'h1'", "'z'", "'l'", "ARGV[1]", "ARGV[2]", "0", "1", "-1", "2", "'10'", "'x'", "''", "1.5",
        "'inf'", "'-inf'", "'nan'", "9223372036854775807", "-9223372036854775808", "2^63", "'9999999999999999999999'", "string.rep('a', 70)",
        "'LEFT'", "'RIGHT'", "'COUNT'", "'WITHSCORES'", "'BY'", "'ALPHA'", "'GET'", "'#'", "'NX'", "'KEEPTTL'", "'0.1'", "true", "{}",
    ]

    mutating func argument() -> String { pick(Program.arguments) }

    mutating func call() -> String {
        let (name, arity) = pick(Program.commands)
        let count = max(0, arity + Int(byte() % 3) - 1)
        let call = byte() % 3 == 0 ? "redis.call" : "redis.pcall"
        return "\(call)(" + (["'\(name)'"] + (0..<count).map { _ in argument() }).joined(separator: ", ") + ")"
    }

    mutating func value() -> String {
        switch byte() % 16 {
        case 0: return "r"
        case 1: return call()
        case 2: return "{err='" + pick(["ERR x", "-CODE y", "", "WRONGTYPE"]) + "'}"
        case 3: return "{ok='fine'}"
        case 4: return "{double=" + pick(["1.5", "0/0", "1/0", "-2"]) + "}"
        case 5: return "{map={a=1, b={1, 2}}}"
        case 6: return "{set={a=true, b=false}}"
        case 7: return "{big_number='" + pick(["123", "1\r\n2", ""]) + "'}"
        case 8: return "redis.error_reply(ARGV[1])"
        case 9: return "redis.status_reply(ARGV[1])"
        case 10: return "{1, nil, 3}"
        case 11: return pick(["nil", "true", "false", "3.99", "-0.5", "2^70"])
        case 12: return "cmsgpack.unpack(cmsgpack.pack(r))"
        case 13: return "{verbatim_string={format='txt', string='v'}}"
        default: return argument()
        }
    }

    mutating func statement() -> String {
        depth += 1
        defer { depth -= 1 }
        let nested = depth < 4
        switch byte() % (nested ? 20 : 12) {
        case 0, 1, 2, 3: return "r[#r + 1] = " + call()
        case 4: return call()
        case 5: return "r[#r + 1] = " + pick(["pcall(cmsgpack.unpack, ARGV[1])", "pcall(cmsgpack.unpack_one, ARGV[1], 1)",
                                             "pcall(cmsgpack.unpack_limit, ARGV[1], 2, 0)", "pcall(cjson.decode, ARGV[1])",
                                             "pcall(struct.unpack, ARGV[2], ARGV[1])", "pcall(struct.pack, ARGV[2], 1, 2, 'x')",
                                             "pcall(struct.size, ARGV[2])", "pcall(bit.tohex, #ARGV[1])"])
        case 6: return "r[#r + 1] = cmsgpack.pack(" + value() + ")"
        case 7: return "redis.setresp(" + pick(["2", "3", "4"]) + ")"
        case 8: return "r[#r + 1] = cjson.encode(" + pick(["r", "{1, 2}", "{a = {}}"]) + ")"
        case 9: return "if #r > " + String(byte() % 8) + " then return " + value() + " end"
        case 10: return "r[#r + 1] = redis.sha1hex(tostring(#r))"
        case 11: return "r[#r + 1] = tostring(" + value() + ")"
        case 12, 13: return "for i = 1, \(byte() % 10) do " + statement() + " end"
        case 14: return "r[#r + 1] = pcall(function() " + statement() + " end)"
        case 15: return "pcall(error, " + value() + ")"
        case 16: return "local t = {} for i = 1, \(byte() % 64) do t[i] = " + value() + " end r[#r + 1] = #t"
        case 17: return pick(["redis = nil", "string.rep = nil", "x = 1", "setmetatable(_G, {})", "r[#r + 1] = loadstring('return 1')()"])
        default: return "if " + pick(["#r % 2 == 0", "r[1]", "type(r[1]) == 'table'"]) + " then " + statement() + " else " + statement() + " end"
        }
    }

    mutating func script() -> String {
        "local r = {}\n" + (0..<(1 + Int(byte() % 8))).map { _ in statement() }.joined(separator: "\n") + "\nreturn " + value()
    }

    mutating func string() -> [UInt8] { (0..<Int(byte() % 12)).map { _ in byte() } }
}

@main struct FuzzEntry {
    static func main() { fuzzMain { data, size in fuzzScripts(data, size) } }
}
