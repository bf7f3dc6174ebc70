#!/usr/bin/env bash
# What lazy expiry costs a GET: two daemons of one release build side by side (volatile, loopback), the
# same 100,000 keys of 100 bytes in each, and in the second one key in ten carrying a deadline an hour
# away (so every GET of the second looks its key's deadline up, and none expires during the run).
# Three alternating rounds of redis-benchmark GET. Numbers, never pass/fail.
#   Benchmarks/expiry-cost.sh .build/release/shmkvd
set -euo pipefail
bin="$1"
dir="$(mktemp -d)"
SHMKV_RING_PATH="$dir/r1" "$bin" --data-dir "$dir/plain" --listen 127.0.0.1:7511 --socket none --durability volatile --log-level warning > "$dir/plain.out" &
p1=$!
SHMKV_RING_PATH="$dir/r2" "$bin" --data-dir "$dir/ttl" --listen 127.0.0.1:7512 --socket none --durability volatile --log-level warning > "$dir/ttl.out" &
p2=$!
trap 'kill $p1 $p2 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 100); do grep -q ready "$dir/plain.out" 2>/dev/null && grep -q ready "$dir/ttl.out" 2>/dev/null && break; sleep 0.1; done
# The keys redis-benchmark -r 100000 uses: key:000000000000 … key:000000099999.
for port in 7511 7512; do
    awk 'BEGIN { v = sprintf("%0100d", 0); for (i = 0; i < 100000; i++) printf "SET key:%012d %s\n", i, v }' \
        | redis-cli -p $port --pipe > /dev/null
done
awk 'BEGIN { for (i = 0; i < 100000; i += 10) printf "PEXPIRE key:%012d 3600000\n", i }' | redis-cli -p 7512 --pipe > /dev/null
echo "plain: $(redis-cli -p 7511 info keyspace | grep db0)   ttl: $(redis-cli -p 7512 info keyspace | grep db0)"
rps() { timeout 120 redis-benchmark -p "$1" -t get -n "$4" -r 100000 -d 100 -c "$2" -P "$3" -q 2>/dev/null | tr '\r' '\n' \
        | grep -E "requests per second" | tail -1 | awk '{print $2}'; }
printf "%-5s %7s %3s %14s %14s %6s\n" round clients P "no TTL req/s" "10% TTL req/s" ratio
for round in 1 2 3; do
    for t in "1 1 50000" "50 1 200000" "50 16 2000000"; do
        set -- $t
        a=$(rps 7511 "$1" "$2" "$3"); b=$(rps 7512 "$1" "$2" "$3")
        awk -v r="$round" -v c="$1" -v p="$2" -v a="$a" -v b="$b" \
            'BEGIN { printf "%-5d %7d %3d %14.0f %14.0f %6.2f\n", r, c, p, a, b, (a > 0 ? b / a : 0) }'
    done
done
