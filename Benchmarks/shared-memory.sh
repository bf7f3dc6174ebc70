#!/usr/bin/env bash
# LocalStore reads against C mdb_get on the same 1M-key environment, then the ring across processes.
#   Benchmarks/shared-memory.sh [KEYS] [READS]
set -euo pipefail
cd "$(dirname "$0")/.."
keys="${1:-1000000}"; reads="${2:-5000000}"
swift build -c release --static-swift-stdlib --product shmkv-shm-bench >/dev/null
dir="$(mktemp -d "$PWD/.bench-XXXXXX")"
trap 'rm -rf "$dir"' EXIT
cc -O2 -o "$dir/mdb_get_bench" Benchmarks/c/mdb_get_bench.c $(pkg-config --cflags --libs lmdb)
mkdir -p "$dir/data"
./.build/release/shmkv-shm-bench fill "$dir/data" --keys "$keys"
swift_out="$(./.build/release/shmkv-shm-bench read "$dir/data" --keys "$keys" --reads "$reads")"
c_out="$("$dir/mdb_get_bench" "$dir/data" "$keys" "$reads")"
echo "$swift_out"; echo "$c_out"
rate() { grep "$1" | sed -E 's/.*: ([0-9]+) reads\/s.*/\1/'; }
s1=$(echo "$swift_out" | rate "LocalStore.withValue"); c1=$(echo "$c_out" | rate "renew/get/reset")
s2=$(echo "$swift_out" | rate "one txn"); c2=$(echo "$c_out" | rate "one txn")
awk -v s1="$s1" -v c1="$c1" -v s2="$s2" -v c2="$c2" 'BEGIN {
    printf "ratio Swift/C, one transaction per read: %.2f\nratio Swift/C, one snapshot for all reads: %.2f\n", s1/c1, s2/c2 }'
[ "${SKIP_RING:-}" ] || ./.build/release/shmkv-shm-bench ring
