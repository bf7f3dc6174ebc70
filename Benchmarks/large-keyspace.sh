#!/usr/bin/env bash
# GET on a large keyspace against a small one: a volatile shmkvd holding 10 thousand keys of 100 bytes,
# then 10 million (about 1.6 GB of data file), read at random by `shmkv bench` over the Unix socket
# (native protocol, and RESP), 50 clients, -P 1 and -P 16. Prints the rates and the ratio large/small.
# Numbers, never pass/fail. Needs about 3 GB free under $TMPDIR (default /tmp); takes about 5 minutes.
# The small keyspace is measured first, the large one after a warm-up pass (see below).
#   Benchmarks/large-keyspace.sh [KEYS]      (default 10000000)
set -euo pipefail
cd "$(dirname "$0")/.."
large=${1:-10000000}
swift build -c release --static-swift-stdlib --product shmkvd >&2
swift build -c release --static-swift-stdlib --product shmkv >&2
bin=.build/release
dir="$(mktemp -d "${TMPDIR:-/tmp}/shmkv-large.XXXXXX")"
SHMKV_RING_PATH="$dir/ring" "$bin/shmkvd" --data-dir "$dir/data" --no-tcp --durability volatile --log-level warning > "$dir/out" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 100); do grep -q ready "$dir/out" 2>/dev/null && break; sleep 0.1; done
sock="$dir/data/shmkvd.sock"
rate() {  # keys protocol pipeline
    "$bin/shmkv" bench --socket "$sock" --no-preload --keys "$1" --protocol "$2" --ratio 1:0 -c 50 -P "$3" --duration 5 --json 2>/dev/null \
        | python3 -c 'import json,sys; r=json.load(sys.stdin); print("%.0f %d" % (r["ops_per_sec"], r["misses"]))'
}
declare -A small
"$bin/shmkv" bench --socket "$sock" --keys 10000 -r 1 -c 1 >/dev/null 2>&1
for p in native resp; do for pipeline in 1 16; do read -r small[$p.$pipeline] _ <<< "$(rate 10000 $p $pipeline)"; done; done
start=$(date +%s)
"$bin/shmkv" bench --socket "$sock" --keys "$large" -r 1 -c 1 >/dev/null
echo "loaded $large keys in $(( $(date +%s) - start )) s; data.mdb holds $(du -h "$dir/data/data.mdb" | cut -f1)"
# The reactors' page tables fill as pages are first touched (a minor fault each, ~350,000 pages here):
# one warm-up pass over the keyspace first, so that the figures are the steady state.
read -r warm _ <<< "$(rate "$large" native 16)"
echo "warm-up pass (native, -P 16): $warm req/s"
echo "| protocol | -P | 10,000 keys req/s | $large keys req/s | ratio |"
echo "|---|---|---|---|---|"
for p in native resp; do for pipeline in 1 16; do
    read -r big misses <<< "$(rate "$large" $p $pipeline)"
    awk -v p=$p -v P=$pipeline -v s="${small[$p.$pipeline]}" -v b="$big" -v k="$large" -v m="$misses" \
        'BEGIN { printf "| %s | %d | %.0f | %.0f | %.2f |%s\n", p, P, s, b, (s > 0 ? b / s : 0), (m > 0 ? " (" m " misses!)" : "") }'
done; done
