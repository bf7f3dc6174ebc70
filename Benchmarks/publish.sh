#!/usr/bin/env bash
# PUBLISH throughput with subscribers attached, shmkvd (volatile, messages on the ring) against
# redis-server (no persistence): redis-benchmark publishes N messages (50 clients, pipelined 16) while one
# RESP subscriber (redis-cli) listens on each server, and on shmkvd also one local subscriber that reads
# the ring from shared memory (shmkv subscribe --data-dir). Prints publish req/s and how many messages
# each subscriber received and when its last one arrived. Numbers, never pass/fail.
#   Benchmarks/publish.sh [N]        (release builds of shmkvd and shmkv in .build/release)
set -euo pipefail
n="${1:-200000}"
bin="$(cd "$(dirname "$0")/.." && pwd)/.build/release"
dir="$(mktemp -d)"
SHMKV_RING_PATH="$dir/ring" SHMKV_RING_CAPACITY=67108864 "$bin/shmkvd" --data-dir "$dir/data" --listen 127.0.0.1:7521 \
    --socket none --durability volatile --log-level warning > "$dir/shmkvd.out" &
p1=$!
redis-server --port 7522 --save '' --appendonly no --daemonize no > "$dir/redis.out" 2>&1 &
p2=$!
pids="$p1 $p2"
trap 'kill $pids 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 100); do grep -q ready "$dir/shmkvd.out" 2>/dev/null && redis-cli -p 7522 ping > /dev/null 2>&1 && break; sleep 0.1; done
now() { date +%s.%N; }
# Waits until FILE has LINES lines (or 60 s pass); prints the seconds since START.
arrived() { local start=$1 file=$2 lines=$3
    for _ in $(seq 600); do [ "$(wc -l < "$file")" -ge "$lines" ] && break; sleep 0.1; done
    awk -v a="$start" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
run() { local name=$1 port=$2
    redis-cli -p "$port" subscribe bench > "$dir/$name.resp" &
    pids="$pids $!"
    if [ "$name" = shmkvd ]; then
        "$bin/shmkv" subscribe bench --data-dir "$dir/data" --count "$n" > "$dir/$name.local" &
        pids="$pids $!"
    fi
    sleep 1
    local start; start=$(now)
    local rps; rps=$(redis-benchmark -p "$port" -n "$n" -c 50 -P 16 -q publish bench hello-world-message 2>/dev/null \
        | tr '\r' '\n' | grep -oE "[0-9.]+ requests per second" | tail -1 | awk '{print $1}')
    local resp_time; resp_time=$(arrived "$start" "$dir/$name.resp" $((3 * n + 3)))
    local resp_got=$(( ($(wc -l < "$dir/$name.resp") - 3) / 3 ))
    printf "%-12s PUBLISH %10.0f req/s; RESP subscriber got %d of %d (all by %s s)" "$name" "$rps" "$resp_got" "$n" "$resp_time"
    if [ "$name" = shmkvd ]; then
        local local_time; local_time=$(arrived "$start" "$dir/$name.local" "$n")
        printf "; local ring subscriber got %d (all by %s s)" "$(wc -l < "$dir/$name.local")" "$local_time"
    fi
    echo
}
run shmkvd 7521
run redis-server 7522
