#!/usr/bin/env bash
# shmkvd as a replica of Debian's redis-server 7.0.15, beside a redis-server replica, in one run:
#   1. full sync of KEYS keys (default 1,000,000; Benchmarks/mixed-dataset.py: 60% strings, 10% each
#      lists, hashes, sets, sorted sets, 10% with deadlines) from one primary (diskless, as 7.0's default),
#      into a redis-server replica and into a durable and a volatile shmkvd: seconds from the start of the
#      replica to its link being up with the dataset loaded, and MiB/s of the primary's RDB;
#   2. steady replication: SETs on the primary at RATE per second (default 2000) for SECONDS (default 10);
#      lag from the SET to a LocalStore reader of the volatile shmkvd, and to a client GETting from the
#      redis-server replica (p50, p99, max);
#   3. reads of the replicated keys for SECONDS: LocalStore on one thread against GETs to the primary over
#      one TCP connection, and redis-benchmark's GETs (50 connections) to the primary.
# Numbers, never pass/fail.   Benchmarks/replication.sh [KEYS] [RATE] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
keys="${1:-1000000}"; rate="${2:-2000}"; seconds="${3:-10}"
for p in redis-server redis-tools; do
    dpkg -s "$p" >/dev/null 2>&1 || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p"; }
done
swift build -c release --static-swift-stdlib --product shmkvd >/dev/null
swift build -c release --static-swift-stdlib --product shmkv-shm-bench >/dev/null
bin=$PWD/.build/release
dir="$(mktemp -d "$PWD/.bench-XXXXXX")"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
mbs() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.1f", n / 1048576 / s }'; }
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
field() { redis-cli -p "$1" info replication 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p"; }

primary=$(port)
mkdir -p "$dir/primary"
redis-server --port "$primary" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir/primary" --logfile "$dir/primary/log" \
    --repl-diskless-sync yes --repl-diskless-sync-delay 0 --repl-backlog-size 64mb &
pids+=($!)
for _ in $(seq 500); do [ "$(redis-cli -p "$primary" ping 2>/dev/null)" = "PONG" ] && break; sleep 0.01; done
python3 Benchmarks/mixed-dataset.py "$keys" | redis-cli -p "$primary" --pipe >/dev/null
redis-cli -p "$primary" SAVE >/dev/null
size=$(stat -c %s "$dir/primary/dump.rdb")
echo "primary: $keys keys, RDB of $(mbs "$size" 1) MiB (diskless transfer)"
echo
printf "%-52s %10s %10s\n" "full sync" "seconds" "MiB/s"

mkdir -p "$dir/redis-replica"
rport=$(port)
t=$(now)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir/redis-replica" --logfile "$dir/redis-replica/log" \
    --replicaof 127.0.0.1 "$primary" &
pids+=($!)
for _ in $(seq 30000); do
    [ "$(field "$rport" master_link_status)" = "up" ] && [ "$(field "$rport" master_sync_in_progress)" = "0" ] && break; sleep 0.01
done
s=$(since "$t"); printf "%-52s %10.2f %10.1f\n" "redis-server replica" "$s" "$(mbs "$size" "$s")"

sync_shmkvd() {  # name durability -> starts a shmkvd replica, waits for its full sync, prints the line
    local name=$1 durability=$2 sport
    sport=$(port)
    t=$(now)
    SHMKV_RING_PATH="$dir/$name.ring" SHMKV_REPLICATION_PRIMARY="127.0.0.1:$primary" "$bin/shmkvd" --data-dir "$dir/$name" \
        --socket "$dir/$name.sock" --listen "127.0.0.1:$sport" --durability "$durability" --log-level warning > "$dir/$name.out" 2>&1 &
    pids+=($!)
    for _ in $(seq 60000); do [ "$(field "$sport" shmkv_full_syncs)" = "1" ] && break; sleep 0.01; done
    s=$(since "$t"); printf "%-52s %10.2f %10.1f\n" "shmkvd replica ($durability)" "$s" "$(mbs "$size" "$s")"
    echo "$sport" > "$dir/$name.port"
}
sync_shmkvd durable durable
kill "${pids[-1]}"; unset 'pids[-1]'
sync_shmkvd volatile volatile
echo
"$bin/shmkv-shm-bench" replica --primary "127.0.0.1:$primary" --redis-replica "127.0.0.1:$rport" --store "$dir/volatile" \
    --rate "$rate" --seconds "$seconds" --keys "$keys"
rb=$(redis-benchmark -p "$primary" -t get -n 500000 -r "$keys" -c 50 -q 2>/dev/null | tr '\r' '\n' | grep -E '^GET' | tail -1)
echo "reads: redis-benchmark GET to the primary, 50 connections: $rb"
echo "volatile shmkvd after the run: $(redis-cli -p "$(cat "$dir/volatile.port")" info replication | tr -d '\r' | grep -E 'lag|partial|full' | tr '\n' ' ')"
