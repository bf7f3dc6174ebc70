#!/usr/bin/env bash
# Lua scripts against Debian's redis-server 7.0.15 (no persistence) and a release shmkvd (volatile), in
# one run, rows interleaved. Prints requests per second and the ratio ShmKV/Redis; numbers, never
# pass/fail.
#   Benchmarks/scripts.sh [REQUESTS=100000]
#   THREADS=1 Benchmarks/scripts.sh               (shmkvd's reactor threads; default: its own, one per core)
# 1. redis-benchmark: EVALSHA of a one-GET script and of a 10-command write script (SET, INCR, HSET,
#    LPUSH, LTRIM, SADD, ZADD, EXPIRE, GET, DEL), and FCALL of the same GET as a function, at 1 and 50
#    clients, -P 1 (TCP);
# 2. GET with an empty script cache and with 10,000 scripts loaded (the cost the cache adds to a GET);
# 3. redis-py's Lock: acquire/release pairs per second from one client (two round trips and one
#    script each).
set -euo pipefail
cd "$(dirname "$0")/.."
requests="${1:-100000}"
sudo=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && sudo=sudo
for p in redis-server redis-tools python3-venv; do
    dpkg -s "$p" >/dev/null 2>&1 || { $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq;
                                       $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p"; }
done
[ -x .build/pyvenv/bin/python ] || { python3 -m venv .build/pyvenv && .build/pyvenv/bin/pip install -q 'redis>=8,<9'; }
swift build -c release --static-swift-stdlib --product shmkvd >/dev/null
dir="$(mktemp -d "$PWD/.bench-XXXXXX")"
redis_port=6393; shmkv_port=7393
cleanup() { kill "$redis_pid" "$shmkv_pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" --logfile "$dir/redis.log" &
redis_pid=$!
SHMKV_RING_PATH="$dir/ring" ./.build/release/shmkvd --data-dir "$dir/data" --listen "127.0.0.1:$shmkv_port" --socket "$dir/shmkv.sock" \
    --durability volatile --log-level warning ${THREADS:+--threads "$THREADS"} > "$dir/ready" &
shmkv_pid=$!
for _ in $(seq 100); do
    grep -q ready "$dir/ready" 2>/dev/null && redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1
done
rate() {  # port clients redis-benchmark-arguments… -> requests per second
    local port=$1 clients=$2; shift 2
    redis-benchmark -p "$port" -n "$requests" -c "$clients" -P 1 -q "$@" 2>/dev/null | tr '\r' '\n' \
        | grep -oE "[0-9.]+ requests per second" | tail -1 | awk '{ print $1 }'
}
row() {  # label clients redis-benchmark-arguments…
    local label=$1 clients=$2; shift 2
    local r s
    r=$(rate "$redis_port" "$clients" "$@"); s=$(rate "$shmkv_port" "$clients" "$@")
    awk -v l="$label" -v c="$clients" -v r="$r" -v s="$s" \
        'BEGIN { printf "%-22s %7d  %12.0f %12.0f %7.2f\n", l, c, r, s, (r > 0 ? s / r : 0) }'
}
get_script="return redis.call('GET', KEYS[1])"
write_script="redis.call('SET', KEYS[1], ARGV[1]) redis.call('INCR', KEYS[2]) redis.call('HSET', KEYS[3], 'f', ARGV[1])
redis.call('LPUSH', KEYS[4], ARGV[1]) redis.call('LTRIM', KEYS[4], 0, 99) redis.call('SADD', KEYS[5], ARGV[1])
redis.call('ZADD', KEYS[6], 1, ARGV[1]) redis.call('EXPIRE', KEYS[1], 1000) redis.call('GET', KEYS[1]) return redis.call('DEL', KEYS[7])"
library="#!lua name=bench
redis.register_function{function_name='bench_get', callback=function(keys) return redis.call('GET', keys[1]) end, flags={'no-writes'}}"
for port in "$redis_port" "$shmkv_port"; do
    redis-cli -p "$port" set key:one value >/dev/null
    redis-cli -p "$port" function load replace "$library" >/dev/null
done
get_sha=$(redis-cli -p "$redis_port" script load "$get_script"); redis-cli -p "$shmkv_port" script load "$get_script" >/dev/null
write_sha=$(redis-cli -p "$redis_port" script load "$write_script"); redis-cli -p "$shmkv_port" script load "$write_script" >/dev/null
echo "redis-server $(redis-server --version | sed -E 's/.*v=([^ ]+).*/\1/') (no persistence) vs shmkvd (volatile, threads ${THREADS:-default}), $requests requests, $(nproc) cores, $(date -u +%F)"
echo "== scripts (redis-benchmark, TCP, -P 1)"
printf "%-22s %7s  %12s %12s %7s\n" command clients "redis req/s" "shmkv req/s" ratio
for clients in 1 50; do
    row "EVALSHA 1 GET" "$clients" evalsha "$get_sha" 1 key:one
    row "EVALSHA 10 writes" "$clients" evalsha "$write_sha" 7 s:__rand_int__ n h l set z d v
    row "FCALL_RO GET" "$clients" fcall_ro bench_get 1 key:one
    row "GET (for scale)" "$clients" get key:one
done
echo "== GET with 10,000 scripts in the cache"
printf "%-22s %7s  %12s %12s %7s\n" command clients "redis req/s" "shmkv req/s" ratio
for clients in 1 50; do row "GET, empty cache" "$clients" get key:one; done
for port in "$redis_port" "$shmkv_port"; do
    for i in $(seq 10000); do printf 'SCRIPT LOAD "return %d"\n' "$i"; done | redis-cli -p "$port" >/dev/null
done
for clients in 1 50; do row "GET, 10,000 scripts" "$clients" get key:one; done
echo "== redis-py Lock: acquire + release pairs per second (one client, TCP)"
for port in "$redis_port" "$shmkv_port"; do
    .build/pyvenv/bin/python - "$port" <<'PY'
import sys, time, redis
port = int(sys.argv[1])
conn = redis.Redis(port=port)
lock = conn.lock("bench-lock", timeout=10)
n, start = 0, time.perf_counter()
while time.perf_counter() - start < 3:
    lock.acquire()
    lock.release()
    n += 1
print("%-8s %8.0f pairs/s" % ("redis" if port < 7000 else "shmkv", n / (time.perf_counter() - start)))
PY
done
