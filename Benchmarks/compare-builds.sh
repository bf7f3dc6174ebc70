#!/usr/bin/env bash
# Runs the same redis-benchmark commands against two release builds of shmkvd side by side (volatile
# mode, loopback), three rounds, alternating, so that a change's cost on the request path shows through
# the machine's noise: the rates, and the daemons' CPU time per request (the steadier figure). Numbers,
# never pass/fail. ROUNDS (3) and OPS (the five below) choose how much; with more than two rounds the
# medians of each column end the output (on a noisy VM, the figure to quote).
#   Benchmarks/compare-builds.sh NEW_SHMKVD OLD_SHMKVD
#   ROUNDS=9 OPS="get:50:16 set:50:16" Benchmarks/compare-builds.sh NEW_SHMKVD OLD_SHMKVD
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
rows="$dir/rows"
for round in $(seq "${ROUNDS:-3}"); do
    for t in ${OPS:-get:1:16 get:50:16 set:1:1 set:1:16 set:50:16}; do
        IFS=: read -r op clients pipeline <<< "$t"
        read -r n nc <<< "$(run 7501 $p1 "$op" "$clients" "$pipeline")"; read -r o oc <<< "$(run 7502 $p2 "$op" "$clients" "$pipeline")"
        awk -v r="$round" -v t="$op" -v c="$clients" -v p="$pipeline" -v n="$n" -v o="$o" -v nc="$nc" -v oc="$oc" \
            'BEGIN { printf "%-5d %-4s %7d %3d %12.0f %12.0f %6.2f %9.2f %9.2f %6.2f\n", r, toupper(t), c, p, n, o, (o > 0 ? n / o : 0), nc, oc, (oc > 0 ? nc / oc : 0) }' \
            | tee -a "$rows"
    done
done
if [ "${ROUNDS:-3}" -gt 2 ]; then
    echo "medians over ${ROUNDS:-3} rounds:"
    for t in ${OPS:-get:1:16 get:50:16 set:1:1 set:1:16 set:50:16}; do
        IFS=: read -r op clients pipeline <<< "$t"
        label=$(printf "%-4s %7d %3d" "$(echo "$op" | tr a-z A-Z)" "$clients" "$pipeline")
        line="median $label"
        for column in 5 6 7 8 9 10; do
            m=$(awk -v op="$(echo "$op" | tr a-z A-Z)" -v c="$clients" -v p="$pipeline" -v k=$column \
                '$2 == op && $3 == c && $4 == p { print $k }' "$rows" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }')
            line="$line $m"
        done
        echo "$line" | awk '{ printf "%-6s %-4s %7d %3d %12.0f %12.0f %6.2f %9.2f %9.2f %6.2f\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 }'
    done
fi
