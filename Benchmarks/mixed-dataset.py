#!/usr/bin/env python3
"""RESP commands that build the benchmarks' mixed dataset of N keys (argument), on stdout, for
`redis-cli --pipe`: key:0 … key:N-1, 60% strings of 20-100 bytes (index % 10 < 6) and 10% each lists,
hashes, sets and sorted sets of 5 small elements; index % 10 == 3 (a string) with a one-day deadline.
Seeded: the same dataset every run (Benchmarks/rdb.sh, Benchmarks/replication.sh)."""
import random, sys

n = int(sys.argv[1]); random.seed(7); out = sys.stdout.buffer
def cmd(*a):
    out.write(b"*%d\r\n" % len(a))
    for x in a:
        x = x if isinstance(x, bytes) else str(x).encode()
        out.write(b"$%d\r\n%s\r\n" % (len(x), x))
for i in range(n):
    k, kind = "key:%d" % i, i % 10
    if kind < 6: cmd("SET", k, "v" * random.randint(20, 100))
    elif kind == 6: cmd("RPUSH", k, *["item%d" % j for j in range(5)])
    elif kind == 7: cmd("HSET", k, *sum([["f%d" % j, "value%d" % j] for j in range(5)], []))
    elif kind == 8: cmd("SADD", k, *["m%d" % (i + j) for j in range(5)])
    else: cmd("ZADD", k, *sum([[str(j * 1.5), "z%d" % j] for j in range(5)], []))
    if i % 10 == 3: cmd("PEXPIRE", k, 86400000)
