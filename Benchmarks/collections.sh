#!/usr/bin/env bash
# Hashes, sets and sorted sets against Debian's redis-server 7.0.15 (no persistence) and a release shmkvd
# (volatile: pages written in place, as Redis keeps them in memory), both on loopback TCP, in one run,
# rows interleaved. Prints requests per second and the ratio ShmKV/Redis; numbers, never pass/fail.
#   Benchmarks/collections.sh [REQUESTS=100000]
#   SECTIONS="bytes" Benchmarks/collections.sh        (any of: strings writes reads localstore bytes)
# 1. GET and SET (1 and 50 clients) before any collection exists;
# 2. redis-benchmark -t hset,sadd,spop,zadd,zpopmin at 1 and 50 clients, -P 1;
# 3. reads of 1,000 preloaded hashes (10 fields), sets and sorted sets (100 members): HGET, SISMEMBER,
#    ZSCORE, ZRANGE 0 9 at 1 and 50 clients;
# 4. GET and SET again, now that collections exist (a GET that misses kv looks in __types);
# 5. LocalStore's typed reads (HGET- and ZRANGE 0 9-equivalents, in process) against one client's
#    HGET and ZRANGE round trips to redis-server;
# 6. bytes per element: 1,000 small hashes and one sorted set of 1,000,000 members, Redis's MEMORY
#    USAGE (SAMPLES 0) against the growth of shmkvd's data file (LMDB pages in use).
set -euo pipefail
cd "$(dirname "$0")/.."
requests="${1:-100000}"
sudo=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && sudo=sudo
for p in redis-server redis-tools lmdb-utils; do
    dpkg -s "$p" >/dev/null 2>&1 || { $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq;
                                       $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p"; }
done
swift build -c release --static-swift-stdlib --product shmkvd >/dev/null
swift build -c release --product shmkv-shm-bench >/dev/null
dir="$(mktemp -d "$PWD/.bench-XXXXXX")"
redis_port=6393; shmkv_port=7393
cleanup() { kill "$redis_pid" "$shmkv_pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" --logfile "$dir/redis.log" &
redis_pid=$!
SHMKV_RING_PATH="$dir/ring" ./.build/release/shmkvd --data-dir "$dir/data" --listen "127.0.0.1:$shmkv_port" --socket none \
    --durability volatile --log-level warning > "$dir/ready" &
shmkv_pid=$!
for _ in $(seq 100); do
    grep -q ready "$dir/ready" 2>/dev/null && redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1
done
rate() {  # port clients pipeline redis-benchmark-arguments… -> requests per second
    local port=$1 clients=$2 pipeline=$3; shift 3
    redis-benchmark -p "$port" -n "$requests" -c "$clients" -P "$pipeline" -q "$@" 2>/dev/null | tr '\r' '\n' \
        | grep -oE "[0-9.]+ requests per second" | tail -1 | awk '{ print $1 }'
}
row() {  # label clients pipeline redis-benchmark-arguments…
    local label=$1 clients=$2 pipeline=$3; shift 3
    local r s
    r=$(rate "$redis_port" "$clients" "$pipeline" "$@"); s=$(rate "$shmkv_port" "$clients" "$pipeline" "$@")
    awk -v l="$label" -v c="$clients" -v p="$pipeline" -v r="$r" -v s="$s" \
        'BEGIN { printf "%-12s %7d %3d  %12.0f %12.0f %7.2f\n", l, c, p, r, s, (r > 0 ? s / r : 0) }'
}
want() { [[ " ${SECTIONS:-strings writes reads localstore bytes} " == *" $1 "* ]]; }
header() { echo "== $1"; printf "%-12s %7s %3s  %12s %12s %7s\n" op clients P "redis req/s" "shmkv req/s" ratio; }
echo "redis-server $(redis-server --version | sed -E 's/.*v=([^ ]+).*/\1/') (no persistence) vs shmkvd (volatile), $requests requests, $(nproc) cores, $(date -u +%F)"
if want strings; then
    header "GET and SET, no collections yet"
    for clients in 1 50; do for t in get set; do row "$(echo $t | tr a-z A-Z)" "$clients" 1 -t "$t" -r 100000 -d 100; done; done
fi
if want writes; then
    header "collection writes (redis-benchmark's own tests)"
    for clients in 1 50; do for t in hset sadd spop zadd zpopmin; do row "$(echo $t | tr a-z A-Z)" "$clients" 1 -t "$t"; done; done
fi
# 1,000 of each, named as __rand_int__ names them (12 digits).
python3 - "$dir/load.resp" <<'PY'
import sys
def cmd(*a):
    return b"*%d\r\n" % len(a) + b"".join(b"$%d\r\n%s\r\n" % (len(x), x) for x in (s.encode() if isinstance(s, str) else s for s in a))
with open(sys.argv[1], "wb") as f:
    for i in range(1000):
        f.write(cmd("HSET", "h:%012d" % i, *[x for j in range(10) for x in ("f%d" % j, "value-%016d" % j)]))
        f.write(cmd("SADD", "s:%012d" % i, *["m%d" % j for j in range(100)]))
        f.write(cmd("ZADD", "z:%012d" % i, *[x for j in range(100) for x in (str(j), "m%d" % j)]))
PY
for port in "$redis_port" "$shmkv_port"; do redis-cli -p "$port" --pipe < "$dir/load.resp" >/dev/null; done
if want reads; then
    header "collection reads (1,000 keys of each)"
    for clients in 1 50; do
        row HGET "$clients" 1 -r 1000 HGET "h:__rand_int__" f5
        row SISMEMBER "$clients" 1 -r 1000 SISMEMBER "s:__rand_int__" m50
        row ZSCORE "$clients" 1 -r 1000 ZSCORE "z:__rand_int__" m50
        row "ZRANGE 0 9" "$clients" 1 -r 1000 ZRANGE "z:__rand_int__" 0 9
    done
fi
if want strings; then
    header "GET and SET, with collections"
    for clients in 1 50; do for t in get set; do row "$(echo $t | tr a-z A-Z)" "$clients" 1 -t "$t" -r 100000 -d 100; done; done
fi
want localstore && echo "== LocalStore typed reads (one process, no socket) against one client's round trips to redis-server"
want localstore && { hget=$(rate "$redis_port" 1 1 -r 1000 HGET "h:__rand_int__" f5); zrange=$(rate "$redis_port" 1 1 -r 1000 ZRANGE "z:__rand_int__" 0 9)
./.build/release/shmkv-shm-bench collections "$dir/data" --keys 1000 --reads 1000000 | while read -r line; do
    echo "$line"
    perSecond=$(echo "$line" | sed -E 's/.*: ([0-9]+) reads\/s.*/\1/')
    case "$line" in
        *HGET*) awk -v l="$perSecond" -v r="$hget" 'BEGIN { printf "  redis-server HGET, 1 client: %.0f req/s; LocalStore / Redis: %.1fx\n", r, l / r }' ;;
        *ZRANGE*) awk -v l="$perSecond" -v r="$zrange" 'BEGIN { printf "  redis-server ZRANGE 0 9, 1 client: %.0f req/s; LocalStore / Redis: %.1fx\n", r, l / r }' ;;
    esac
done; }
want bytes || exit 0
echo "== bytes per element"
# Pages in use: the file's high-water mark less the free list (pages freed by earlier deletes are reused).
pages() { mdb_stat -ef "$dir/data" | awk '/Number of pages used/ { u = $5 } /Free pages:/ { f = $3 } END { print u - f }'; }
page_size=$(mdb_stat -e "$dir/data" | awk '/Page size/ { print $3 }')
python3 - "$dir/hashes.resp" "$dir/zset.resp" <<'PY'
import sys
def cmd(*a):
    return b"*%d\r\n" % len(a) + b"".join(b"$%d\r\n%s\r\n" % (len(x), x) for x in (s.encode() for s in a))
