#!/usr/bin/env bash
# Starts a release shmkvd on a temporary data directory, runs shmkv-bench against its Unix socket, stops it.
#   Benchmarks/client-loop.sh [durable|fast|volatile] [extra shmkv-bench arguments]
#   BENCH=shmkv-async-bench Benchmarks/client-loop.sh volatile   # AsyncClient pool against Client threads
# The data directory is on the project's disk (not tmpfs), so durable commits pay a real fsync.
set -euo pipefail
cd "$(dirname "$0")/.."
durability="${1:-durable}"; shift || true
swift build -c release --static-swift-stdlib --product shmkvd >/dev/null
bench="${BENCH:-shmkv-bench}"
swift build -c release --static-swift-stdlib --product "$bench" >/dev/null
dir="$(mktemp -d "$PWD/.bench-XXXXXX")"
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
SHMKV_RING_PATH="$dir/ring" ./.build/release/shmkvd --data-dir "$dir/data" --no-tcp --durability "$durability" --log-level warning > "$dir/ready" &
pid=$!
for _ in $(seq 100); do grep -q ready "$dir/ready" 2>/dev/null && break; sleep 0.1; done
echo "shmkvd durability=$durability threads=$(nproc) ($(nproc) cores)"
./.build/release/"$bench" --socket "$dir/data/shmkvd.sock" "$@"
