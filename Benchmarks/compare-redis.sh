#!/usr/bin/env bash
# Runs the same redis-benchmark commands against Debian's redis-server (no persistence, loopback) and a
# release shmkvd, in one run, and prints requests per second and the ratio ShmKV/Redis.
#   Benchmarks/compare-redis.sh [durable|fast|volatile] [REQUESTS=50000]
# Installs redis-server and redis-tools with apt-get if they are missing. Numbers, never pass/fail.
set -euo pipefail
cd "$(dirname "$0")/.."
durability="${1:-durable}"; requests="${2:-50000}"
sudo=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && sudo=sudo
for p in redis-server redis-tools; do
    dpkg -s "$p" >/dev/null 2>&1 || { $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq;
                                       $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p"; }
done
swift build -c release --static-swift-stdlib --product shmkvd >/dev/null
dir="$(mktemp -d "$PWD/.bench-XXXXXX")"
redis_port=6391; shmkv_port=7391
cleanup() { kill "$redis_pid" "$shmkv_pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" --logfile "$dir/redis.log" &
redis_pid=$!
SHMKV_RING_PATH="$dir/ring" ./.build/release/shmkvd --data-dir "$dir/data" --listen "127.0.0.1:$shmkv_port" --socket none \
    --durability "$durability" --log-level warning > "$dir/ready" &
shmkv_pid=$!
for _ in $(seq 100); do
    grep -q ready "$dir/ready" 2>/dev/null && redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1
done
rps() {  # port test clients pipeline
    redis-benchmark -p "$1" -t "$2" -n "$requests" -c "$3" -P "$4" -q 2>/dev/null | tr '\r' '\n' \
        | grep -E "^$(echo "$2" | tr a-z A-Z): [0-9.]+ requests per second" | tail -1 | sed -E 's/^[A-Z]+: ([0-9.]+) .*/\1/'
}
echo "redis-server $(redis-server --version | sed -E 's/.*v=([^ ]+).*/\1/') (no persistence) vs shmkvd ($durability), $requests requests, $(nproc) cores"
printf "%-4s %7s %3s  %14s %14s %8s\n" op clients P "redis req/s" "shmkv req/s" ratio
for test in get set; do
    for clients in 1 50; do
        for pipeline in 1 16; do
            r=$(rps "$redis_port" "$test" "$clients" "$pipeline"); s=$(rps "$shmkv_port" "$test" "$clients" "$pipeline")
            awk -v t="$test" -v c="$clients" -v p="$pipeline" -v r="$r" -v s="$s" \
                'BEGIN { printf "%-4s %7d %3d  %14.0f %14.0f %8.2f\n", toupper(t), c, p, r, s, (r > 0 ? s / r : 0) }'
        done
    done
done