with open(sys.argv[1], "wb") as f:
    for i in range(1000):
        f.write(cmd("HSET", "small:%d" % i, *[x for j in range(10) for x in ("field%d" % j, "value%d" % j)]))
with open(sys.argv[2], "wb") as f:
    for b in range(1000):
        f.write(cmd("ZADD", "big", *[x for j in range(1000) for x in (str(b * 1000 + j), "member:%d" % (b * 1000 + j))]))
PY
measure() {  # label file elements key-pattern
    local before after redis_bytes
    before=$(pages)
    for port in "$redis_port" "$shmkv_port"; do redis-cli -p "$port" --pipe < "$2" >/dev/null; done
    after=$(pages)
    redis_bytes=$(redis-cli -p "$redis_port" --scan --pattern "$4" | while read -r k; do redis-cli -p "$redis_port" MEMORY USAGE "$k" SAMPLES 0; done \
        | awk '{ s += $1 } END { print s }')
    awk -v l="$1" -v n="$3" -v r="$redis_bytes" -v s="$(( (after - before) * page_size ))" \
        'BEGIN { printf "%-28s redis %6.1f B/element   shmkvd %6.1f B/element   ratio %.2f\n", l, r / n, s / n, (r > 0 ? s / r : 0) }'
}
measure "1,000 hashes of 10 fields" "$dir/hashes.resp" 10000 "small:*"
measure "a sorted set of 1,000,000" "$dir/zset.resp" 1000000 "big"
