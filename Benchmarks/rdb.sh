#!/usr/bin/env bash
# Moving a Redis dataset in and out through RDB, against Debian's redis-server 7.0.15, in one run:
#   1. a file of KEYS keys (default 1,000,000), mixed: 60% strings of 20-100 bytes, and 10% each lists,
#      hashes, sets and sorted sets of 5 small elements; 10% of the keys with a deadline; SAVEd by
#      redis-server;
#   2. in: redis-server starting from it (until it answers PING), `shmkv load --rdb --data-dir` into a
#      stopped store (a durable daemon is started for the load), and `shmkv load --rdb` into a running
#      volatile daemon; seconds and MB/s of file;
#   3. out: `shmkv dump --rdb` (a LocalStore snapshot) against redis-server's SAVE and `redis-cli --rdb`.
# Numbers, never pass/fail.   Benchmarks/rdb.sh [KEYS]
set -euo pipefail
cd "$(dirname "$0")/.."
keys="${1:-1000000}"
for p in redis-server redis-tools; do
    dpkg -s "$p" >/dev/null 2>&1 || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p"; }
done
swift build -c release --static-swift-stdlib --product shmkvd >/dev/null
swift build -c release --static-swift-stdlib --product shmkv >/dev/null
bin=$PWD/.build/release
dir="$(mktemp -d "$PWD/.bench-XXXXXX")"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
mbs() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.1f", n / 1048576 / s }'; }
redis_up() {  # socket -> waits until PING answers PONG (not LOADING)
    for _ in $(seq 6000); do [ "$(redis-cli -s "$1" ping 2>/dev/null)" = "PONG" ] && return; sleep 0.01; done
    echo "redis-server on $1 did not answer" >&2; exit 1
}

mkdir -p "$dir/source" "$dir/start"
redis-server --port 0 --unixsocket "$dir/source/s" --save '' --appendonly no --dir "$dir/source" --logfile "$dir/source/log" &
pids+=($!)
redis_up "$dir/source/s"
python3 Benchmarks/mixed-dataset.py "$keys" > "$dir/fill.resp"
redis-cli -s "$dir/source/s" --pipe < "$dir/fill.resp" >/dev/null
t=$(now); redis-cli -s "$dir/source/s" SAVE >/dev/null; save=$(since "$t")
cp "$dir/source/dump.rdb" "$dir/in.rdb"
size=$(stat -c %s "$dir/in.rdb")
echo "file: $keys keys (60% strings, 10% each lists, hashes, sets, sorted sets; 10% with deadlines), $(mbs "$size" 1) MiB"
echo
printf "%-58s %10s %10s\n" "in" "seconds" "MiB/s"
t=$(now)
redis-server --port 0 --unixsocket "$dir/start/s" --save '' --appendonly no --dir "$dir" --dbfilename in.rdb --logfile "$dir/start/log" &
pids+=($!)
redis_up "$dir/start/s"
s=$(since "$t"); printf "%-58s %10.2f %10.1f\n" "redis-server starting from the file" "$s" "$(mbs "$size" "$s")"
t=$(now); "$bin/shmkv" load --rdb "$dir/in.rdb" --data-dir "$dir/stopped" 2>"$dir/load1.log"; s=$(since "$t")
printf "%-58s %10.2f %10.1f\n" "shmkv load --rdb --data-dir (a durable daemon started)" "$s" "$(mbs "$size" "$s")"
SHMKV_RING_PATH="$dir/ring" "$bin/shmkvd" --data-dir "$dir/running" --socket "$dir/running.sock" --no-tcp --durability volatile \
    --log-level warning > "$dir/running.out" &
pids+=($!)
for _ in $(seq 100); do grep -q ready "$dir/running.out" 2>/dev/null && break; sleep 0.1; done
t=$(now); "$bin/shmkv" --socket "$dir/running.sock" load --rdb "$dir/in.rdb" 2>"$dir/load2.log"; s=$(since "$t")
printf "%-58s %10.2f %10.1f\n" "shmkv load --rdb into a running volatile daemon" "$s" "$(mbs "$size" "$s")"
tail -1 "$dir/load2.log"
echo
printf "%-58s %10s %10s\n" "out" "seconds" "MiB/s"
printf "%-58s %10.2f %10.1f\n" "redis-server SAVE" "$save" "$(mbs "$size" "$save")"
t=$(now); redis-cli -s "$dir/source/s" --rdb "$dir/cli.rdb" >/dev/null 2>&1; s=$(since "$t")
printf "%-58s %10.2f %10.1f\n" "redis-cli --rdb" "$s" "$(mbs "$(stat -c %s "$dir/cli.rdb")" "$s")"
t=$(now); "$bin/shmkv" dump --rdb "$dir/out.rdb" --data-dir "$dir/running" 2>"$dir/dump.log"; s=$(since "$t")
printf "%-58s %10.2f %10.1f\n" "shmkv dump --rdb (LocalStore snapshot, daemon running)" "$s" "$(mbs "$(stat -c %s "$dir/out.rdb")" "$s")"
tail -1 "$dir/dump.log"
