#!/usr/bin/env bash
# The whole benchmark in one command, on this machine, from one interleaved run:
#   1. redis-benchmark -d 100 -r 100000 GET/SET x 1/50 clients x -P 1/16, over TCP and the Unix socket,
#      against redis-server without persistence beside shmkvd volatile, and redis-server with
#      appendonly yes + appendfsync always beside shmkvd durable; the ratios shmkvd/Redis.
#   2. shmkv bench over the native protocol (Unix socket, 50 clients), and LocalStore reads (--local).
#   3. Raw LMDB writes from C (Benchmarks/c/mdb_put_bench.c) at the batch sizes the rows above reach,
#      and the daemon's SET rate as a share of them.
#   4. The daemon's CPU time per GET and per SET (all its threads), a figure that moves far less with
#      the machine's noise than a rate.
#   5. Resident memory of the idle daemon, and per idle connection (10,000 of them).
# Numbers, never pass/fail. Needs redis-server, redis-benchmark, python3, cc, liblmdb-dev
# (`make bench-deps` installs them). Takes about 10 minutes.
#   Benchmarks/run.sh [--quick]     (--quick: fewer requests per row, no CPU-time or memory parts)
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0; [ "${1:-}" = "--quick" ] && quick=1
swift build -c release --static-swift-stdlib --product shmkvd >&2
swift build -c release --static-swift-stdlib --product shmkv >&2
bin=.build/release
dir="$(mktemp -d /tmp/shmkv-bench.XXXXXX)"
cc -O2 -o "$dir/mdb_put_bench" Benchmarks/c/mdb_put_bench.c -llmdb -lpthread
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

start_redis() {  # name port extra-args...
    local name=$1 port=$2; shift 2
    mkdir -p "$dir/$name"
    redis-server --port "$port" --bind 127.0.0.1 --unixsocket "$dir/$name/redis.sock" --save "" --dir "$dir/$name" \
        --logfile "$dir/$name/log" "$@" &
    pids+=($!)
    for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && return; sleep 0.1; done
    echo "redis-server $name did not start" >&2; exit 1
}
start_shmkvd() {  # name port durability
    local name=$1 port=$2
    SHMKV_RING_PATH="$dir/$name.ring" "$bin/shmkvd" --data-dir "$dir/$name" --listen "127.0.0.1:$port" \
        --durability "$3" --log-level warning > "$dir/$name.out" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do grep -q ready "$dir/$name.out" 2>/dev/null && return; sleep 0.1; done
    echo "shmkvd $name did not start" >&2; exit 1
}
start_redis redis 7601 --appendonly no
start_redis redis-aof 7602 --appendonly yes --appendfsync always
start_shmkvd volatile 7603 volatile
start_shmkvd durable 7604 durable
sock() { case $1 in 7601) echo "$dir/redis/redis.sock";; 7602) echo "$dir/redis-aof/redis.sock";;
                   7603) echo "$dir/volatile/shmkvd.sock";; 7604) echo "$dir/durable/shmkvd.sock";; esac; }
# The same 100,000 keys of 100 bytes in each (shmkv bench's preload is an MSET per 1,000 keys).
for port in 7601 7602 7603 7604; do "$bin/shmkv" bench --port "$port" --protocol resp -c 1 -r 1 --keys 100000 >/dev/null 2>&1; done

rps() {  # port transport op clients pipeline requests
    local target=(-p "$1"); [ "$2" = unix ] && target=(-s "$(sock "$1")")
    timeout 300 redis-benchmark "${target[@]}" -t "$3" -n "$6" -r 100000 -d 100 -c "$4" -P "$5" -q 2>/dev/null \
        | tr '\r' '\n' | grep -E "requests per second" | tail -1 | awk '{print $2}'
}
declare -A result
echo "## redis-benchmark -d 100 -r 100000 ($(nproc) cores, $(uname -r), $(redis-server --version | awk '{print $3}'))"
echo
echo "| op | clients | -P | via | Redis (no persistence) | shmkvd volatile | ratio | Redis appendfsync always | shmkvd durable | ratio |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for op in get set; do for clients in 1 50; do for pipeline in 1 16; do for via in tcp unix; do
    n=$(( clients * pipeline == 1 ? 20000 : 200000 ))
    [ $quick = 1 ] && n=$(( n / 4 ))
    r1=$(rps 7601 $via $op $clients $pipeline $n); v=$(rps 7603 $via $op $clients $pipeline $n)
    r2=$(rps 7602 $via $op $clients $pipeline $n); d=$(rps 7604 $via $op $clients $pipeline $n)
    result[$op.$clients.$pipeline.$via.volatile]=$v; result[$op.$clients.$pipeline.$via.durable]=$d
    awk -v o="${op^^}" -v c=$clients -v p=$pipeline -v t=$via -v r1="$r1" -v v="$v" -v r2="$r2" -v d="$d" 'BEGIN {
        printf "| %s | %d | %d | %s | %.0f | %.0f | %.2f | %.0f | %.0f | %.2f |\n", o, c, p, t, r1, v, (r1 > 0 ? v / r1 : 0), r2, d, (r2 > 0 ? d / r2 : 0) }'
done; done; done; done

