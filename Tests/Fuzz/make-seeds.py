#!/usr/bin/env python3
"""Writes the fuzz seed corpora: valid pipelines of every command, in both protocols.

resp/    RESP requests (multibulk and inline) for the RESP decoder
native/  native frames (hello first) for the native decoder
server/  whole connections for the server target: every RESP file and every native file
records/ collection records (a __types value) for the record decoders' target
Run from the repository root: python3 Tests/Fuzz/make-seeds.py
"""
import os, struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

def bulk(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else a.encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out

def inline(args):
    return (" ".join(args) + "\r\n").encode()

RESP = {
    "strings": [["SET", "k", "v"], ["GET", "k"], ["SET", "k", "v2", "NX"], ["SET", "k", "v3", "XX", "GET"], ["SETNX", "n", "1"],
                ["GETDEL", "n"], ["APPEND", "k", "tail"], ["STRLEN", "k"], ["GETRANGE", "k", "0", "-1"], ["SUBSTR", "k", "1", "2"],
                ["MSET", "a", "1", "b", "2"], ["MSETNX", "c", "3", "d", "4"], ["MGET", "a", "b", "zz"]],
    "counters": [["INCR", "n"], ["INCRBY", "n", "41"], ["DECR", "n"], ["DECRBY", "n", "-9223372036854775808"],
                 ["INCRBY", "n", "9223372036854775807"], ["SET", "x", "abc"], ["INCR", "x"]],
    "keys": [["EXISTS", "a", "b", "q"], ["DEL", "a", "q"], ["UNLINK", "b"], ["KEYS", "*"], ["KEYS", "[ab]?*"],
             ["SCAN", "0", "MATCH", "k*", "COUNT", "2", "TYPE", "string"], ["SCAN", "1"], ["DBSIZE"], ["FLUSHDB"], ["FLUSHALL", "ASYNC"]],
    "server": [["PING"], ["PING", "hi"], ["ECHO", "e"], ["INFO"], ["INFO", "keyspace"], ["CONFIG", "GET", "*"], ["CONFIG", "SET", "a", "b"],
               ["COMMAND"], ["COMMAND", "COUNT"], ["COMMAND", "INFO", "get"], ["COMMAND", "DOCS", "set"], ["COMMAND", "LIST"], ["TIME"],
               ["SELECT", "0"], ["SELECT", "1"], ["NOSUCH", "x"]],
    "connection": [["HELLO", "3"], ["HELLO", "2", "SETNAME", "c"], ["HELLO", "3", "AUTH", "default", "pw"], ["AUTH", "pw"],
                   ["AUTH", "u", "pw"], ["ACL", "WHOAMI"], ["ACL", "LIST"], ["CLIENT", "SETNAME", "n"], ["CLIENT", "GETNAME"],
                   ["CLIENT", "ID"], ["CLIENT", "SETINFO", "LIB-NAME", "x"], ["CLIENT", "LIST"], ["CLIENT", "INFO"], ["RESET"], ["QUIT"]],
    "expiry": [["SET", "k", "v", "EX", "100"], ["SET", "k", "v", "PXAT", "1"], ["SETEX", "s", "10", "v"], ["PSETEX", "p", "5", "v"],
               ["GETEX", "s", "PERSIST"], ["EXPIRE", "s", "10", "XX", "GT"], ["PEXPIRE", "s", "-1"], ["EXPIREAT", "k", "9223372036854775807"],
               ["TTL", "s"], ["PTTL", "p"], ["EXPIRETIME", "k"], ["PERSIST", "k"], ["TOUCH", "k", "s"]],
    "transactions": [["WATCH", "k"], ["MULTI"], ["SET", "k", "1"], ["INCR", "k"], ["GET", "k"], ["NOSUCH"], ["EXEC"], ["MULTI"],
                     ["SET", "k", "1", "EX", "x"], ["MGET", "k", "j"], ["EXEC"], ["MULTI"], ["DISCARD"], ["UNWATCH"]],
    "pubsub": [["PUBLISH", "c", "m"], ["PUBSUB", "CHANNELS"], ["PUBSUB", "NUMSUB", "c"], ["SUBSCRIBE", "c"], ["PUBLISH", "c", "m"],
               ["SUBSCRIBE", "__keyspace@0__:k"], ["PSUBSCRIBE", "__key*__:*"], ["PING"], ["UNSUBSCRIBE"], ["PUNSUBSCRIBE", "x"],
               ["SET", "k", "1"]],
    "more": [["GETSET", "k", "v"], ["SETRANGE", "k", "3", "xy"], ["INCRBYFLOAT", "f", "1.5e3"], ["LCS", "k", "f", "IDX", "MINMATCHLEN", "1",
              "WITHMATCHLEN"], ["TYPE", "k"], ["RENAME", "k", "r"], ["RENAMENX", "r", "f"], ["COPY", "r", "c", "DB", "0", "REPLACE"],
             ["RANDOMKEY"], ["OBJECT", "ENCODING", "c"], ["OBJECT", "HELP"], ["MEMORY", "USAGE", "c", "SAMPLES", "5"],
             ["FUNCTION", "FLUSH", "SYNC"], ["LASTSAVE"], ["SAVE"], ["WAIT", "0", "0"], ["WAITAOF", "0", "0", "0"]],
    "config": [["CONFIG", "SET", "notify-keyspace-events", "KEAn"], ["CONFIG", "GET", "notify-*"], ["CONFIG", "SET", "save", ""],
               ["CONFIG", "RESETSTAT"], ["CONFIG", "HELP"], ["INFO", "commandstats"], ["INFO", "errorstats"], ["INFO", "all"]],
    "collections": [["HSET", "h", "a", "1", "b", "2"], ["HGETALL", "h"], ["HINCRBYFLOAT", "h", "a", "0.5"], ["HRANDFIELD", "h", "-3", "WITHVALUES"],
                    ["HSCAN", "h", "0", "MATCH", "a*", "NOVALUES"], ["SADD", "s", "1", "2", "x"], ["SPOP", "s", "2"], ["SINTERSTORE", "d", "s", "s"],
                    ["SINTERCARD", "2", "s", "d", "LIMIT", "1"], ["ZADD", "z", "GT", "CH", "1", "a", "2", "b"], ["ZINCRBY", "z", "-inf", "a"],
                    ["ZRANGE", "z", "(1", "+inf", "BYSCORE", "REV", "LIMIT", "0", "1", "WITHSCORES"], ["ZRANGEBYLEX", "z", "[a", "(z"],
                    ["ZUNIONSTORE", "u", "2", "z", "s", "WEIGHTS", "2", "1", "AGGREGATE", "MAX"], ["ZMPOP", "1", "z", "MIN", "COUNT", "2"],
                    ["ZRANDMEMBER", "u", "-2", "WITHSCORES"], ["SELECT", "1"], ["MOVE", "u", "0"], ["SWAPDB", "0", "1"], ["TYPE", "u"],
                    ["OBJECT", "ENCODING", "u"], ["CONFIG", "SET", "zset-max-listpack-entries", "1"], ["ZADD", "y", "1", "a", "2", "b"]],
    "tracking": [["HELLO", "3"], ["CLIENT", "TRACKING", "ON", "OPTIN", "NOLOOP"], ["CLIENT", "CACHING", "YES"], ["GET", "k"],
                 ["SET", "k", "1"], ["CLIENT", "TRACKINGINFO"], ["CLIENT", "TRACKING", "OFF"],
                 ["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a", "PREFIX", "b"], ["SET", "a1", "x"], ["CLIENT", "GETREDIR"],
                 ["CLIENT", "TRACKING", "ON", "REDIRECT", "1"], ["FLUSHDB"]],
}

# Native: magic, version 1, flags, reserved; then frames of u32 length, opcode, flags, u32 id, body.
HELLO = bytes([0xA5, 0x53, 0x4B, 0x56, 1, 0, 0, 0])

def key(k):
    return struct.pack("<H", len(k)) + k

def value(v):
    return struct.pack("<I", len(v)) + v

def frame(op, body=b"", flags=0, rid=1):
    return struct.pack("<IBBI", 6 + len(body), op, flags, rid) + body

NATIVE = {
    "ping": frame(1, b"payload"),
    "get": frame(2, key(b"k")),
    "mget": frame(3, struct.pack("<I", 2) + key(b"a") + key(b"b")),
    "put": frame(4, key(b"k") + value(b"v")) + frame(4, key(b"k") + value(b"w"), flags=1) + frame(4, key(b"k") + value(b"x"), flags=2),
    "delete": frame(5, key(b"k")),
    "mput": frame(6, struct.pack("<I", 2) + key(b"a") + value(b"1") + key(b"b") + value(b"2")),
    "scan": frame(7, key(b"") + key(b"") + struct.pack("<I", 10) + key(b"")) + frame(7, key(b"a") + key(b"z") + struct.pack("<I", 0) + key(b"b"), flags=1),
    "incrby": frame(8, key(b"n") + struct.pack("<q", -5)),
    "stats": frame(9),
    "watch": frame(10, key(b"k") + struct.pack("<Q", 0)),
    "auth": frame(11, key(b"") + value(b"pw")) + frame(11, key(b"user") + value(b"pw")),
    "ttl": frame(12, key(b"k")),
    "expire": frame(13, key(b"k") + struct.pack("<q", 1000)) + frame(13, key(b"k") + struct.pack("<q", 0), flags=2),
    "publish": frame(15, value(b"ch") + value(b"hello")),
    # TXN: PUT if absent with a TTL, DELETE if the value equals, INCRBY.
    "txn": frame(16, struct.pack("<I", 3)
                 + bytes([1, 1]) + key(b"a") + value(b"1") + bytes([2]) + struct.pack("<Q", 5000)
                 + bytes([2, 3]) + key(b"b") + value(b"old")
                 + bytes([3, 0]) + key(b"n") + struct.pack("<q", 7)),
    # CALL: RESP commands of the table over native frames (reads, writes, errors, one not available).
    "call": b"".join(frame(17, struct.pack("<I", len(c)) + b"".join(value(a.encode()) for a in c), rid=i)
                     for i, c in enumerate([["SET", "k", "v", "EX", "100"], ["GET", "k"], ["INCR", "n"], ["MSET", "a", "1", "b", "2"],
                                            ["MGET", "a", "b", "k"], ["LCS", "a", "b", "IDX"], ["SCAN", "0", "MATCH", "*"], ["MULTI"],
                                            ["NOSUCH"], ["SET", "k"], ["DEL", "a", "b"], ["GETEX", "k", "PERSIST"]], start=1)),
}

def write(folder, name, data):
    os.makedirs(os.path.join(ROOT, folder), exist_ok=True)
    with open(os.path.join(ROOT, folder, name), "wb") as f:
        f.write(data)

for family, commands in RESP.items():
    multibulk = b"".join(bulk(c) for c in commands)
    inlined = b"".join(inline(c) for c in commands)
    for folder in ("resp", "server"):
        write(folder, family + ".resp", multibulk)
        write(folder, family + ".inline", inlined)
everything = b"".join(NATIVE.values())
for name, frames in NATIVE.items():
    for folder in ("native", "server"):
        write(folder, name + ".native", HELLO + frames)
for folder in ("native", "server"):
    write(folder, "all.native", HELLO + everything)

# Collection records (docs/STORAGE.md): header (type, layout, encoding, 5 zeros, u64 count, u64 id,
# little-endian), then packed items (u32 length and bytes; a sorted set's member followed by an
# 8-byte score).
import struct
def header(kind, layout, encoding, count, ident=0):
    return bytes([ord(kind), layout, encoding, 0, 0, 0, 0, 0]) + struct.pack("<QQ", count, ident)
def item(b):
    return struct.pack("<I", len(b)) + b
RECORDS = {
    "hash-packed": header("h", 0, 0, 2) + item(b"a") + item(b"1") + item(b"b") + item(b"2"),
    "set-packed": header("s", 0, 2, 3) + item(b"1") + item(b"2") + item(b"3"),
    "zset-packed": header("z", 0, 0, 2) + item(b"a") + struct.pack("<d", 1.0) + item(b"b") + struct.pack("<d", 2.5),
    "zset-large": header("z", 1, 3, 5, 7) + b"m1" + struct.pack(">Q", 0x8000000000000000) + b"m1",
    "hash-large": header("h", 1, 1, 3, 9) + item(b"field") + b"value",
    "count-lies": header("h", 0, 0, 1000000) + item(b"a"),
    "length-lies": header("s", 0, 1, 1) + struct.pack("<I", 0xFFFFFFF0) + b"x",
}
for name, data in RECORDS.items():
    write("records", name, data)

# Script programs (the scripts target reads its input as choices of a small grammar): inputs of a few
# lengths from a fixed generator, plus bytes that are also msgpack, struct formats and Lua text.
import random
chooser = random.Random(25)
SCRIPTS = {"program-%02d" % n: bytes(chooser.randrange(256) for _ in range(size))
           for n, size in enumerate([8, 16, 32, 64, 64, 128, 128, 256, 256, 512])}
SCRIPTS["msgpack-tail"] = bytes(chooser.randrange(256) for _ in range(40)) + bytes.fromhex("93a16101c0dc0003010203de00018161c3cb3fb999999999999a")
SCRIPTS["lua-tail"] = bytes(chooser.randrange(256) for _ in range(40)) + b"return redis.call('set', KEYS[1] or 'x', 1)"
SCRIPTS["struct-tail"] = bytes(chooser.randrange(256) for _ in range(40)) + b">i4 <h !8 d s c0 B"
for name, data in SCRIPTS.items():
    write("scripts", name, data)
