#!/bin/sh
# Writes the RDB decoder's seed corpus (Tests/Fuzz/corpus/rdb): small files Debian's redis-server
# 7.0.15 SAVEs, one per type and encoding (thresholds lowered with CONFIG SET so that each appears),
# with deadlines, two databases, streams (one with a consumer group) and a function library. Run from the repository root.
set -e
out=Tests/Fuzz/corpus/rdb
dir=$(mktemp -d)
mkdir -p "$out"
redis-server --port 0 --unixsocket "$dir/s" --dir "$dir" --save '' --appendonly no --daemonize yes --logfile "$dir/log"
sleep 0.5
cli() { redis-cli -s "$dir/s" "$@" >/dev/null; }
save() { cli SAVE; cp "$dir/dump.rdb" "$out/$1"; cli FLUSHALL; }
cli SET int 12345; cli SET raw hello; cli SET lzf "$(printf 'abcdefgh%.0s' $(seq 1 20))"; cli PEXPIREAT raw 4102444800000; save strings
cli RPUSH l a 1 300 70000 -5 bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb; cli CONFIG SET list-max-listpack-size 2; cli RPUSH l2 a b c d e; save lists
cli SADD ints 1 2 3 -7 70000 9000000000; cli SADD strs a b c; save sets
cli ZADD z 1 a 2.5 b -inf c; cli CONFIG SET zset-max-listpack-entries 1; cli ZADD zbig 1 a 0.1 b inf c; save zsets
cli HSET h f v n 7; cli CONFIG SET hash-max-listpack-entries 1; cli HSET hbig f v n -7; save hashes
cli XADD s 1-1 f v g 1; cli XADD s 1-2 f w g 2; cli XADD s 2-0 other 3; cli XDEL s 1-2; cli CONFIG SET stream-node-max-entries 2
cli XADD s2 5-0 a 1; cli XADD s2 6-0 a 2; cli XADD s2 7-0 b 3; cli XADD s2 7-1 a x; save streams
cli SELECT 2; cli -n 2 SET other v; cli -n 2 EXPIRE other 100000; cli XADD st 1-1 f v; cli XGROUP CREATE st g 0; save databases-and-stream
cli FUNCTION LOAD "#!lua name=lib
redis.register_function('f', function() return 1 end)"; save function
redis-cli -s "$dir/s" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
rm -rf "$dir"
ls -l "$out"
