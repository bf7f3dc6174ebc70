#!/usr/bin/env bash
# Lists and blocking pops against Debian's redis-server 7.0.15 (no persistence) and a release shmkvd
# (volatile: pages written in place, as Redis keeps them in memory), in one run, rows interleaved. Prints
# requests per second and the ratio ShmKV/Redis; numbers, never pass/fail.
#   Benchmarks/lists.sh [REQUESTS=100000]
#   SECTIONS="handoff" Benchmarks/lists.sh        (any of: commands handoff)
#   THREADS=1 Benchmarks/lists.sh                 (shmkvd's reactor threads; default: its own, one per core)
# 1. redis-benchmark -t lpush,rpush,lpop,rpop,lrange_100,lrange_600 at 1 and 50 clients, -P 1 (TCP);
# 2. a producer and a consumer of one list over Unix sockets: messages per second back to back, and the
#    hand-off latency one item at a time (p50, p99, p99.9), for BLPOP to redis-server, BLPOP to shmkvd and
#    LocalStore.blockingPop (woken by the ring, popped through the daemon).
set -euo pipefail
cd "$(dirname "$0")/.."
requests="${1:-100000}"
sudo=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && sudo=sudo
for p in redis-server redis-tools; do
    dpkg -s "$p" >/dev/null 2>&1 || { $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq;
                                       $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p"; }
done
swift build -c release --static-swift-stdlib --product shmkvd >/dev/null
swift build -c release --product shmkv-shm-bench >/dev/null
dir="$(mktemp -d "$PWD/.bench-XXXXXX")"
redis_port=6394; shmkv_port=7394
cleanup() { kill "$redis_pid" "$shmkv_pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
redis-server --port "$redis_port" --bind 127.0.0.1 --unixsocket "$dir/redis.sock" --save '' --appendonly no --dir "$dir" \
    --logfile "$dir/redis.log" &
redis_pid=$!
SHMKV_RING_PATH="$dir/ring" ./.build/release/shmkvd --data-dir "$dir/data" --listen "127.0.0.1:$shmkv_port" --socket "$dir/shmkv.sock" \
    --durability volatile --log-level warning ${THREADS:+--threads "$THREADS"} > "$dir/ready" &
shmkv_pid=$!
for _ in $(seq 100); do
    grep -q ready "$dir/ready" 2>/dev/null && redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1
done
rate() {  # port clients pipeline redis-benchmark-arguments… -> requests per second
    local port=$1 clients=$2 pipeline=$3; shift 3
    redis-benchmark -p "$port" -n "$requests" -c "$clients" -P "$pipeline" -q "$@" 2>/dev/null | tr '\r' '\n' \
        | grep -oE "[0-9.]+ requests per second" | tail -1 | awk '{ print $1 }'
}
row() {  # label clients pipeline redis-benchmark-arguments…
    local label=$1 clients=$2 pipeline=$3; shift 3
    local r s
    r=$(rate "$redis_port" "$clients" "$pipeline" "$@"); s=$(rate "$shmkv_port" "$clients" "$pipeline" "$@")
    awk -v l="$label" -v c="$clients" -v p="$pipeline" -v r="$r" -v s="$s" \
        'BEGIN { printf "%-12s %7d %3d  %12.0f %12.0f %7.2f\n", l, c, p, r, s, (r > 0 ? s / r : 0) }'
}
want() { [[ " ${SECTIONS:-commands handoff} " == *" $1 "* ]]; }
echo "redis-server $(redis-server --version | sed -E 's/.*v=([^ ]+).*/\1/') (no persistence) vs shmkvd (volatile, threads ${THREADS:-default}), $requests requests, $(nproc) cores, $(date -u +%F)"
if want commands; then
    echo "== list commands (redis-benchmark's own tests; LRANGE reads the first 100 or 600 of a list LPUSH filled)"
    printf "%-12s %7s %3s  %12s %12s %7s\n" op clients P "redis req/s" "shmkv req/s" ratio
    for clients in 1 50; do
        for t in lpush rpush lpop rpop lrange_100 lrange_600; do row "$(echo $t | tr a-z A-Z)" "$clients" 1 -t "$t"; done
    done
fi
if want handoff; then
    echo "== producer → consumer of one list, Unix sockets"
    ./.build/release/shmkv-shm-bench handoff --redis "$dir/redis.sock" --shmkv "$dir/shmkv.sock" --data-dir "$dir/data"
fi
