#!/usr/bin/env bash
# Runs the same redis-benchmark commands against two release builds of shmkvd side by side (volatile
# mode, loopback), three rounds, alternating, so that a change's cost on the request path shows through
# the machine's noise: the rates, and the daemons' CPU time per request (the steadier figure). Numbers,
# never pass/fail.
#   Benchmarks/compare-builds.sh NEW_SHMKVD OLD_SHMKVD
# e.g. git worktree add /tmp/old <commit> && (cd /tmp/old && swift build -c release --static-swift-stdlib --product shmkvd)
#      swift build -c release --static-swift-stdlib --product shmkvd
#      Benchmarks/compare-builds.sh .build/release/shmkvd /tmp/old/.build/release/shmkvd
set -euo pipefail
new="$1"; old="$2"
dir="$(mktemp -d)"
SHMKV_RING_PATH="$dir/r1" "$new" --data-dir "$dir/new" --listen 127.0.0.1:7501 --socket none --durability ${DURABILITY:-volatile} --log-level warning > "$dir/new.out" &
p1=$!
SHMKV_RING_PATH="$dir/r2" "$old" --data-dir "$dir/old" --listen 127.0.0.1:7502 --socket none --durability ${DURABILITY:-volatile} --log-level warning > "$dir/old.out" &
p2=$!
trap 'kill $p1 $p2 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 100); do grep -q ready "$dir/new.out" 2>/dev/null && grep -q ready "$dir/old.out" 2>/dev/null && break; sleep 0.1; done
# Daemon CPU per request (all its threads, /proc/PID/task/*/schedstat): steadier than a rate here.
cpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{ s += $1 } END { printf "%.0f", s }'; }
n_requests=200000
run() {  # port pid op clients pipeline -> "req/s cpu-µs-per-request"
    local before after rate
    before=$(cpu_ns "$2")
    rate=$(timeout 120 redis-benchmark -p "$1" -t "$3" -n $n_requests -r 100000 -d 100 -c "$4" -P "$5" -q 2>/dev/null | tr '\r' '\n' \
        | grep -E "requests per second" | tail -1 | awk '{print $2}')
    after=$(cpu_ns "$2")
    awk -v r="$rate" -v d=$(( after - before )) -v n=$n_requests 'BEGIN { printf "%s %.3f", r, d / n / 1000 }'
}
printf "%-5s %-4s %7s %3s %12s %12s %6s %9s %9s %6s\n" round op clients P "new req/s" "old req/s" ratio "new µs" "old µs" ratio
for round in 1 2 3; do
    for t in "get 1 16" "get 50 16" "set 1 1" "set 1 16" "set 50 16"; do
        set -- $t
        read -r n nc <<< "$(run 7501 $p1 "$1" "$2" "$3")"; read -r o oc <<< "$(run 7502 $p2 "$1" "$2" "$3")"
        awk -v r="$round" -v t="$1" -v c="$2" -v p="$3" -v n="$n" -v o="$o" -v nc="$nc" -v oc="$oc" \
            'BEGIN { printf "%-5d %-4s %7d %3d %12.0f %12.0f %6.2f %9.2f %9.2f %6.2f\n", r, toupper(t), c, p, n, o, (o > 0 ? n / o : 0), nc, oc, (oc > 0 ? nc / oc : 0) }'
    done
done