echo
echo "## shmkv bench, native protocol over the Unix socket (GET 1:0, SET 0:1; 100,000 keys, 100-byte values)"
echo
echo "| op | clients | -P | shmkvd volatile req/s | p50 µs | p99 µs | shmkvd durable req/s | p50 µs | p99 µs |"
echo "|---|---|---|---|---|---|---|---|---|"
native() {  # port ratio clients pipeline
    "$bin/shmkv" bench --socket "$(sock "$1")" --no-preload --keys 100000 --ratio "$2" -c "$3" -P "$4" \
        --duration "$([ $quick = 1 ] && echo 1 || echo 3)" --json 2>/dev/null \
        | python3 -c 'import json,sys; r=json.load(sys.stdin); print("%.0f %.1f %.1f" % (r["ops_per_sec"], r["latency_us"]["p50"], r["latency_us"]["p99"]))'
}
for op in GET SET; do for clients in 1 50; do for pipeline in 1 16; do
    ratio=$([ $op = GET ] && echo 1:0 || echo 0:1)
    read -r v vp50 vp99 <<< "$(native 7603 $ratio $clients $pipeline)"
    read -r d dp50 dp99 <<< "$(native 7604 $ratio $clients $pipeline)"
    echo "| $op | $clients | $pipeline | $v | $vp50 | $vp99 | $d | $dp50 | $dp99 |"
done; done; done
g=$(rps 7601 unix get 50 1 200000)
n=$("$bin/shmkv" bench --socket "$(sock 7603)" --no-preload --ratio 1:0 -c 50 --duration 3 --json 2>/dev/null | python3 -c 'import json,sys; print("%.0f" % json.load(sys.stdin)["ops_per_sec"])')
awk -v n="$n" -v g="$g" 'BEGIN { printf "\nnative GET, 50 clients, Unix socket: %.0f req/s; redis-benchmark GET against Redis over its Unix socket: %.0f req/s; ratio %.2f\n", n, g, (g > 0 ? n / g : 0) }'
echo
for threads in 1 2; do
    "$bin/shmkv" bench --local --socket "$(sock 7603)" --no-preload --keys 100000 --ratio 1:0 -c $threads --duration 2 2>/dev/null \
        | sed -n '2,3p' | sed "s/^/LocalStore reads, $threads thread(s): /"
done

echo
echo "## Raw LMDB writes from C (100,000 keys of 100 bytes, random overwrites)"
echo
"$dir/mdb_put_bench" "$dir/raw" 100000 "$([ $quick = 1 ] && echo 1 || echo 2)" 1,16,50,800 | tee "$dir/raw.txt"
raw() { awk -v m="$1" -v b="B=$2" '$1 == m && $2 == b { print $3 }' "$dir/raw.txt"; }
echo
echo "| daemon SET row (TCP) | batch size it can reach | shmkvd volatile / raw vol+wmap | shmkvd durable / raw durable |"
echo "|---|---|---|---|"
for row in "1 1 1" "1 16 16" "50 1 50" "50 16 800"; do
    set -- $row
    awk -v c=$1 -v p=$2 -v b=$3 -v v="${result[set.$1.$2.tcp.volatile]}" -v d="${result[set.$1.$2.tcp.durable]}" \
        -v rv="$(raw vol+wmap $3)" -v rd="$(raw durable $3)" 'BEGIN {
        printf "| %d clients -P %d | %d | %.0f / %.0f = %.2f | %.0f / %.0f = %.2f |\n", c, p, b, v, rv, (rv > 0 ? v / rv : 0), d, rd, (rd > 0 ? d / rd : 0) }'
done

[ $quick = 1 ] && exit 0
echo
echo "## CPU time inside the daemon per request (volatile; all its threads, from /proc/PID/task/*/schedstat)"
echo
# Instructions would be steadier still, but valgrind 3.19 cannot run Swift 6.3's runtime and this VM
# has no hardware counters for perf; the daemon's own CPU time over a fixed request count moves far
# less with the machine's noise than a rate does.
cpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{ s += $1 } END { printf "%.0f", s }'; }
vpid=$(pgrep -f "data-dir $dir/volatile" | head -1)
echo "| op | clients | -P | CPU µs per request |"
echo "|---|---|---|---|"
for op in get set; do for shape in "1 1" "50 16"; do
    set -- $shape
    before=$(cpu_ns "$vpid")
    redis-benchmark -p 7603 -t $op -n 200000 -r 100000 -d 100 -c $1 -P $2 -q >/dev/null 2>&1
    after=$(cpu_ns "$vpid")
    awk -v o="${op^^}" -v c=$1 -v p=$2 -v d=$(( after - before )) 'BEGIN { printf "| %s | %d | %d | %.2f |\n", o, c, p, d / 200000 / 1000 }'
done; done

echo
echo "## Memory (VmRSS of shmkvd, volatile, empty store)"
start_shmkvd memory 7606 volatile
mpid=$(pgrep -f "data-dir $dir/memory" | head -1)
rss() { awk '/VmRSS/ { print $2 }' "/proc/$1/status"; }
sleep 1
idle=$(rss "$mpid")
echo "idle: $idle KiB"
ulimit -n 20000 2>/dev/null || true
python3 - "$dir/memory/shmkvd.sock" "$mpid" <<'EOF'
import socket, sys, time
path, pid = sys.argv[1], sys.argv[2]
def rss():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"): return int(line.split()[1])
before = rss()
conns = []
for _ in range(10000):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.connect(path); conns.append(s)
conns[-1].sendall(b"PING\r\n"); conns[-1].recv(100)   # every accept has been handled
time.sleep(1)
after = rss()
print(f"10,000 idle connections: {after} KiB, {(after - before) * 1024 / 10000:.0f} bytes each")
EOF
